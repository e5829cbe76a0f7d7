/**
 * Training and evaluation throughput of the tree backends, in one run: native (and cuda, when
 * it loads) against tfjs, and how close each native row comes to the machine's limit.
 *
 *   deno run -A bench/tree_bench.ts [--backend native|cuda] [--seconds 2] [--full]
 *                                   [--no-tfjs] [--only TEXT] [--help]
 *
 * `--full` also times the seed's whole recipe on the native backend: 40 epochs of depth 4,
 * batch 4 on the 50,000 training images (the target is under 60 s). `--no-tfjs` skips the
 * reference backend (its rows take the longest); `--only` keeps the rows whose label holds
 * TEXT (e.g. `--only "depth 8"`).
 *
 * How close to the limit: every row also prints its dense-equivalent GFLOP/s and that rate's
 * share of the SGEMM rate measured in the same run, before and after the rows (the library's
 * own blocked SGEMM, `stk_sgemm` in ffi/stk_cpu.c, and OpenBLAS's where installed; a
 * 1024^3 product on every core, the best of 8). The tree counted as dense products:
 * - training, per sample: forward x . w (2 F I FLOPs) and the weight gradient x^T da
 *   (2 F I): 4 F I. MNIST (F = 784): depth 8 (I = 255) 0.80 MFLOP, depth 10 (I = 1023)
 *   3.2 MFLOP; the tabular row (F = 50, depth 6) 12.6 kFLOP.
 * - evaluation, per sample: the forward, 2 F I.
 * The native library skips the zero inputs of sparse rows (MNIST is ~81% zeros), so its
 * dense-equivalent rate can pass the SGEMM rate; the tree pass (sigmoids, path
 * probabilities, ~10 (I + L K) FLOPs), Adam (~12 I F per step, i.e. 12 I F / B per sample)
 * and the penalty are not counted. Rates are the best of ~0.25 s windows, like the SGEMM's
 * best of runs, so that a busy neighbour on a shared machine skews both alike.
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
import { findLibrary } from "../ffi/build.ts";
import { Status } from "../ffi/bindings.ts";
import { loadStkLibrary, type StkLibrary, unwrapStk } from "../ffi/stk_bindings.ts";

/** One measured setting. */
export interface TreeBenchRow {
  what: string;
  /** Samples per second per backend name. */
  rates: Record<string, number>;
  /** Dense-equivalent FLOPs per sample (see the module doc). */
  flopsPerSample: number;
}

/** The SGEMM rates a run measured, GFLOP/s (NaN: not measured or not installed). */
export interface SgemmRates {
  /** The library's blocked SGEMM, best of the measurements before and after the rows. */
  blocked: number;
  /** OpenBLAS (or another system BLAS), likewise; NaN when none is installed. */
  blas: number;
  /** Each measurement: when, blocked, blas. */
  samples: { when: string; blocked: number; blas: number }[];
}

/** What {@link runTreeBench} returns. */
export interface TreeBenchResult {
  rows: TreeBenchRow[];
  sgemm: SgemmRates;
}

/** Options of {@link runTreeBench}. */
export interface TreeBenchOptions {
  /** The fast backend to compare with tfjs. @default "native" */
  backend?: "native" | "cuda";
  /** Rough seconds spent timing each backend per setting. @default 2 */
  seconds?: number;
  /** Also time 40 epochs of depth 4, batch 4 on the native backend. @default false */
  full?: boolean;
  /** Time tfjs beside the fast backend. @default true */
  tfjs?: boolean;
  /** Keep only the rows whose label contains this text. @default every row */
  only?: string;
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

/** Calls `step` (which returns the samples it did) for about `seconds`; returns the best
 * samples per second over windows of ~0.25 s (the whole time when shorter). */
function bestRate(seconds: number, step: () => number): number {
  const window = Math.min(250, seconds * 1000);
  const start = performance.now();
  let best = 0, done = 0, w0 = start;
  while (performance.now() - start < seconds * 1000) {
    done += step();
    const now = performance.now();
    if (now - w0 >= window) {
      best = Math.max(best, done / ((now - w0) / 1000));
      done = 0, w0 = now;
    }
  }
  if (best === 0) best = done / ((performance.now() - w0) / 1000);
  return best;
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
  // Chunks of whole batches, ~8k samples (or 4 batches), so that calls stay rare.
  const chunk = Math.max(4 * batch, 8192 - (8192 % batch));
  let at = 0;
  const rate = bestRate(seconds, () => {
    if (at + chunk > order.length) at = 0;
    tree.trainSamples(order.subarray(at, at + chunk), batch);
    at += chunk;
    return chunk;
  });
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
  const rate = bestRate(seconds, () => {
    tree.evaluate(test.x, test.y);
    return test.n;
  });
  tree.dispose();
  return rate;
}

/** GFLOP/s of `f` (2 n^3 FLOPs), the best of `runs`; NaN when it fails. */
function gemmRate(n: number, runs: number, f: () => number): number {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    if (f() !== Status.OK) return NaN;
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return 2 * n * n * n / best / 1e9;
}

/** The blocked SGEMM (checked against the plain loop on a corner first) and the system
 * BLAS's, on an n^3 product. */
function sgemmRates(lib: StkLibrary, n: number): { blocked: number; blas: number } {
  const a = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const b = new Float32Array(n * n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const c = new Float32Array(n * n);
  const s = lib.symbols;
  const m = 67, c1 = new Float32Array(m * m), c2 = new Float32Array(m * m);
  unwrapStk(lib, s.stk_sgemm(c1, 0, 0, m, m, n, 1, a, n, b, n, 0, m), "stk_sgemm");
  unwrapStk(lib, s.stk_sgemm_naive(c2, 0, 0, m, m, n, 1, a, n, b, n, 0, m), "stk_sgemm_naive");
  c1.forEach((v, i) => {
    if (Math.abs(v - c2[i]) > 1e-3 + 1e-4 * Math.abs(c2[i])) {
      throw new Error(`stk_sgemm [${i}] = ${v}, the plain loop says ${c2[i]}`);
    }
  });
  const blocked = gemmRate(n, 8, () => s.stk_sgemm(c, 0, 0, n, n, n, 1, a, n, b, n, 0, n));
  const blas = gemmRate(n, 8, () => s.stk_sgemm_blas(c, 0, 0, n, n, n, 1, a, n, b, n, 0, n));
  return { blocked, blas };
}

/** A tabular stand-in: `n` rows of `features` dense standard-normal values, two classes
 * split by a fixed random hyperplane. */
function tabular(n: number, features: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const plane = Float64Array.from({ length: features }, gauss);
  const x = new Float32Array(n * features), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < features; j++) {
      const v = gauss();
      x[i * features + j] = v, s += v * plane[j];
    }
    y[i] = s > 0 ? 1 : 0;
  }
  return {
    x,
    y,
    n,
    features,
    classes: 2,
    imageShape: null,
    featureNames: null,
    source: "synthetic",
  };
}

const MB = (v: number) => v >= 1e5 ? `${(v / 1e6).toFixed(2)}M` : `${(v / 1e3).toFixed(1)}k`;
const pct = (v: number) => Number.isNaN(v) ? "-" : `${(100 * v).toFixed(0)}%`;

/**
 * Run the benchmark and print a report.
 * @returns One row per setting, and the SGEMM rates the shares are measured against.
 */
export async function runTreeBench(options: TreeBenchOptions = {}): Promise<TreeBenchResult> {
  const log = options.log ?? console.log;
  const seconds = options.seconds ?? 2;
  const kind = options.backend ?? "native";
  const withTfjs = options.tfjs ?? true;
  const keep = (what: string) => !options.only || what.includes(options.only);
  await ensureTf();
  const fast = loadNativeBackend(kind);
  const stk = loadStkLibrary("cpu", (await findLibrary("stk_cpu")).path);
  unwrapStk(
    stk,
    stk.symbols.stk_set_threads(Number(Deno.env.get("SOFTTREE_THREADS") ?? 0)),
    "threads",
  );
  const load = () => Deno.loadavg().map((v) => v.toFixed(2)).join(" ");
  log(
    `tree bench: ${fast.description}${withTfjs ? ` vs ${tfjsBackend.description}` : ""}, ` +
      `~${seconds} s each; load average ${load()}`,
  );
  const sgemm: SgemmRates = { blocked: NaN, blas: NaN, samples: [] };
  const measureSgemm = (when: string) => {
    const r = sgemmRates(stk, 1024);
    sgemm.samples.push({ when, ...r });
    sgemm.blocked = Math.max(...sgemm.samples.map((s) => s.blocked));
    sgemm.blas = Math.max(...sgemm.samples.map((s) => s.blas));
    log(
      `SGEMM 1024^3 ${when} (${stk.symbols.stk_threads()} threads): blocked ` +
        `${r.blocked.toFixed(1)} GFLOP/s, OpenBLAS ${
          Number.isNaN(r.blas) ? "not installed" : `${r.blas.toFixed(1)} GFLOP/s`
        }; load average ${load()}`,
    );
  };
  measureSgemm("before");
  const { train, test } = await loadMnist();
  const t = oneHot(train.y, 10);
  const tab = tabular(60000, 50, 3), tabTest = tabular(10000, 50, 4);
  const tabT = oneHot(tab.y, 2);
  const rows: TreeBenchRow[] = [];
  const base = { ...DEFAULT_TREE_CONFIG, features: train.features, classes: 10 };
  const tabBase = { ...DEFAULT_TREE_CONFIG, features: 50, classes: 2 };
  const header = `${"row".padEnd(36)} ${kind.padStart(9)} ${"GFLOP/s".padStart(8)} ` +
    `${"blocked".padStart(7)} ${"OpenBLAS".padStart(8)}${withTfjs ? "      tfjs  ratio" : ""}`;
  const report = (row: TreeBenchRow) => {
    const rf = row.rates[kind], gf = rf * row.flopsPerSample / 1e9;
    const rt = row.rates.tfjs;
    log(
      `${row.what.padEnd(36)} ${MB(rf).padStart(9)} ${gf.toFixed(1).padStart(8)} ` +
        `${pct(gf / sgemm.blocked).padStart(7)} ${pct(gf / sgemm.blas).padStart(8)}` +
        (rt ? ` ${MB(rt).padStart(9)} ${(rf / rt).toFixed(1).padStart(5)}x` : ""),
    );
  };
  const trainings: [string, TreeConfig, Dataset, Float32Array, number][] = [
    ["train mnist depth 4 batch 4", { ...base, depth: 4 }, train, t, 4],
    ["train mnist depth 8 batch 64", { ...base, depth: 8 }, train, t, 64],
    ["train mnist depth 10 batch 256", { ...base, depth: 10 }, train, t, 256],
    ["train mnist depth 10 batch 1024", { ...base, depth: 10 }, train, t, 1024],
    ["train tabular F=50 depth 6 batch 256", { ...tabBase, depth: 6 }, tab, tabT, 256],
  ];
  for (const [what, cfg, data, targets, batch] of trainings) {
    if (!keep(what)) continue;
    checkAgree(fast, cfg, data, targets);
    const I = 2 ** cfg.depth - 1;
    const row: TreeBenchRow = { what, rates: {}, flopsPerSample: 4 * cfg.features * I };
    row.rates[kind] = timeTraining(fast, cfg, data, targets, batch, seconds);
    if (withTfjs) row.rates.tfjs = timeTraining(tfjsBackend, cfg, data, targets, batch, seconds);
    rows.push(row), log(`${what}: ${MB(row.rates[kind]!)} samples/s`);
  }
  const evaluations: [string, TreeConfig, Dataset][] = [
    ["evaluate mnist depth 4", { ...base, depth: 4 }, test],
    ["evaluate mnist depth 8", { ...base, depth: 8 }, test],
    ["evaluate mnist depth 10", { ...base, depth: 10 }, test],
    ["evaluate tabular F=50 depth 6", { ...tabBase, depth: 6 }, tabTest],
  ];
  for (const [what, cfg, data] of evaluations) {
    if (!keep(what)) continue;
    const I = 2 ** cfg.depth - 1;
    const row: TreeBenchRow = { what, rates: {}, flopsPerSample: 2 * cfg.features * I };
    row.rates[kind] = timeEval(fast, cfg, data, seconds / 2);
    if (withTfjs) row.rates.tfjs = timeEval(tfjsBackend, cfg, data, seconds / 2);
    rows.push(row), log(`${what}: ${MB(row.rates[kind]!)} samples/s`);
  }
  measureSgemm("after");
  // The shares are of the best SGEMM rate measured before and after the rows.
  log(header);
  for (const row of rows) report(row);
  log(
    `shares are of the best SGEMM rates above: blocked ${sgemm.blocked.toFixed(1)} GFLOP/s, ` +
      `OpenBLAS ${Number.isNaN(sgemm.blas) ? "not installed" : `${sgemm.blas.toFixed(1)} GFLOP/s`}`,
  );
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
  return { rows, sgemm };
}

const USAGE = `Usage: deno run -A bench/tree_bench.ts [options]

Training and evaluation samples/s of the tree backends, each native row with its
dense-equivalent GFLOP/s and its share of the SGEMM rate measured in the same run.

  --backend native|cuda  the fast backend to time (default native)
  --seconds S            rough seconds per row and backend (default 2)
  --full                 also time the seed's 40-epoch recipe on the native backend
  --no-tfjs              skip the tfjs reference rows
  --only TEXT            keep the rows whose label holds TEXT (e.g. "depth 8")
  --help, -h             this text`;

/** The command line's options, or an error that names the option and what is wrong. */
export function parseTreeBenchArgs(args: string[]): TreeBenchOptions | "help" {
  const options: TreeBenchOptions = { backend: "native", seconds: 2, full: false, tfjs: true };
  for (let i = 0; i < args.length; i++) {
    const name = args[i];
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    if (name === "--help" || name === "-h") return "help";
    else if (name === "--full") options.full = true;
    else if (name === "--no-tfjs") options.tfjs = false;
    else if (name === "--only") options.only = value();
    else if (name === "--backend") {
      const v = value();
      if (v !== "native" && v !== "cuda") {
        throw new Error(`--backend must be native or cuda, not "${v}"`);
      }
      options.backend = v;
    } else if (name === "--seconds") {
      const v = value(), n = Number(v);
      if (!(n > 0) || !Number.isFinite(n)) {
        throw new Error(`--seconds must be a positive number, not "${v}"`);
      }
      options.seconds = n;
    } else throw new Error(`unknown option "${name}" (--help lists the options)`);
  }
  return options;
}

if (import.meta.main) {
  let options: TreeBenchOptions | "help";
  try {
    options = parseTreeBenchArgs(Deno.args);
  } catch (e) {
    console.error(`tree_bench: ${(e as Error).message}`);
    Deno.exit(2);
  }
  if (options === "help") console.log(USAGE);
  else await runTreeBench(options);
}
