/**
 * A training run as the command line performs it: load a tree from the run directory if
 * one is there (the seed's `maybe_train`) or train a new one, evaluate it, and write the run
 * directory (checkpoint and `metrics.json`). Used by `train` and `distill`. Prints nothing.
 *
 * @module
 */
import type { BackendChoice, EvalResult } from "../backends/types.ts";
import type { BuildEvent } from "../backends/mod.ts";
import type { Splits } from "../data/types.ts";
import { CheckpointError } from "../errors.ts";
import { inDir, writeFileAtomic } from "../io/atomic.ts";
import { CHECKPOINT_FILE, loadTreeCheckpoint } from "../io/checkpoint.ts";
import { SoftDecisionTree } from "../tree/soft_tree.ts";
import { DEFAULT_TREE_CONFIG, type TreeConfig } from "../tree/types.ts";
import type { FitOptions, FitResult } from "./fit.ts";

/** How to run. */
export interface RunOptions {
  /** The run directory. */
  out: string;
  /** Hyper-parameters (the seed's defaults for omitted ones). */
  config: Partial<TreeConfig>;
  /** Training options (epochs, batch size, patience, callbacks, soft targets...). */
  fit: FitOptions;
  /** @default "auto" */
  backend?: BackendChoice;
  /** Seed of the initial parameters and of the shuffling. @default 0 */
  seed?: number;
  /** Train even if the run directory holds a checkpoint. @default false */
  retrain?: boolean;
  /** Called once the backend is chosen, with a line saying which. */
  onBackend?: (note: string) => void;
  /** Told when a native library is compiled (its first use on a machine). */
  onBuild?: (event: BuildEvent) => void;
  /** Facts stored in the checkpoint and `metrics.json` (command line, teacher, ...). */
  meta?: Record<string, unknown>;
}

/** What a run produced. */
export interface RunResult {
  tree: SoftDecisionTree;
  /** Whether an existing checkpoint was loaded instead of training. */
  loaded: boolean;
  /** The training record (absent when loaded). */
  fit: FitResult | null;
  val: EvalResult;
  test: EvalResult;
  /** The checkpoint file. */
  checkpoint: string;
  /** Seconds of the whole run. */
  seconds: number;
}

/** The hyper-parameters that must match for a saved tree to be reused. */
const SHAPE_KEYS = ["depth", "features", "classes", "loss", "learnBeta"] as const;

/**
 * Train (or load) a tree for `splits`, evaluate it on validation and test, and save it in
 * `options.out`.
 *
 * @throws {CheckpointError} when the run directory holds a tree of another shape and
 *   `retrain` is not set.
 */
export async function trainOrLoad(splits: Splits, options: RunOptions): Promise<RunResult> {
  const t0 = performance.now();
  const seed = options.seed ?? 0;
  const file = inDir(options.out, CHECKPOINT_FILE);
  const want: TreeConfig = {
    ...DEFAULT_TREE_CONFIG,
    ...options.config,
    features: splits.train.features,
    classes: splits.train.classes,
  };
  let tree: SoftDecisionTree;
  let loaded = false;
  let fitResult: FitResult | null = null;
  const exists = await Deno.stat(file).then(() => true, () => false);
  if (exists && !options.retrain) {
    const ckpt = await loadTreeCheckpoint(file);
    const differ = SHAPE_KEYS.filter((k) => ckpt.config[k] !== want[k]);
    if (differ.length) {
      throw new CheckpointError(
        `The run directory "${options.out}" holds a tree with ${
          differ.map((k) => `${k} ${JSON.stringify(ckpt.config[k])}`).join(", ")
        }, but this run asks for ${
          differ.map((k) => `${k} ${JSON.stringify(want[k])}`).join(", ")
        }`,
      );
    }
    tree = await SoftDecisionTree.fromCheckpoint(ckpt, {
      backend: options.backend,
      onBuild: options.onBuild,
    });
    options.onBackend?.(tree.backendNote);
    loaded = true;
  } else {
    tree = await SoftDecisionTree.create(want, splits.train, {
      backend: options.backend,
      seed,
      onBuild: options.onBuild,
    });
    options.onBackend?.(tree.backendNote);
    fitResult = tree.fit(splits.train, splits.val, { seed, ...options.fit });
  }
  const val = tree.evaluate(splits.val);
  const test = tree.evaluate(splits.test);
  if (!loaded) {
    const meta = {
      ...options.meta,
      seed,
      valAccuracy: val.accuracy,
      testAccuracy: test.accuracy,
      testAccuracyMixture: test.accuracyMixture,
      bestEpoch: fitResult?.bestEpoch,
      date: new Date().toISOString(),
    };
    await tree.save(file, meta);
    await writeMetrics(options.out, {
      ...meta,
      config: tree.config,
      data: {
        source: splits.train.source,
        train: splits.train.n,
        val: splits.val.n,
        test: splits.test.n,
      },
      fitOptions: {
        epochs: options.fit.epochs,
        batchSize: options.fit.batchSize,
        patience: options.fit.patience,
        schedule: options.fit.schedule ?? "constant",
        betaTo: options.fit.betaTo,
        restarts: options.fit.restarts ?? 1,
        restartEpochs: options.fit.restartEpochs ?? 10,
      },
      candidates: fitResult?.candidates,
      chosenCandidate: fitResult?.chosenCandidate,
      backend: tree.backend,
      valAccuracyMixture: val.accuracyMixture,
      epochsRun: fitResult?.epochsRun,
      stoppedEarly: fitResult?.stoppedEarly,
      seconds: fitResult?.seconds,
      samplesPerSecond: fitResult?.samplesPerSecond,
      history: fitResult?.history,
    });
  }
  return {
    tree,
    loaded,
    fit: fitResult,
    val,
    test,
    checkpoint: file,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Write `metrics.json` into a run directory atomically. */
export async function writeMetrics(out: string, metrics: Record<string, unknown>): Promise<void> {
  await writeFileAtomic(
    inDir(out, "metrics.json"),
    JSON.stringify(metrics, null, 2) + "\n",
  );
}
