/**
 * The teacher: the seed's ConvNet (TensorFlow.js layers), trained and run on native kernels
 * (`ffi/stk_cpu.c`, registered as TensorFlow.js kernels; the wasm backend's are the fallback,
 * see `prepareTeacherKernels`), saved in TensorFlow.js's format, and the soft labels
 * `distill` takes from it; and teachers from elsewhere behind one interface (`AnyTeacher`,
 * opened by `openTeacher`): an ONNX model (ONNX Runtime), any TensorFlow.js layers or graph
 * model, or a file of a teacher's outputs (`openSoftLabelsTeacher`).
 *
 * Shapes: `N` samples, `F = H*W*C` features, `K` classes; inputs are `[N, F]` row-major,
 * images channels-last.
 *
 * @example
 * ```ts
 * import { loadData } from "../data/mod.ts";
 * import { loadOrTrainTeacher, softLabels, teacherPredict } from "./mod.ts";
 *
 * const splits = await loadData("mnist");
 * const { teacher } = await loadOrTrainTeacher("assets/teacher", splits);
 * const targets = await softLabels(teacher, splits.train.x, { temperature: 1, cacheDir: ".cache" });
 * const pred = await teacherPredict(teacher, splits.test.x); // [N]
 * teacher.dispose();
 * ```
 *
 * @module
 */
export {
  argmaxRows,
  checkFits,
  createTeacher,
  type CreateTeacherOptions,
  type LayersModel,
  type PredictOptions,
  SEED_TEACHER,
  Teacher,
  teacherAccuracy,
  type TeacherBatchInfo,
  type TeacherConfig,
  type TeacherEpochInfo,
  teacherLogits,
  type TeacherMeta,
  teacherPredict,
  trainTeacher,
  type TrainTeacherOptions,
  type TrainTeacherResult,
} from "./model.ts";
export {
  loadTeacher,
  saveTeacher,
  TEACHER_FILES,
  TEACHER_FORMAT_VERSION,
  teacherExists,
  teacherPaths,
} from "./io.ts";
export {
  cachedTeacherLogits,
  type CacheEvent,
  type SoftLabelOptions,
  softLabels,
  type SoftLabelStats,
  softLabelStats,
  softmaxT,
  teacherFingerprint,
} from "./soft_labels.ts";
export {
  type LoadOrTrainOptions,
  type LoadOrTrainResult,
  loadOrTrainTeacher,
} from "./load_or_train.ts";
export { registerTeacherKernels } from "./kernels.ts";
export {
  currentTeacherKernels,
  prepareTeacherKernels,
  TEACHER_KERNEL_CHOICES,
  type TeacherKernelChoice,
  type TeacherKernelOptions,
  type TeacherKernels,
} from "./kernels_select.ts";
export { nativeKernelCalls } from "./kernels_native.ts";
export {
  type CrossFitOptions,
  crossFitTeachers,
  disposePanel,
  foldAssignment,
  panelLogits,
  subsetRows,
  teacherEnsemble,
  type TeacherPanel,
} from "./panel.ts";
export {
  type AnyTeacher,
  dataShapeText,
  describePreprocessing,
  describeTeacherRecord,
  inputOptionsOf,
  looksLikeProbabilities,
  preprocessRows,
  resolveInput,
  resolvePreprocessing,
  TEACHER_CHANNELS,
  TEACHER_LAYOUTS,
  TEACHER_OUTPUTS,
  type TeacherChannels,
  type TeacherInputOptions,
  type TeacherKind,
  type TeacherLayout,
  type TeacherLogitsOptions,
  type TeacherOutputs,
  type TeacherPreprocessing,
  type TeacherRecord,
  teacherRecord,
} from "./any.ts";
export { inputOptionGiven, openTeacher, type TeacherFileKind, teacherFileKind } from "./open.ts";
export { asAnyTeacher, SofttreeTeacher } from "./softtree_teacher.ts";
export { openTfjsTeacher, TfjsTeacher } from "./tfjs_model.ts";
export { OnnxTeacher, openOnnxTeacher } from "./onnx.ts";
export {
  openSoftLabelsTeacher,
  type SoftLabelsOptions,
  SoftLabelsTeacher,
  sourceRowCount,
  transferRows,
} from "./file_labels.ts";
export {
  type EnsembleOptions,
  type PanelMember,
  rowsOf,
  softLabelsPanel,
  teacherSplitAccuracy,
} from "./panel.ts";
