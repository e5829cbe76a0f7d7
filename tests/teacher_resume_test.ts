/**
 * A teacher's training that survives: stopped between batches and resumed from its saved
 * state (through the state file's bytes) it ends with the same weights and history as an
 * uninterrupted one; a folder holding an unfinished training is not taken for a teacher; a
 * loss that stops being finite names the epoch and batch.
 */
import assert from "node:assert/strict";
import { TrainingDivergedError, TrainingInterruptedError } from "../lib/errors.ts";
import { createTeacher, trainTeacher, type TrainTeacherOptions } from "../lib/teacher/model.ts";
import { FusedAdam } from "../lib/teacher/_adam.ts";
import {
  decodeTeacherState,
  encodeTeacherState,
  readWeights,
  type TeacherTrainState,
} from "../lib/teacher/train_state.ts";
import { trainTeacherRun } from "../lib/teacher/train_run.ts";
import { loadOrTrainTeacher } from "../lib/teacher/load_or_train.ts";
import { RunDirectoryError } from "../lib/errors.ts";
import { tf } from "../lib/deps.ts";
import { ensureTf } from "../lib/backends/tf_setup.ts";
import { bandImages } from "./_teacher_data.ts";

await ensureTf();
const train = bandImages(60, { seed: 1 });
const val = bandImages(20, { seed: 2 });
const test = bandImages(20, { seed: 3 });
const options = {
  filters: [2, 4] as [number, number],
  dense: 8,
  epochs: 3,
  batchSize: 8,
  seed: 4,
  schedule: "cosine" as const,
};
const withVal: TrainTeacherOptions = { ...options, val };
const course = (h: { epoch: number; loss: number; valAccuracy: number }[]) =>
  h.map(({ epoch, loss, valAccuracy }) => ({ epoch, loss, valAccuracy }));

/** Through the bytes of the state file, as a resume reads it. */
function viaFile(state: TeacherTrainState, names: string[]): TeacherTrainState {
  const config = {
    inputShape: [8, 8, 1],
    classes: 2,
    filters: [2, 4],
    dense: 8,
    dropout: [0.25, 0.5],
  };
  return decodeTeacherState(
    encodeTeacherState({ config: config as never, meta: {}, names, train: state }),
    "teacher-state.bin",
  ).train;
}

Deno.test("FusedAdam getState/setState round-trips the moments and step", () => {
  const v = tf.variable(tf.tensor1d([1, 2, 3]));
  const a = new FusedAdam(0.1);
  a.apply([v], [tf.tensor1d([0.5, -1, 2])]);
  const s = a.getState([v]);
  assert.equal(s.step, 1);
  const b = new FusedAdam(0.1);
  b.setState([v], s);
  assert.deepEqual(b.getState([v]), s);
  assert.throws(() => b.setState([v], { ...s, m: [] }), RangeError);
  v.dispose();
});

Deno.test("a teacher's training stopped mid-epoch and resumed from its state ends like the uninterrupted one", async () => {
  const whole = await trainTeacher(train, withVal);
  const want = {
    weights: readWeights(whole.teacher.model.trainableWeights.map((w) => w.read() as tf.Variable)),
    history: course(whole.history),
  };
  whole.teacher.dispose();

  const stop = new AbortController();
  let batches = 0;
  let saved: TeacherTrainState | undefined;
  const states: string[] = [];
  const first = createTeacher([8, 8, 1], 2, { ...options, seed: 4 });
  const names = first.model.trainableWeights.map((w) => w.name);
  await assert.rejects(
    trainTeacher(train, {
      ...withVal,
      teacher: first,
      signal: stop.signal,
      onBatch: () => ++batches === 11 && stop.abort("test"), // epoch 2, batch 3 of 8
      onState: (s) => {
        saved = s;
        states.push(`${s.reason} ${s.epoch}/${s.done}`);
      },
    }),
    (e: unknown) =>
      e instanceof TrainingInterruptedError && e.at.epoch === 2 && e.at.batch === 3 &&
      e.at.batches === 8 && e.reason === "test",
  );
  assert.deepEqual(states, ["epoch 2/0", "interrupted 2/24"]);
  first.dispose();
  const again = await trainTeacher(train, { ...withVal, resume: viaFile(saved!, names) });
  const got = readWeights(again.teacher.model.trainableWeights.map((w) => w.read() as tf.Variable));
  assert.deepEqual(course(again.history), want.history);
  assert.deepEqual(got, want.weights);
  again.teacher.dispose();
});

Deno.test("an interrupted teacher folder holds the best teacher and its state; distill will not take it; --resume finishes it", async () => {
  const dir = await Deno.makeTempDir();
  const stop = new AbortController();
  await assert.rejects(
    trainTeacherRun({ train, val, test }, {
      ...options,
      out: dir,
      signal: stop.signal,
      onEpoch: (e) => e.epoch === 2 && stop.abort("SIGINT"),
    }),
    (e: unknown) => e instanceof TrainingInterruptedError && e.out === dir && e.at.epoch === 2,
  );
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(files, ["model.json", "teacher-state.bin", "weights.bin"]);
  const model = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
  assert.equal(model.userDefinedMetadata.softtree.meta.inProgress, true);
  await assert.rejects(
    loadOrTrainTeacher(dir, { train, val, test }),
    (e: unknown) => e instanceof RunDirectoryError && /unfinished training/.test(e.message),
  );
  await assert.rejects(
    trainTeacherRun({ train, val, test }, { ...options, out: dir }),
    (e: unknown) => e instanceof RunDirectoryError && /interrupted training/.test(e.message),
  );
  const done = await trainTeacherRun({ train, val, test }, { ...options, out: dir, resume: true });
  assert.equal(done.resumed, true);
  assert.equal(done.history.length, 3);
  done.teacher.dispose();
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
    "model.json",
    "weights.bin",
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a teacher whose loss becomes NaN stops at the epoch and batch", async () => {
  await assert.rejects(
    trainTeacher(train, { ...options, epochs: 1, learningRate: 1e30 }),
    (e: unknown) =>
      e instanceof TrainingDivergedError && e.at.epoch === 1 && e.at.batches === 8 &&
      /became NaN/.test(e.message) && /lower learning rate/.test(e.message),
  );
});
