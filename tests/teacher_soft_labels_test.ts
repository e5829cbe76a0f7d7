import assert from "node:assert/strict";
import { tf } from "../lib/deps.ts";
import { ensureTf } from "../lib/backends/tf_setup.ts";
import {
  type CacheEvent,
  createTeacher,
  softLabels,
  softLabelStats,
  softmaxT,
  teacherFingerprint,
  teacherLogits,
} from "../lib/teacher/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { bandImages } from "./_teacher_data.ts";

const tiny = { filters: [4, 8] as [number, number], dense: 16 };

function randomLogits(n: number, k: number, scale: number): Float32Array {
  const rng = new Rng(3);
  return Float32Array.from({ length: n * k }, () => scale * rng.normal());
}

function rowSums(p: Float32Array, k: number): number[] {
  const sums: number[] = [];
  for (let r = 0; r < p.length; r += k) sums.push(p.subarray(r, r + k).reduce((a, b) => a + b, 0));
  return sums;
}

Deno.test("softmaxT() at temperature 1 equals TensorFlow.js's softmax", async () => {
  await ensureTf();
  const logits = randomLogits(20, 10, 5);
  const expected = tf.tidy(() => tf.softmax(tf.tensor2d(logits, [20, 10])).dataSync());
  const p = softmaxT(logits, 10, 1);
  for (let i = 0; i < p.length; i++) assert.ok(Math.abs(p[i] - expected[i]) < 1e-6, `at ${i}`);
  assert.deepEqual(softmaxT(logits, 10), p);
});

Deno.test("softmaxT() rows sum to 1 at every temperature, even for huge logits", () => {
  const logits = randomLogits(50, 7, 300);
  for (const t of [0.05, 0.5, 1, 2, 20, 1e6]) {
    const p = softmaxT(logits, 7, t);
    assert.ok(p.every((v) => Number.isFinite(v) && v >= 0 && v <= 1), `T=${t}`);
    for (const s of rowSums(p, 7)) assert.ok(Math.abs(s - 1) < 1e-5, `T=${t}: row sums to ${s}`);
  }
});

Deno.test("softmaxT() tends to uniform as the temperature grows, and to one-hot as it shrinks", () => {
  const logits = randomLogits(30, 10, 3);
  const hot = softmaxT(logits, 10, 1e5);
  assert.ok(hot.every((v) => Math.abs(v - 0.1) < 1e-4));
  let entropyPrev = -1;
  for (const t of [0.5, 1, 2, 4, 8]) {
    const p = softmaxT(logits, 10, t);
    const entropy = -p.reduce((a, v) => a + (v > 0 ? v * Math.log(v) : 0), 0);
    assert.ok(entropy > entropyPrev, `entropy grows with the temperature (T=${t})`);
    entropyPrev = entropy;
  }
  const cold = softmaxT(logits, 10, 1e-4);
  for (let r = 0; r < 30; r++) assert.ok(Math.max(...cold.subarray(r * 10, r * 10 + 10)) > 0.999);
  // Temperature keeps the order of the classes.
  const p1 = softmaxT(logits, 10, 1), p3 = softmaxT(logits, 10, 3);
  for (let i = 0; i < 10; i++) {
    for (let j = 0; j < 10; j++) assert.equal(p1[i] < p1[j], p3[i] < p3[j]);
  }
});

Deno.test("softmaxT() and softLabels() reject a temperature that is not positive", async () => {
  assert.throws(() => softmaxT(new Float32Array(4), 2, 0), RangeError);
  assert.throws(() => softmaxT(new Float32Array(4), 2, -1), RangeError);
  assert.throws(() => softmaxT(new Float32Array(5), 2, 1), RangeError);
  await ensureTf();
  const t = createTeacher([8, 8, 1], 2, tiny);
  await assert.rejects(() => softLabels(t, bandImages(2).x, { temperature: NaN }), RangeError);
  t.dispose();
});

Deno.test("softLabels() equals softmax(logits / T) of the teacher", async () => {
  await ensureTf();
  const t = createTeacher([8, 8, 1], 2, { ...tiny, seed: 4 });
  const x = bandImages(9).x;
  const logits = await teacherLogits(t, x);
  assert.deepEqual(
    await softLabels(t, x, { temperature: 2.5, batchSize: 4 }),
    softmaxT(logits, 2, 2.5),
  );
  t.dispose();
});

Deno.test("softLabels() caches the logits, and a changed teacher or other data misses", async () => {
  await ensureTf();
  const cacheDir = await Deno.makeTempDir();
  const t = createTeacher([8, 8, 1], 2, { ...tiny, seed: 5 });
  const x = bandImages(12).x;
  const events: CacheEvent[] = [];
  const onCache = (e: CacheEvent) => events.push(e);

  const first = await softLabels(t, x, { cacheDir, onCache });
  const second = await softLabels(t, x, { cacheDir, onCache });
  assert.deepEqual(second, first);
  const hotter = await softLabels(t, x, { cacheDir, onCache, temperature: 4 });
  assert.deepEqual(events.map((e) => e.hit), [false, true, true]);
  assert.equal(new Set(events.map((e) => e.file)).size, 1);
  assert.deepEqual(hotter, softmaxT(await teacherLogits(t, x), 2, 4));

  const file = events[0].file;
  assert.ok(file.startsWith(cacheDir));
  // Other data: another entry.
  await softLabels(t, bandImages(12, { seed: 9 }).x, { cacheDir, onCache });
  assert.equal(events[3].hit, false);
  assert.notEqual(events[3].file, file);

  // Change one weight: the fingerprint and the entry change.
  const before = await teacherFingerprint(t);
  const layer = t.model.getLayer("logits");
  const [kernel, bias] = layer.getWeights().map((w) => w.clone());
  layer.setWeights([kernel, tf.add(bias, tf.tensor1d([0, 1e-3]))]);
  assert.notEqual(await teacherFingerprint(t), before);
  const changed = await softLabels(t, x, { cacheDir, onCache });
  assert.equal(events[4].hit, false);
  assert.notEqual(events[4].file, file);
  assert.notDeepEqual(changed, first);

  // A corrupt entry is recomputed, not an error.
  await Deno.writeFile(file, new Uint8Array([1, 2, 3]));
  layer.setWeights([kernel, bias]);
  assert.deepEqual(await softLabels(t, x, { cacheDir, onCache }), first);
  assert.deepEqual(events.slice(5).map((e) => [e.hit, e.file]), [[false, file]]);
  tf.dispose([kernel, bias]);
  t.dispose();
  await Deno.remove(cacheDir, { recursive: true });
});

Deno.test("softLabelStats() measures confidence, entropy and agreement with the labels", () => {
  // Row 0: one-hot on its label; row 1: uniform; row 2: 0.995 on a wrong class.
  const t = new Float32Array([1, 0, 0, 1 / 3, 1 / 3, 1 / 3, 0.005, 0.995, 0]);
  const s = softLabelStats(t, new Int32Array([0, 2, 0]), 3);
  assert.equal(s.samples, 3);
  assert.ok(Math.abs(s.meanTopProbability - (1 + 1 / 3 + 0.995) / 3) < 1e-6);
  const h2 = -(0.005 * Math.log(0.005) + 0.995 * Math.log(0.995));
  assert.ok(Math.abs(s.meanEntropy - (0 + Math.log(3) + h2) / 3) < 1e-6);
  assert.equal(s.nearlyOneHot, 2 / 3);
  // Row 1 ties: the first largest (class 0) is the teacher's choice, not its label 2.
  assert.equal(s.agreement, 1 / 3);
  assert.throws(() => softLabelStats(t, new Int32Array(2), 3), RangeError);
});
