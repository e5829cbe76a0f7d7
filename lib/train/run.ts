/**
 * A training run as the command line performs it: load a tree from the run directory if
 * one is there (the seed's `maybe_train`) or train a new one, evaluate it, and write the run
 * directory (checkpoint and `metrics.json`). Used by `train` and `distill`. Prints nothing.
 *
 * While it trains, the run directory holds a lock naming the process (`training.lock`), the
 * best tree so far (`tree.sdt`, as early stopping would restore it) and the resumable state
 * (`training-state.bin`), both rewritten after epochs (at most every few seconds) and when the
 * run is interrupted; `resume` continues such a run. The state file is removed when the run
 * finishes.
 *
 * @module
 */
import type { BackendChoice, EvalResult } from "../backends/types.ts";
import type { BuildEvent } from "../backends/mod.ts";
import type { Splits } from "../data/types.ts";
import { CheckpointError } from "../errors.ts";
import { inDir, writeFileAtomic } from "../io/atomic.ts";
import { CHECKPOINT_FILE, loadTreeCheckpoint, saveTreeCheckpoint } from "../io/checkpoint.ts";
import { openRunFolder, progressOf, resumeNote, stoppedIn } from "../run/folder.ts";
import { SoftDecisionTree } from "./soft_tree.ts";
import { DEFAULT_TREE_CONFIG, type TreeConfig } from "../tree/types.ts";
import {
  bestSoFar,
  type BestWeights,
  type FitOptions,
  type FitResult,
  type FitState,
  oneHot,
} from "./fit.ts";
import { refitLeaves, type RefitResult } from "./refit.ts";
import { regressionTargets } from "./score.ts";
import { leafSpread } from "../tree/regression.ts";
import {
  removeTreeState,
  type SavedTreeState,
  saveTreeState,
  STATE_FILE,
  TREE_RUN,
} from "./state.ts";

/** How to run. */
export interface RunOptions {
  /** The run directory. */
  out: string;
  /** Hyper-parameters (the seed's defaults for omitted ones). */
  config: Partial<TreeConfig>;
  /** Training options (epochs, batch size, patience, callbacks, soft targets...). */
  fit: FitOptions;
  /** The backend to train on (see `selectBackend`). @default "auto" */
  backend?: BackendChoice;
  /** Seed of the initial parameters and of the shuffling. @default 0 */
  seed?: number;
  /**
   * Train even if the run directory holds a checkpoint (or an interrupted run's state, which
   * is dropped). @default false
   */
  retrain?: boolean;
  /**
   * Continue the interrupted run whose state the run directory holds (with these same
   * options); a run directory with a finished tree is loaded, an empty one trained. Without
   * it (and without `retrain`) a run directory holding an interrupted run is an error.
   * @default false
   */
  resume?: boolean;
  /**
   * After training, refit each leaf to the mean target of the training images it wins
   * (max-leaf), keeping it only if the validation accuracy rises (see `refitLeaves`).
   * @default false
   */
  refitLeaves?: boolean;
  /** Hold the run directory's lock while training. @default true */
  lock?: boolean;
  /** Lines worth showing: a stale lock taken over, where a resumed run goes on from. */
  onNote?: (line: string) => void;
  /**
   * Told `true` right before training starts (from then on `fit.signal` makes it stop and save
   * its state) and `false` when it has ended.
   */
  onTraining?: (training: boolean) => void;
  /** Called once the backend is chosen, with a line saying which. */
  onBackend?: (note: string) => void;
  /** Told when a native library is compiled (its first use on a machine). */
  onBuild?: (event: BuildEvent) => void;
  /** Facts stored in the checkpoint and `metrics.json` (command line, teacher, ...). */
  meta?: Record<string, unknown>;
  /** The teachers a distilled tree learns from, kept in the checkpoint's data facts. */
  teacherRecords?: Record<string, unknown>[];
}

/** What a run produced. */
export interface RunResult {
  /** The trained (or loaded) tree; the caller disposes it. */
  tree: SoftDecisionTree;
  /** Whether an existing checkpoint was loaded instead of training. */
  loaded: boolean;
  /** Whether an interrupted run was continued. */
  resumed: boolean;
  /** The training record (absent when loaded). */
  fit: FitResult | null;
  /** What refitting the leaves did (with `refitLeaves`; absent when loaded). */
  refit: RefitResult | null;
  /** Accuracy on the validation split. */
  val: EvalResult;
  /** Accuracy on the test split. */
  test: EvalResult;
  /** The checkpoint file. */
  checkpoint: string;
  /** Seconds of the whole run. */
  seconds: number;
  /** Samples of the training set (augmented copies and transfer data included). */
  trainSamples: number;
}

/** The hyper-parameters that must match for a saved tree to be reused. */
const SHAPE_KEYS = ["depth", "features", "classes", "loss", "learnBeta", "task"] as const;

/**
 * Train (or load) a tree for `splits`, evaluate it on validation and test, and save it in
 * `options.out`.
 *
 * @throws {CheckpointError} when the run directory holds a tree of another shape and
 *   `retrain` is not set, or a state file that cannot be read.
 * @throws {RunDirectoryError} when another process trains into the run directory, or it holds
 *   an interrupted run and neither `resume` nor `retrain` is set.
 * @throws {TrainingInterruptedError} when `fit.signal` is aborted; its state is saved and its
 *   `out` is the run directory.
 * @throws {TrainingDivergedError} when the loss stops being finite; the best tree so far is
 *   saved.
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
    ...(splits.train.values ? { task: "regression" as const } : {}),
  };
  let tree: SoftDecisionTree;
  let loaded = false;
  let fitResult: FitResult | null = null;
  let refit: RefitResult | null = null;
  const isFile = (path: string) => Deno.stat(path).then((i) => i.isFile, () => false);
  const exists = await isFile(file);
  const hasState = await isFile(inDir(options.out, STATE_FILE));
  // Take the lock before reading the state: another process may be writing it.
  const run = await openRunFolder(options.out, TREE_RUN, {
    command: String(options.meta?.command ?? "train"),
    resume: options.resume,
    retrain: options.retrain,
    lock: (options.retrain || hasState || !exists) && options.lock !== false,
    onNote: options.onNote,
  });
  const saved = run.saved;
  let val: EvalResult, test: EvalResult;
  try {
    if (!saved && exists && !options.retrain) {
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
      if (saved) {
        const config = saved.config;
        const differ = (Object.keys(want) as (keyof TreeConfig)[])
          .filter((k) => config[k] !== want[k]);
        if (differ.length) {
          throw new CheckpointError(
            `The interrupted run in "${options.out}" has ${
              differ.map((k) => `${k} ${JSON.stringify(config[k])}`).join(", ")
            }, but this run asks for ${
              differ.map((k) => `${k} ${JSON.stringify(want[k])}`).join(", ")
            }`,
          );
        }
      }
      tree = await SoftDecisionTree.create(want, splits.train, {
        backend: options.backend,
        seed,
        onBuild: options.onBuild,
      });
      if (options.teacherRecords) tree.data.teacher = options.teacherRecords;
      options.onBackend?.(tree.backendNote);
      if (saved) {
        const f = saved.fit;
        const candidate = f.candidate >= 0
          ? ` (candidate ${f.candidate + 1} of ${f.plan.restarts})`
          : "";
        options.onNote?.(`${resumeNote(options.out, progressOf(saved.fit))}${candidate}`);
      }
      options.onTraining?.(true);
      try {
        fitResult = await fitTree(tree, splits, options, saved, file);
      } finally {
        options.onTraining?.(false);
      }
      if (options.refitLeaves) {
        const k = tree.config.classes;
        refit = refitLeaves(
          tree.engine,
          splits.train,
          options.fit.targets ??
            (tree.isRegression ? regressionTargets(splits.train) : oneHot(splits.train.y, k)),
          splits.val,
        );
      }
      if (tree.isRegression) tree.data.target!.leaves = trainLeafSpread(tree, splits.train);
    }
    val = tree.evaluate(splits.val);
    test = tree.evaluate(splits.test);
    if (!loaded) {
      const meta = {
        ...options.meta,
        seed,
        valAccuracy: val.accuracy,
        testAccuracy: test.accuracy,
        testAccuracyMixture: test.accuracyMixture,
        ...(test.regression ? regressionMeta(val, test) : {}),
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
        refitLeaves: refit ?? undefined,
      });
      await removeTreeState(options.out);
    }
  } finally {
    await run.close();
  }
  return {
    tree,
    loaded,
    resumed: saved !== null,
    fit: fitResult,
    refit,
    val,
    test,
    checkpoint: file,
    seconds: (performance.now() - t0) / 1000,
    trainSamples: splits.train.n,
  };
}

/**
 * Train `tree` with `options.fit`, from the saved state when there is one, saving the state and
 * the best tree so far into the run directory as the run goes.
 */
async function fitTree(
  tree: SoftDecisionTree,
  splits: Splits,
  options: RunOptions,
  saved: SavedTreeState | null,
  file: string,
): Promise<FitResult> {
  const seed = options.seed ?? 0;
  const data = tree.data;
  const meta = { ...options.meta, seed };
  let written: BestWeights | null = null;
  const onState = async (state: FitState) => {
    // The state first: a best tree is never on disk without the state that explains it.
    if (state.engine) {
      await saveTreeState(options.out, { config: tree.config, data, meta, fit: state });
    }
    const best = bestSoFar(state);
    if (best && best !== written) {
      await saveTreeCheckpoint(file, {
        config: tree.config,
        params: best.params,
        data,
        meta: { ...meta, inProgress: true, bestEpoch: best.epoch, valAccuracy: best.acc },
      });
      written = best;
    }
    await options.fit.onState?.(state);
  };
  try {
    return await tree.fitAsync(splits.train, splits.val, {
      seed,
      ...options.fit,
      resume: saved?.fit,
      onState,
    });
  } catch (error) {
    tree.dispose();
    throw stoppedIn(error, options.out, file);
  }
}

/**
 * Per leaf, the share of (labelled) training rows it wins and the spread of their targets,
 * for a regression tree's pictures and rules.
 */
function trainLeafSpread(
  tree: SoftDecisionTree,
  train: Splits["train"],
): { share: number[]; std: (number | null)[] } {
  const r = tree.evaluate(train);
  return leafSpread(r.predMaxLeaf, train.values!, 2 ** tree.config.depth);
}

/**
 * A regression tree's scores for a checkpoint's meta and metrics.json: R², RMSE and MAE of
 * both prediction modes on the test split, and R² on the validation split. (`valAccuracy`,
 * `testAccuracy` and `testAccuracyMixture` beside them hold R² too: they are what runs rank by.)
 */
export function regressionMeta(val: EvalResult, test: EvalResult): Record<string, number> {
  const t = test.regression!, v = val.regression!;
  return {
    valR2: v.maxLeaf.r2,
    valR2Mixture: v.mixture.r2,
    testR2: t.maxLeaf.r2,
    testRmse: t.maxLeaf.rmse,
    testMae: t.maxLeaf.mae,
    testR2Mixture: t.mixture.r2,
    testRmseMixture: t.mixture.rmse,
    testMaeMixture: t.mixture.mae,
  };
}

/** Write `metrics.json` into a run directory atomically. */
export async function writeMetrics(out: string, metrics: Record<string, unknown>): Promise<void> {
  await writeFileAtomic(
    inDir(out, "metrics.json"),
    JSON.stringify(metrics, null, 2) + "\n",
  );
}
