/**
 * softtree: distill a neural network into a soft binary decision tree
 * (Frosst & Hinton, "Distilling a Neural Network Into a Soft Decision Tree", 2017).
 *
 * Every inner node of the tree is a learned filter `sigmoid(beta (x.w + b))` routing right
 * or left; every leaf a fixed class distribution. Train it on labels or on a teacher's soft
 * labels, on the fastest backend that loads here (`cuda`, `native`, or the `tfjs` reference).
 *
 * @example
 * ```ts
 * import { loadData, SoftDecisionTree } from "./mod.ts";
 *
 * const splits = await loadData("mnist", { limit: { train: 2000, val: 500, test: 500 } });
 * const tree = await SoftDecisionTree.create({ depth: 3, invTemp: 1 }, splits.train, { seed: 1 });
 * tree.fit(splits.train, splits.val, { epochs: 2, batchSize: 32 });
 * const { accuracy } = tree.evaluate(splits.test);
 * console.log(`test accuracy ${(accuracy * 100).toFixed(1)}%`);
 * tree.dispose();
 * ```
 *
 * @module
 */
export { SoftDecisionTree, type TreeOptions } from "./lib/train/soft_tree.ts";
export { DEFAULT_TREE_CONFIG, treeSizes } from "./lib/tree/types.ts";
export type {
  LossKind,
  PenaltyState,
  PredictKind,
  TreeConfig,
  TreeParams,
} from "./lib/tree/types.ts";
export { initParams } from "./lib/tree/params.ts";
export { leafClasses, leafDistributions, type Route, route } from "./lib/tree/inspect.ts";
export * from "./lib/data/mod.ts";
export {
  type BackendSelection,
  ensureTf,
  loadNativeBackend,
  selectBackend,
  tfjsBackend,
} from "./lib/backends/mod.ts";
export type {
  BackendChoice,
  BackendName,
  EvalResult,
  ForwardResult,
  TreeBackend,
  TreeEngine,
} from "./lib/backends/types.ts";
export {
  type BatchProgress,
  type CandidateEvent,
  fit,
  fitAsync,
  type FitOptions,
  type FitResult,
  type FitState,
  oneHot,
} from "./lib/train/fit.ts";
export { loadTreeState, type SavedTreeState } from "./lib/train/state.ts";
export { type TeacherRunOptions, trainTeacherRun } from "./lib/teacher/train_run.ts";
export type { EpochRecord } from "./lib/train/types.ts";
export { type RunOptions, type RunResult, trainOrLoad } from "./lib/train/run.ts";
export { distill, type DistillOptions, type DistillResult } from "./lib/train/distill.ts";
export { augmentImages, type AugmentOptions, concatDatasets } from "./lib/data/augment.ts";
export * from "./lib/teacher/mod.ts";
export * from "./lib/render/mod.ts";
export * from "./lib/use/mod.ts";
export * from "./lib/report/mod.ts";
export { loadTreeCheckpoint, saveTreeCheckpoint } from "./lib/io/checkpoint.ts";
export type { DataInfo, TreeCheckpoint } from "./lib/io/types.ts";
export {
  BackendUnavailableError,
  CheckpointError,
  DatasetError,
  RunDirectoryError,
  TrainingDivergedError,
  TrainingInterruptedError,
} from "./lib/errors.ts";
export { NativeError } from "./ffi/errors.ts";
