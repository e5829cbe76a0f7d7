/**
 * The teacher: the seed's ConvNet (TensorFlow.js layers), trained fast on the wasm
 * backend, saved in TensorFlow.js's format, and the soft labels `distill` takes from it.
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
  softmaxT,
  teacherFingerprint,
} from "./soft_labels.ts";
export {
  type LoadOrTrainOptions,
  type LoadOrTrainResult,
  loadOrTrainTeacher,
} from "./load_or_train.ts";
export { registerTeacherKernels } from "./kernels.ts";
