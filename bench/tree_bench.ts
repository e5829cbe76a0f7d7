/**
 * Training and evaluation throughput of the tree backends on MNIST, in one run:
 * native (and cuda, when it loads) against tfjs, with the ratios.
 *
 *   deno run -A bench/tree_bench.ts [--backend native|cuda] [--seconds 2] [--full]
 *
 * `--full` also times the seed's whole recipe on the native backend: 40 epochs of depth 4,
 * batch 4 on the 50,000 training images (the target is under 60 s).
 *
 * Back-of-envelope work per training sample (MNIST: F = 784, ~150 non-zero pixels, K = 10):
 * the sparse forward x.w is 2 * 150 * I FLOPs, the w-gradient the same again; the tree,
 * loss and leaf gradients add ~10 * (I + L K); Adam costs ~12 * I * F per step, i.e.
 * 12 I F / B per sample.
 * - depth 4, batch 4 (I = 15):     ~9 kFLOP + Adam ~35 kFLOP  -> Adam-bound, ~45 kFLOP
 * - depth 8, batch 64 (I = 255):   ~150 kFLOP + ~50 k tree/leaves + Adam ~37 k -> ~240 kFLOP
 * - depth 10, batch 256 (I = 1023): ~610 kFLOP + ~200 k + Adam ~37 k -> ~850 kFLOP
 * A dense framework does 2 * 784 * I per matmul instead (x.w, dw): ~5x more at ~19% density.
 * Evaluation is the forward only: 2 * 150 * I + 2 L K per sample.
 *
 * Each setting first checks that both backends give the same gradients on a batch.
 *
 * @module
 */
import { ensureTf } from "../lib/backends/tf_setup.ts";
import { tfjsBackend } from "../lib/backends/tfjs.ts";
import { loadNativeBackend } from "../lib/backends/native.ts";
import type { TreeBackend } from "../lib/backends/types.ts";
import { loadMnist } from "../lib/data/mnist.ts";
import type { Dataset } from "../lib/data/types.ts";
import { initParams } from "../lib/tree/params.ts";
import { oneHot } from "../lib/train/fit.ts";
import { DEFAULT_TREE_CONFIG, type TreeConfig } from "../lib/tree/types.ts";
import { Rng } from "../lib/util/random.ts";

/** One measured setting. */
export interface TreeBenchRow {
  what: string;
  /** Samples per second per backend name. */
  rates: Record<string, number>;
}

/** Options of {@link runTreeBench}. */
export interface TreeBenchOptions {
  /** The fast backend to compare with tfjs. @default "native" */
  backend?: "native" | "cuda";
  /** Rough seconds spent timing each backend per setting. @default 2 */
  seconds?: number;
  /** Also time 40 epochs of depth 4, batch 4 on the native backend. @default false */
  full?: boolean;
  /** Receives each line of the report. @default console.log */
  log?: (line: string) => void;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0, worst = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst / Math.max(scale, 1e-12);
}

/** Same gradients on one batch, or throw: never time a wrong result. */
function checkAgree(fast: TreeBackend, cfg: TreeConfig, train: Dataset, t: Float32Array): void {
  const params = initParams(cfg, 7);
  const a = fast.createTree(cfg, params), b = tfjsBackend.createTree(cfg, params);
  const n = 32, F = cfg.features, K = cfg.classes;
  const x = train.x.subarray(0, n * F), tt = t.subarray(0, n * K);
  const ga = a.gradients(x, tt), gb = b.gradients(x, tt);
  a.dispose(), b.dispose();
  const worst = Math.max(
    maxRelDiff(ga.w, gb.w),
    maxRelDiff(ga.b, gb.b),
    maxRelDiff(ga.phi, gb.phi),
    Math.abs(ga.loss - gb.loss) / Math.abs(gb.loss),
  );
  if (!(worst < 1e-3)) {
    throw new Error(`${fast.name} and tfjs disagree on depth ${cfg.depth}: ${worst} (relative)`);
  }
}

/** Train for about `seconds` on the resident set; returns samples per second. */
function timeTraining(
  backend: TreeBackend,
  cfg: TreeConfig,
  train: Dataset,
  t: Float32Array,
  batch: number,
  seconds: number,
): number {
  const tree = backend.createTree(cfg, initParams(cfg, 1));
  tree.setTrainData(train.x, t);
  const order = new Rng(1).permutation(train.n);
  tree.trainSamples(order.subarray(0, batch * 2), batch); // warm up
  let done = 0, chunk = batch * 4, at = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    if (at + chunk > order.length) at = 0;
    tree.trainSamples(order.subarray(at, at + chunk), batch);
    at += chunk, done += chunk;
    const elapsed = performance.now() - start;
    // Grow the chunk so that timing calls stay rare for a fast backend.
    if (elapsed < seconds * 250) chunk = Math.min(chunk * 2, 8192 - (8192 % batch) || batch);
  }
  const rate = done / ((performance.now() - start) / 1000);
  tree.dispose();
  return rate;
}

function timeEval(
  backend: TreeBackend,
  cfg: TreeConfig,
  test: Dataset,
  seconds: number,
): number {
  const tree = backend.createTree(cfg, initParams(cfg, 1));
  tree.evaluate(test.x.subarray(0, 100 * cfg.features), test.y.subarray(0, 100));
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    tree.evaluate(test.x, test.y);
    done += test.n;
  }
  tree.dispose();
  return done / ((performance.now() - start) / 1000);
}

/**
 * Run the benchmark and print a report.
 * @returns One row per setting.
 */
export async function runTreeBench(options: TreeBenchOptions = {}): Promise<TreeBenchRow[]> {
  const log = options.log ?? console.log;
  const seconds = options.seconds ?? 2;
  const kind = options.backend ?? "native";
  await ensureTf();
  const fast = loadNativeBackend(kind);
  log(`tree bench: ${fast.description} vs ${tfjsBackend.description}, ~${seconds} s each`);
  const { train, test } = await loadMnist();
  const t = oneHot(train.y, 10);
  const rows: TreeBenchRow[] = [];
  const base = { ...DEFAULT_TREE_CONFIG, features: train.features, classes: 10 };
  for (const [depth, batch] of [[4, 4], [8, 64], [10, 256]]) {
    const cfg: TreeConfig = { ...base, depth };
    checkAgree(fast, cfg, train, t);
    const rf = timeTraining(fast, cfg, train, t, batch, seconds);
    const rt = timeTraining(tfjsBackend, cfg, train, t, batch, seconds);
    const what = `train depth ${depth} batch ${batch}`;
    rows.push({ what, rates: { [kind]: rf, tfjs: rt } });
    log(`${what}: ${fmt(rf)} vs ${fmt(rt)} samples/s  -> ${(rf / rt).toFixed(1)}x`);
  }
  for (const depth of [4, 8, 10]) {
    const cfg: TreeConfig = { ...base, depth };
    const rf = timeEval(fast, cfg, test, seconds / 2);
    const rt = timeEval(tfjsBackend, cfg, test, seconds / 2);
    const what = `evaluate depth ${depth}`;
    rows.push({ what, rates: { [kind]: rf, tfjs: rt } });
    log(`${what}: ${fmt(rf)} vs ${fmt(rt)} samples/s  -> ${(rf / rt).toFixed(1)}x`);
  }
  if (options.full) {
    const cfg: TreeConfig = { ...base, depth: 4 };
    const tree = fast.createTree(cfg, initParams(cfg, 1));
    tree.setTrainData(train.x, t);
    const rng = new Rng(1);
    const start = performance.now();
    let last = 0;
    for (let epoch = 0; epoch < 40; epoch++) {
      last = tree.trainSamples(rng.permutation(train.n), 4).loss;
    }
    const s = (performance.now() - start) / 1000;
    const acc = tree.evaluate(test.x, test.y);
    tree.dispose();
    log(
      `40 epochs depth 4 batch 4 on ${train.n} images: ${s.toFixed(1)} s (last epoch loss ` +
        `${last.toFixed(3)}, test accuracy ${(acc.accuracy * 100).toFixed(2)}% max-leaf, ` +
        `${(acc.accuracyMixture * 100).toFixed(2)}% mixture)`,
    );
  }
  return rows;
}

function fmt(rate: number): string {
  return rate >= 1e4 ? `${(rate / 1000).toFixed(0)}k` : rate.toFixed(0);
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  await runTreeBench({
    backend: arg("--backend") === "cuda" ? "cuda" : "native",
    seconds: Number(arg("--seconds") ?? 2),
    full: Deno.args.includes("--full"),
  });
}
