/**
 * softtree: distill a neural network into a soft binary decision tree
 * (Frosst & Hinton, "Distilling a Neural Network Into a Soft Decision Tree", 2017).
 *
 * Every inner node of the tree is a learned filter `sigmoid(beta (x.w + b))` routing right
 * or left; every leaf a fixed class distribution. Train it on labels or on a teacher's soft
 * labels, on the fastest backend that loads here (`cuda`, `native`, or the `tfjs` reference).
 *
 * This module is the public API: data loading, the tree, distillation, the teacher, pictures,
 * and the use of a trained tree (predictions, the HTML report, a standalone predictor). The
 * command line is `cli.ts` (the `./cli` export).
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

// The tree.
export { type RegressionEval, SoftDecisionTree, type TreeOptions } from "./lib/train/soft_tree.ts";
export { DEFAULT_TREE_CONFIG } from "./lib/tree/types.ts";
export type {
  LossKind,
  PenaltyState,
  PredictKind,
  TreeConfig,
  TreeParams,
  TreeTask,
} from "./lib/tree/types.ts";
export {
  leafValues,
  type RegressionMetrics,
  regressionMetrics,
  type TargetScale,
  valueText,
} from "./lib/tree/regression.ts";
export { leafClasses, leafDistributions, type Route } from "./lib/tree/inspect.ts";
export type {
  AdamState,
  BackendChoice,
  BackendName,
  EvalResult,
  ForwardResult,
  LossReport,
  TreeBackend,
  TreeEngine,
  TreeGradients,
} from "./lib/backends/types.ts";
export {
  type BackendSelection,
  type BuildEvent,
  selectBackend,
  type SelectOptions,
} from "./lib/backends/mod.ts";
export type { BatchProgress, CandidateEvent, FitOptions, FitResult } from "./lib/train/fit.ts";
export type { LibraryName } from "./ffi/build.ts";
export type { RefitResult } from "./lib/train/refit.ts";
export type { EpochRecord } from "./lib/train/types.ts";

// Data.
export {
  type CsvOptions,
  type Dataset,
  type DataTask,
  type IdxDirOptions,
  type LabelReport,
  loadCsv,
  loadData,
  type LoadDataOptions,
  type LoadedSplits,
  loadIdxDir,
  loadMnist,
  type MissingClass,
  type MnistOptions,
  type SplitLimit,
  type Splits,
} from "./lib/data/mod.ts";
export { augmentImages, type AugmentOptions } from "./lib/data/augment.ts";

// Distillation and the teacher.
export { distill, type DistillOptions, type DistillResult } from "./lib/train/distill.ts";
export { type RunOptions, type RunResult, trainOrLoad } from "./lib/train/run.ts";
export {
  type CacheEvent,
  type CreateTeacherOptions,
  type CrossFitOptions,
  type LayersModel,
  type LoadOrTrainOptions,
  type LoadOrTrainResult,
  loadOrTrainTeacher,
  loadTeacher,
  type PredictOptions as TeacherPredictOptions,
  saveTeacher,
  SEED_TEACHER,
  type SoftLabelOptions,
  softLabels,
  type SoftLabelStats,
  Teacher,
  teacherAccuracy,
  type TeacherBatchInfo,
  type TeacherConfig,
  type TeacherEpochInfo,
  type TeacherKernels,
  teacherLogits,
  type TeacherMeta,
  teacherPredict,
  trainTeacher,
  type TrainTeacherOptions,
  type TrainTeacherResult,
} from "./lib/teacher/mod.ts";

// Pictures.
export {
  type CurvesOptions,
  decisionPathGif,
  type DecisionPathGifOptions,
  type DrawableTree,
  learningCurvesSvg,
  type RasterOptions,
  svgToPng,
  TrainingAnimation,
  type TrainingAnimationOptions,
  treeSvg,
  type TreeSvgOptions,
} from "./lib/render/mod.ts";

// Using a trained tree.
export {
  exportPredictor,
  type ExportResult,
  type InputInfo,
  type InputPrediction,
  predictionsCsv,
  type PredictorJson,
  type PreparedInput,
  prepareInputs,
  type PrepareInputsOptions,
  TreePredictor,
  type UsableTree,
} from "./lib/use/mod.ts";
export {
  buildReportData,
  type LabelledRows,
  type NodeStats,
  type ReportData,
  reportHtml,
  type ReportInputs,
} from "./lib/report/mod.ts";
export { loadTreeCheckpoint, saveTreeCheckpoint } from "./lib/io/checkpoint.ts";
export type { DataInfo, TargetInfo, TreeCheckpoint } from "./lib/io/types.ts";

// Errors a caller may catch.
export {
  BackendUnavailableError,
  CheckpointError,
  DatasetError,
  type DivergenceDetails,
  HintedError,
  RunDirectoryError,
  type StopPoint,
  TrainingDivergedError,
  TrainingInterruptedError,
} from "./lib/errors.ts";
export { NativeError } from "./ffi/errors.ts";

// Types that the signatures above name.
export type { TrainingHooks } from "./lib/run/hooks.ts";
export type { BestWeights, EngineState, FitPlan, FitState, WinnerState } from "./lib/train/fit.ts";
export type { TeacherInfo } from "./lib/train/distill.ts";
export type {
  AnyTeacher,
  TeacherChannels,
  TeacherInputOptions,
  TeacherKind,
  TeacherLayout,
  TeacherLogitsOptions,
  TeacherOutputs,
  TeacherPreprocessing,
  TeacherRecord,
} from "./lib/teacher/any.ts";
export type { SoftLabelsOptions } from "./lib/teacher/file_labels.ts";
export type { TeacherPlan, TeacherTrainState } from "./lib/teacher/train_state.ts";
export type { AdamMoments } from "./lib/teacher/_adam.ts";
export type { ImageFolderOptions } from "./lib/data/folder.ts";
export type { ArrayDataOptions } from "./lib/data/npz.ts";
export type { ImageSize } from "./lib/data/_images.ts";
export type { SplitRows } from "./lib/data/types.ts";
export type { FeatureFacts } from "./lib/report/_features.ts";
export type { CurvePoint } from "./lib/render/curves.ts";
