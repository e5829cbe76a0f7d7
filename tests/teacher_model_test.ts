import assert from "node:assert/strict";
import { tf } from "../lib/deps.ts";
import { ensureTf } from "../lib/backends/tf_setup.ts";
import { CheckpointError } from "../lib/errors.ts";
import {
  checkFits,
  createTeacher,
  teacherAccuracy,
  teacherLogits,
  teacherPredict,
  trainTeacher,
} from "../lib/teacher/mod.ts";
import { FusedAdam } from "../lib/teacher/_adam.ts";
import { Rng } from "../lib/util/random.ts";
import { bandImages } from "./_teacher_data.ts";

const tiny = { filters: [4, 8] as [number, number], dense: 16 };

Deno.test("createTeacher() builds the seed's layers and gives K logits per image", async () => {
  await ensureTf();
  const t = createTeacher([28, 28, 1], 10, { seed: 3 });
  assert.deepEqual(
    t.model.layers.map((l) => l.getClassName()),
    ["Conv2D", "Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense", "Dropout", "Dense"],
  );
  assert.deepEqual(t.model.outputs[0].shape, [null, 10]);
  // 320 + 18496 + 1179776 + 1290 parameters, as in the seed's Keras summary.
  assert.equal(t.model.countParams(), 1199882);
  t.dispose();
});

Deno.test("the teacher takes images of other sizes and channel counts", async () => {
  const data = bandImages(5, { h: 10, w: 12, c: 3, classes: 4 });
  const t = createTeacher([10, 12, 3], 4, { ...tiny, seed: 1 });
  const logits = await teacherLogits(t, data.x, { batchSize: 2 });
  assert.equal(logits.length, 5 * 4);
  assert.ok(logits.every(Number.isFinite));
  assert.equal((await teacherPredict(t, data.x)).length, 5);
  t.dispose();
});

Deno.test("trainTeacher() lowers the loss and learns a tiny seeded set", async () => {
  const train = bandImages(96, { seed: 1 });
  const val = bandImages(40, { seed: 2 });
  const batches: number[] = [];
  const { teacher, history } = await trainTeacher(train, {
    ...tiny,
    val,
    epochs: 4,
    batchSize: 8,
    learningRate: 0.01,
    seed: 5,
    onBatch: (b) => batches.push(b.done),
  });
  assert.equal(history.length, 4);
  assert.equal(batches.length, 4 * 12);
  assert.ok(history[3].loss < history[0].loss * 0.5, `loss ${history.map((h) => h.loss)}`);
  assert.ok(history[3].valAccuracy >= 0.95, `val accuracy ${history[3].valAccuracy}`);
  assert.ok(history.every((h) => h.samplesPerSec > 0));
  assert.equal(await teacherAccuracy(teacher, val), history[3].valAccuracy);
  assert.equal(teacher.meta.source, "bands");
  assert.equal(teacher.meta.seed, 5);
  teacher.dispose();
});

Deno.test("trainTeacher() is reproducible from its seed, last short batch included", async () => {
  const train = bandImages(30, { seed: 4 });
  const run = async (seed: number) => {
    const { teacher } = await trainTeacher(train, { ...tiny, epochs: 2, batchSize: 7, seed });
    const logits = await teacherLogits(teacher, train.x);
    teacher.dispose();
    return logits;
  };
  const a = await run(9), b = await run(9), c = await run(10);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

Deno.test("training does not leak tensors", async () => {
  await ensureTf();
  const train = bandImages(40, { seed: 6 });
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const { teacher } = await trainTeacher(train, {
    ...tiny,
    val: train,
    epochs: 3,
    batchSize: 16,
    onEpoch: () => counts.push(tf.memory().numTensors),
  });
  assert.equal(counts[2], counts[1], `tensors after each epoch: ${counts}`);
  await teacherLogits(teacher, train.x);
  teacher.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("a teacher refuses data of another shape or class count", async () => {
  await ensureTf();
  const t = createTeacher([8, 8, 1], 2, tiny);
  assert.throws(() => checkFits(t, bandImages(2, { h: 9 })), CheckpointError);
  assert.throws(
    () => checkFits(t, bandImages(2, { classes: 3 })),
    (e: Error) => e instanceof CheckpointError && /2 classes.*has 3/.test(e.message),
  );
  await assert.rejects(() => trainTeacher(bandImages(4, { classes: 3 }), { teacher: t }));
  t.dispose();
});

Deno.test("trainTeacher() rejects non-image data and bad options", async () => {
  const flat = { ...bandImages(4), imageShape: null };
  await assert.rejects(() => trainTeacher(flat), TypeError);
  await assert.rejects(() => trainTeacher(bandImages(4), { batchSize: 0 }), RangeError);
  await assert.rejects(() => trainTeacher(bandImages(4), { learningRate: -1 }), RangeError);
  assert.throws(() => createTeacher([4, 4, 1], 2), RangeError);
});

Deno.test("the fused Adam takes the same steps as tf.train.adam", async () => {
  await ensureTf();
  const rng = new Rng(2);
  const init = Float32Array.from({ length: 30 }, () => rng.normal());
  const target = Float32Array.from({ length: 30 }, () => rng.normal());
  const run = (step: (v: tf.Variable, loss: () => tf.Scalar) => void) => {
    const v = tf.variable(tf.tensor2d(init, [5, 6]));
    const t = tf.tensor2d(target, [5, 6]);
    const loss = () => tf.sum(tf.pow(tf.sub(v, t), 4)) as tf.Scalar;
    for (let i = 0; i < 20; i++) step(v, loss);
    const out = v.dataSync() as Float32Array;
    tf.dispose([v, t]);
    return out;
  };
  const ref = tf.train.adam(0.05);
  const expected = run((_, loss) => tf.dispose(ref.minimize(loss, true)!));
  ref.dispose();
  const fused = new FusedAdam(0.05);
  const got = run((v, loss) => {
    const { value, grads } = tf.variableGrads(loss, [v]);
    fused.apply([v], [grads[v.name]]);
    tf.dispose([value, grads[v.name]]);
  });
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i] - expected[i]) < 1e-5, `at ${i}: ${got[i]} vs ${expected[i]}`);
  }
});
