import assert from "node:assert/strict";
import { tf } from "../lib/deps.ts";
import { ensureTf } from "../lib/backends/tf_setup.ts";
import { tfjsBackend } from "../lib/backends/tfjs.ts";
import { initParams } from "../lib/tree/params.ts";
import { DEFAULT_TREE_CONFIG, type LossKind, type TreeConfig } from "../lib/tree/types.ts";
import { Rng } from "../lib/util/random.ts";
import {
  assertClose,
  finiteDifferences,
  type Params64,
  randomBatch,
  referenceObjective,
  TOL,
} from "./_reference.ts";

await ensureTf();

function config(
  depth: number,
  features: number,
  classes: number,
  extra: Partial<TreeConfig> = {},
): TreeConfig {
  return { ...DEFAULT_TREE_CONFIG, depth, features, classes, ...extra };
}

Deno.test("forward() path probabilities sum to 1 over leaves and match the float64 reference", () => {
  const cfg = config(4, 30, 5, { invTemp: 1 });
  const params = initParams(cfg, 3);
  const tree = tfjsBackend.createTree(cfg, params);
  const { x, t } = randomBatch(new Rng(1), 7, 30, 5, false);
  const f = tree.forward(x);
  for (let i = 0; i < 7; i++) {
    let s = 0;
    for (let l = 0; l < 16; l++) s += f.leaf[i * 16 + l];
    assert.ok(Math.abs(s - 1) < 1e-5, `row ${i} sums to ${s}`);
  }
  const p64: Params64 = {
    w: Float64Array.from(params.w),
    b: Float64Array.from(params.b),
    phi: Float64Array.from(params.phi),
    beta: params.beta,
  };
  const ref = referenceObjective(cfg, p64, tree.getPenaltyState(), x, t);
  assertClose("leaf", f.leaf, ref.leaf, TOL.forward);
  assertClose("inner", f.inner, ref.inner, TOL.forward);
  tree.dispose();
});

Deno.test("the loss and penalty match a hand-computed depth-1 case", () => {
  for (
    const [loss, expected] of [["expected", 0.5 * (Math.log(2) - Math.log(0.75))], [
      "mixture",
      -Math.log(0.625),
    ]] as const
  ) {
    const cfg = config(1, 1, 2, { invTemp: 1, loss });
    const tree = tfjsBackend.createTree(cfg, {
      w: new Float32Array([1]),
      b: new Float32Array([0]),
      phi: new Float32Array([0, 0, Math.log(3), 0]),
      beta: 1,
    });
    const g = tree.gradients(new Float32Array([0]), new Float32Array([1, 0]));
    assert.ok(Math.abs(g.loss - expected) < 1e-6, `${loss} loss ${g.loss} vs ${expected}`);
    // alpha = 0.5 at the root: C = -10 * (0.5 log 0.5 + 0.5 log 0.5) = 10 log 2.
    assert.ok(Math.abs(g.penalty - 10 * Math.log(2)) < 1e-5, `penalty ${g.penalty}`);
    tree.dispose();
  }
});

for (const loss of ["expected", "mixture"] as LossKind[]) {
  for (const learnBeta of [false, true]) {
    Deno.test(`gradients() match finite differences (${loss} loss, ${learnBeta ? "learned" : "fixed"} beta)`, () => {
      const cfg = config(3, 12, 4, { invTemp: 0.7, learnBeta, loss, emaWindow: 5 });
      const params = initParams(cfg, 11);
      // Larger filters so that routing is far from uniform.
      for (let i = 0; i < params.w.length; i++) params.w[i] *= 8;
      const rng = new Rng(5);
      const tree = tfjsBackend.createTree(cfg, params);
      // One step first, so the moving averages are non-trivial (lambda < 1).
      const first = randomBatch(rng, 5, 12, 4, true);
      tree.trainStep(first.x, first.t);
      const { x, t } = randomBatch(rng, 3, 12, 4, true);
      const now = tree.getParams();
      const state = tree.getPenaltyState();
      assert.equal(state.steps, 1);
      const g = tree.gradients(x, t);
      const p64: Params64 = {
        w: Float64Array.from(now.w),
        b: Float64Array.from(now.b),
        phi: Float64Array.from(now.phi),
        beta: now.beta,
      };
      const fd = finiteDifferences(cfg, p64, state, x, t);
      const ref = referenceObjective(cfg, p64, state, x, t);
      assert.ok(Math.abs(g.loss - ref.loss) < 1e-4, `loss ${g.loss} vs ${ref.loss}`);
      assert.ok(Math.abs(g.penalty - ref.penalty) < 1e-4, `penalty ${g.penalty} vs ${ref.penalty}`);
      assertClose("dw", g.w, fd.w, TOL.gradient);
      assertClose("db", g.b, fd.b, TOL.gradient);
      assertClose("dphi", g.phi, fd.phi, TOL.gradient);
      assertClose("dbeta", [g.beta], [fd.beta], TOL.gradient);
      tree.dispose();
    });
  }
}

Deno.test("trainSamples() handles a short last batch and updates the penalty state", () => {
  const cfg = config(2, 10, 3, { invTemp: 1 });
  const tree = tfjsBackend.createTree(cfg, initParams(cfg, 1));
  const { x, t } = randomBatch(new Rng(2), 11, 10, 3, false);
  tree.setTrainData(x, t);
  const r = tree.trainSamples(new Rng(3).permutation(11), 4); // batches 4, 4, 3
  assert.equal(r.samples, 11);
  assert.ok(Number.isFinite(r.loss) && r.loss > 0);
  assert.equal(tree.getPenaltyState().steps, 3);
  tree.dispose();
});

Deno.test("training an epoch on the tfjs backend leaks no tensors", () => {
  const cfg = config(3, 10, 3, { invTemp: 1 });
  const tree = tfjsBackend.createTree(cfg, initParams(cfg, 1));
  const { x, t, labels } = randomBatch(new Rng(2), 40, 10, 3, false);
  tree.setTrainData(x, t);
  tree.trainSamples(new Rng(3).permutation(40), 8);
  const before = tf.memory().numTensors;
  tree.trainSamples(new Rng(4).permutation(40), 8);
  tree.evaluate(x, labels);
  tree.gradients(x.subarray(0, 20), t.subarray(0, 6));
  assert.equal(tf.memory().numTensors, before);
  tree.dispose();
});

Deno.test("a tfjs tree learns a separable problem well above chance", () => {
  const cfg = config(2, 2, 2, { invTemp: 1, learningRate: 0.05 });
  const tree = tfjsBackend.createTree(cfg, initParams(cfg, 4));
  const rng = new Rng(9);
  const n = 200;
  const x = new Float32Array(2 * n), t = new Float32Array(2 * n), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = rng.next();
    x[2 * i + 1] = rng.next();
    y[i] = x[2 * i] > x[2 * i + 1] ? 1 : 0;
    t[2 * i + y[i]] = 1;
  }
  tree.setTrainData(x, t);
  for (let e = 0; e < 15; e++) tree.trainSamples(rng.permutation(n), 16);
  const acc = tree.evaluate(x, y).accuracy;
  assert.ok(acc > 0.85, `accuracy ${acc}`);
  tree.dispose();
});
