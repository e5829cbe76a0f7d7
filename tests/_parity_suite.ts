/**
 * The parity suite shared by tests/backends_native_test.ts (the CPU library) and
 * tests/backends_cuda_test.ts (the CUDA library): a native backend against the tfjs
 * reference backend and the float64 transcription in tests/_reference.ts, on seeded random
 * data. Tolerances come from `TOL` in tests/_reference.ts (one place for all of them).
 *
 * This module registers no tests itself; the two test files call `defineParitySuite`.
 */
import assert from "node:assert/strict";
import { ensureTf } from "../lib/backends/tf_setup.ts";
import { tfjsBackend } from "../lib/backends/tfjs.ts";
import type { TreeBackend, TreeEngine } from "../lib/backends/types.ts";
import { initParams } from "../lib/tree/params.ts";
import {
  DEFAULT_TREE_CONFIG,
  type LossKind,
  type PenaltyState,
  type TreeConfig,
  type TreeParams,
  treeSizes,
} from "../lib/tree/types.ts";
import { Status } from "../ffi/bindings.ts";
import { NativeError } from "../ffi/errors.ts";
import { Rng } from "../lib/util/random.ts";
import {
  assertClose,
  finiteDifferences,
  type Params64,
  randomBatch,
  referenceObjective,
  regressionBatch,
  TOL,
} from "./_reference.ts";

/** Features and classes of the random problems: small, so that depth 8 stays quick. */
const F = 40;
const K = 5;

/** A configuration for the suite: a window small enough that the moving averages matter. */
export function suiteConfig(
  depth: number,
  loss: LossKind,
  learnBeta: boolean,
  extra: Partial<TreeConfig> = {},
): TreeConfig {
  return {
    ...DEFAULT_TREE_CONFIG,
    depth,
    features: F,
    classes: K,
    invTemp: 1.5,
    learnBeta,
    loss,
    emaWindow: 10,
    ...extra,
  };
}

/** A penalty state part-way through training (`steps > 0`), seeded. */
export function warmState(depth: number, seed: number): PenaltyState {
  const { inner } = treeSizes(depth);
  const rng = new Rng(seed);
  const num = new Float32Array(inner), den = new Float32Array(inner);
  for (let n = 0; n < inner; n++) {
    den[n] = 2 ** -Math.floor(Math.log2(n + 1)) * (0.5 + rng.next());
    num[n] = den[n] * (0.1 + 0.8 * rng.next());
  }
  return { num, den, steps: 5 };
}

function to64(p: TreeParams): Params64 {
  return {
    w: Float64Array.from(p.w),
    b: Float64Array.from(p.b),
    phi: Float64Array.from(p.phi),
    beta: p.beta,
  };
}

function caseName(cfg: TreeConfig, batch: number): string {
  return `depth ${cfg.depth}, batch ${batch}, ${
    cfg.task === "regression" ? "regression " : ""
  }${cfg.loss} loss, ${cfg.learnBeta ? "learned" : "fixed"} beta`;
}

function both<T>(
  backend: TreeBackend,
  cfg: TreeConfig,
  params: TreeParams,
  fn: (native: TreeEngine, ref: TreeEngine) => T,
): T {
  const native = backend.createTree(cfg, params);
  const ref = tfjsBackend.createTree(cfg, params);
  try {
    return fn(native, ref);
  } finally {
    native.dispose();
    ref.dispose();
  }
}

const DEPTHS = [1, 4, 8];
const BATCHES = [1, 7, 33];
const LOSSES: LossKind[] = ["expected", "mixture"];
/** Every loss of both tasks; regression trees have one target (`K = 1`). */
const CASES: { loss: LossKind; extra: Partial<TreeConfig> }[] = [
  ...LOSSES.map((loss) => ({ loss, extra: {} })),
  ...LOSSES.map((loss) => ({ loss, extra: { task: "regression" as const, classes: 1 } })),
];

/** Seeded data for a configuration: soft or one-hot targets, or values for regression. */
function batchFor(rng: Rng, cfg: TreeConfig, b: number): { x: Float32Array; t: Float32Array } {
  return cfg.task === "regression"
    ? regressionBatch(rng, b, cfg.features, cfg.classes)
    : randomBatch(rng, b, cfg.features, cfg.classes, cfg.loss === "mixture");
}

/**
 * Register the parity suite for one native backend.
 * @param name `"native"` or `"cuda"`, used in test names.
 * @param load Loads the backend under test (called once, lazily).
 * @param ignore Ignore every test (no GPU, for example).
 */
export function defineParitySuite(
  name: string,
  load: () => TreeBackend | Promise<TreeBackend>,
  ignore: boolean,
): void {
  let cached: TreeBackend | null = null;
  const backend = async () => {
    await ensureTf();
    return cached ??= await load();
  };

  Deno.test({
    name: `${name}: forward() matches tfjs and the float64 reference at depths 1, 4 and 8`,
    ignore,
    fn: async () => {
      const be = await backend();
      for (const depth of DEPTHS) {
        const cfg = suiteConfig(depth, "expected", false);
        const params = initParams(cfg, 10 + depth);
        const { x, t } = randomBatch(new Rng(depth), 33, F, K, true);
        both(be, cfg, params, (native, ref) => {
          const a = native.forward(x), b = ref.forward(x);
          const where = `${name} depth ${depth}`;
          assertClose(`${where} inner`, a.inner, b.inner, TOL.forward);
          assertClose(`${where} leaf`, a.leaf, b.leaf, TOL.forward);
          assertClose(`${where} mixture`, a.mixture, b.mixture, TOL.forward);
          const r = referenceObjective(cfg, to64(params), native.getPenaltyState(), x, t);
          assertClose(`${where} inner vs float64`, a.inner, r.inner, TOL.forward);
          assertClose(`${where} leaf vs float64`, a.leaf, r.leaf, TOL.forward);
          // Predictions can only differ on near-ties; these random rows have none.
          assert.deepEqual(a.maxLeaf, b.maxLeaf, `${where} max leaf`);
          assert.deepEqual(a.predMaxLeaf, b.predMaxLeaf, `${where} max-leaf predictions`);
          assert.deepEqual(a.predMixture, b.predMixture, `${where} mixture predictions`);
        });
      }
    },
  });

  Deno.test({
    name: `${name}: a regression tree's forward() gives the leaves' values, as tfjs does`,
    ignore,
    fn: async () => {
      const be = await backend();
      for (const depth of DEPTHS) {
        const cfg = suiteConfig(depth, "expected", false, { task: "regression", classes: 1 });
        const params = initParams(cfg, 20 + depth);
        const { x, t } = regressionBatch(new Rng(depth), 33, F, 1);
        both(be, cfg, params, (native, ref) => {
          const a = native.forward(x), b = ref.forward(x);
          const where = `${name} regression depth ${depth}`;
          assertClose(`${where} leaf`, a.leaf, b.leaf, TOL.forward);
          assertClose(`${where} value`, a.mixture, b.mixture, TOL.forward);
          const r = referenceObjective(cfg, to64(params), native.getPenaltyState(), x, t);
          const { leaves: L } = treeSizes(depth);
          const y = new Float64Array(33);
          for (let i = 0; i < 33; i++) {
            for (let l = 0; l < L; l++) y[i] += r.leaf[i * L + l] * params.phi[l];
          }
          assertClose(`${where} value vs float64`, a.mixture, y, TOL.forward);
          assert.deepEqual(a.maxLeaf, b.maxLeaf, `${where} max leaf`);
          assert.deepEqual(a.predMaxLeaf, new Int32Array(33));
          assert.throws(() => native.evaluate(x, new Int32Array(33)), /regression/);
          assert.throws(() => ref.evaluate(x, new Int32Array(33)), /regression/);
        });
      }
    },
  });

  Deno.test({
    name: `${name}: gradients() match tfjs for every depth, odd batch, loss and beta mode`,
    ignore,
    fn: async () => {
      const be = await backend();
      let seed = 100;
      for (const depth of DEPTHS) {
        for (const batch of BATCHES) {
          for (const { loss, extra } of CASES) {
            for (const learnBeta of [false, true]) {
              const cfg = suiteConfig(depth, loss, learnBeta, extra);
              const params = initParams(cfg, seed++);
              const { x, t } = batchFor(new Rng(seed++), cfg, batch);
              for (const state of [null, warmState(depth, seed++)]) {
                both(be, cfg, params, (native, ref) => {
                  if (state) native.setPenaltyState(state), ref.setPenaltyState(state);
                  const where = `${name} ${caseName(cfg, batch)}, ${
                    state ? "warm" : "fresh"
                  } penalty`;
                  const a = native.gradients(x, t), b = ref.gradients(x, t);
                  assertClose(`${where} loss`, [a.loss], [b.loss], TOL.forward);
                  assertClose(`${where} penalty`, [a.penalty], [b.penalty], TOL.forward);
                  assertClose(`${where} dw`, a.w, b.w, TOL.gradient);
                  assertClose(`${where} db`, a.b, b.b, TOL.gradient);
                  assertClose(`${where} dphi`, a.phi, b.phi, TOL.gradient);
                  assertClose(`${where} dbeta`, [a.beta], [b.beta], TOL.gradient);
                  assert.deepEqual(native.getPenaltyState(), ref.getPenaltyState());
                });
              }
            }
          }
        }
      }
    },
  });

  Deno.test({
    name: `${name}: gradients() match finite differences of the float64 objective`,
    ignore,
    fn: async () => {
      const be = await backend();
      for (const depth of [1, 3]) {
        for (const { loss, extra } of CASES) {
          // regression with two targets here, so that the sums over targets are checked too
          const cfg = suiteConfig(depth, loss, true, {
            features: 12,
            ...extra,
            classes: extra.task ? 2 : 3,
          });
          const params = initParams(cfg, 7 + depth);
          const { x, t } = cfg.task === "regression"
            ? regressionBatch(new Rng(depth), 5, 12, 2)
            : randomBatch(new Rng(depth), 5, 12, 3, true);
          const state = warmState(depth, 3);
          const tree = be.createTree(cfg, params);
          tree.setPenaltyState(state);
          const g = tree.gradients(x, t);
          tree.dispose();
          const fd = finiteDifferences(cfg, to64(params), state, x, t);
          const where = `${name} depth ${depth} ${extra.task ?? ""} ${loss}`;
          assertClose(`${where} dw vs finite differences`, g.w, fd.w, TOL.gradient);
          assertClose(`${where} db vs finite differences`, g.b, fd.b, TOL.gradient);
          assertClose(`${where} dphi vs finite differences`, g.phi, fd.phi, TOL.gradient);
          assertClose(`${where} dbeta vs finite differences`, [g.beta], [fd.beta], TOL.gradient);
        }
      }
    },
  });

  Deno.test({
    name: `${name}: the parameters after 50 Adam steps match tfjs`,
    ignore,
    fn: async () => {
      const be = await backend();
      for (const depth of DEPTHS) {
        for (const { loss, extra } of CASES) {
          for (const learnBeta of [false, true]) {
            const cfg = suiteConfig(depth, loss, learnBeta, extra);
            const params = initParams(cfg, 40 + depth);
            const data = batchFor(new Rng(depth + 50), cfg, 60);
            // 50 batches of 7 rows, the last one short (3 rows), indices repeating.
            const order = new Rng(depth).permutation(60 * 6).map((i) => i % 60).subarray(0, 346);
            both(be, cfg, params, (native, ref) => {
              native.setTrainData(data.x, data.t);
              ref.setTrainData(data.x, data.t);
              const a = native.trainSamples(order, 7), b = ref.trainSamples(order, 7);
              const where = `${name} ${caseName(cfg, 7)} after 50 steps`;
              assert.equal(a.samples, b.samples);
              assertClose(`${where} mean loss`, [a.loss], [b.loss], TOL.params);
              assertClose(`${where} mean penalty`, [a.penalty], [b.penalty], TOL.params);
              const pa = native.getParams(), pb = ref.getParams();
              assertClose(`${where} w`, pa.w, pb.w, TOL.params);
              assertClose(`${where} b`, pa.b, pb.b, TOL.params);
              assertClose(`${where} phi`, pa.phi, pb.phi, TOL.params);
              assertClose(`${where} beta`, [pa.beta], [pb.beta], TOL.params);
              const sa = native.getPenaltyState(), sb = ref.getPenaltyState();
              assert.equal(sa.steps, 50);
              assert.equal(sb.steps, 50);
              assertClose(`${where} penalty num`, sa.num, sb.num, TOL.params);
              assertClose(`${where} penalty den`, sa.den, sb.den, TOL.params);
            });
          }
        }
      }
    },
  });

  Deno.test({
    name: `${name}: setBeta() between steps keeps Adam's state, as tfjs does`,
    ignore,
    fn: async () => {
      const be = await backend();
      const cfg = suiteConfig(4, "expected", false);
      const params = initParams(cfg, 77);
      const data = randomBatch(new Rng(78), 40, F, K, true);
      const order = new Rng(79).permutation(40);
      both(be, cfg, params, (native, ref) => {
        for (const tree of [native, ref]) {
          tree.setTrainData(data.x, data.t);
          tree.trainSamples(order, 8);
          tree.setBeta(params.beta * 3);
          tree.trainSamples(order, 8);
        }
        const pa = native.getParams(), pb = ref.getParams();
        assert.equal(pa.beta, Math.fround(params.beta * 3));
        assert.equal(pb.beta, Math.fround(params.beta * 3));
        assertClose(`${name} w after setBeta`, pa.w, pb.w, TOL.params);
        assertClose(`${name} phi after setBeta`, pa.phi, pb.phi, TOL.params);
      });
    },
  });

  Deno.test({
    name: `${name}: trainSamples() on the resident set equals trainStep() on the same batches`,
    ignore,
    fn: async () => {
      const be = await backend();
      const cfg = suiteConfig(4, "mixture", true);
      const params = initParams(cfg, 5);
      const data = randomBatch(new Rng(9), 20, F, K, true);
      const order = new Rng(2).permutation(20);
      const a = be.createTree(cfg, params), b = be.createTree(cfg, params);
      a.setTrainData(data.x, data.t);
      const ra = a.trainSamples(order, 6);
      let lossSum = 0, penSum = 0;
      for (let i = 0; i < 20; i += 6) {
        const idx = order.subarray(i, Math.min(20, i + 6));
        const x = new Float32Array(idx.length * F), t = new Float32Array(idx.length * K);
        idx.forEach((r, j) => {
          x.set(data.x.subarray(r * F, (r + 1) * F), j * F);
          t.set(data.t.subarray(r * K, (r + 1) * K), j * K);
        });
        const r = b.trainStep(x, t);
        lossSum += r.loss * idx.length, penSum += r.penalty;
      }
      assert.ok(Math.abs(ra.loss - lossSum / 20) < 1e-6, `${ra.loss} vs ${lossSum / 20}`);
      assert.ok(Math.abs(ra.penalty - penSum / 4) < 1e-6, `${ra.penalty} vs ${penSum / 4}`);
      assert.deepEqual(a.getParams(), b.getParams());
      assert.deepEqual(a.getPenaltyState(), b.getPenaltyState());
      a.dispose(), b.dispose();
    },
  });

  Deno.test({
    name: `${name}: evaluate() agrees with forward() and with tfjs`,
    ignore,
    fn: async () => {
      const be = await backend();
      const cfg = suiteConfig(6, "expected", false);
      const params = initParams(cfg, 8);
      const { x, labels } = randomBatch(new Rng(4), 2500, F, K, false);
      both(be, cfg, params, (native, ref) => {
        const e = native.evaluate(x, labels), f = native.forward(x);
        assert.deepEqual(e.predMaxLeaf, f.predMaxLeaf);
        assert.deepEqual(e.predMixture, f.predMixture);
        const correct = labels.filter((y, i) => y === f.predMaxLeaf[i]).length;
        assert.equal(e.accuracy, correct / labels.length);
        const r = ref.evaluate(x, labels);
        assert.ok(Math.abs(e.accuracy - r.accuracy) <= 2 / labels.length);
        assert.ok(Math.abs(e.accuracyMixture - r.accuracyMixture) <= 2 / labels.length);
      });
    },
  });

  Deno.test({
    name: `${name}: results are identical for a given thread count and input`,
    ignore,
    fn: async () => {
      const be = await backend();
      const cfg = suiteConfig(8, "expected", true);
      const params = initParams(cfg, 12);
      const data = randomBatch(new Rng(13), 300, F, K, false);
      const order = new Rng(3).permutation(300);
      const run = () => {
        const tree = be.createTree(cfg, params);
        tree.setTrainData(data.x, data.t);
        const r = tree.trainSamples(order, 64);
        const p = tree.getParams();
        tree.dispose();
        return { r, p };
      };
      assert.deepEqual(run(), run());
    },
  });

  Deno.test({
    name: `${name}: a tree the library cannot make is refused with a message naming the problem`,
    ignore,
    fn: async () => {
      const be = await backend();
      const cfg = suiteConfig(2, "expected", false);
      const params = initParams(cfg, 1);
      const refused = (make: () => unknown, message: RegExp) =>
        assert.throws(make, (e: unknown) => {
          assert.ok(e instanceof NativeError, `expected a NativeError, got ${e}`);
          assert.equal(e.status, Status.ARGUMENT);
          assert.match(e.message, message);
          return true;
        });
      refused(() => be.createTree({ ...cfg, depth: 21 }, params), /Tree depth .* got 21/);
      refused(() => be.createTree({ ...cfg, emaWindow: 0 }, params), /window must be > 0/);
    },
  });
}
