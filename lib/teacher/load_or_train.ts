/**
 * The seed's `maybe_train`: load the teacher where one is saved, else train and save one.
 *
 * @module
 */
import type { Splits } from "../data/types.ts";
import { RunDirectoryError } from "../errors.ts";
import { loadTeacherState } from "./train_state.ts";
import { loadTeacher, saveTeacher, teacherExists, teacherPaths } from "./io.ts";
import {
  checkFits,
  type Teacher,
  teacherPredict,
  trainTeacher,
  type TrainTeacherOptions,
  type TrainTeacherResult,
} from "./model.ts";

/** Options of {@linkcode loadOrTrainTeacher}. */
export interface LoadOrTrainOptions extends Omit<TrainTeacherOptions, "val" | "teacher"> {
  /** Train (and overwrite) even when a teacher is saved at the path. @default false */
  retrain?: boolean;
  /** Merged into the trained teacher's metadata (for example `command`). */
  meta?: Record<string, unknown>;
  /** Progress of labelling the test split (samples done, of `total`). */
  onTestProgress?: (done: number, total: number) => void;
}

/** What {@linkcode loadOrTrainTeacher} returns. */
export interface LoadOrTrainResult {
  /** The teacher (call `dispose` when done). */
  teacher: Teacher;
  /** `true` when it was loaded, `false` when trained here. */
  loaded: boolean;
  /** The path of its `model.json`. */
  file: string;
  /** Its accuracy on `splits.test`, in [0, 1] (`NaN` for an empty split). */
  testAccuracy: number;
  /** Its predicted class for each test input, `[N]` (reuse them: fidelity needs them). */
  testPredictions: Int32Array;
  /** The training, when it was trained here. */
  training: TrainTeacherResult | null;
}

/**
 * Loads the teacher saved at `path` (checked against the data's shape and classes), or,
 * when none is there (or `retrain`), trains one on `splits.train` (validated on
 * `splits.val`), measures it on `splits.test` and saves it at `path`.
 *
 * @param path Teacher folder (or its `model.json`).
 * @param splits The data.
 * @param options Training options, `retrain`, and metadata to record.
 * @returns The teacher, whether it was loaded, its file and test accuracy.
 * @throws {CheckpointError} When a saved teacher is corrupt or does not fit the data.
 * @throws {RunDirectoryError} When the folder holds an unfinished training.
 * @example
 * ```ts
 * const { teacher, loaded } = await loadOrTrainTeacher("assets/teacher", splits);
 * ```
 */
export async function loadOrTrainTeacher(
  path: string,
  splits: Splits,
  options: LoadOrTrainOptions = {},
): Promise<LoadOrTrainResult> {
  const { model: file, dir } = teacherPaths(path);
  const unfinished = await loadTeacherState(dir).catch(() => null);
  if (unfinished && !options.retrain) {
    const t = unfinished.train;
    throw new RunDirectoryError(
      `The teacher folder "${dir}" holds an unfinished training (at epoch ${t.epoch} of ` +
        `${t.plan.epochs}); its model.json is the best teacher so far, not a finished one`,
      `finish it with \`softtree teacher train --resume --out ${dir}\`, or choose another teacher`,
    );
  }
  if (!options.retrain && await teacherExists(path)) {
    const teacher = await loadTeacher(path, splits.train);
    try {
      return {
        teacher,
        loaded: true,
        file,
        ...await testOf(teacher, splits, options),
        training: null,
      };
    } catch (error) {
      teacher.dispose();
      throw error;
    }
  }
  const training = await trainTeacher(splits.train, { ...options, val: splits.val });
  const { teacher } = training;
  const { testAccuracy, testPredictions } = await testOf(teacher, splits, options);
  teacher.meta = {
    ...teacher.meta,
    ...options.meta,
    testAccuracy,
    date: new Date().toISOString(),
  };
  await saveTeacher(teacher, path);
  return { teacher, loaded: false, file, testAccuracy, testPredictions, training };
}

async function testOf(
  teacher: Teacher,
  splits: Splits,
  options: LoadOrTrainOptions,
): Promise<{ testAccuracy: number; testPredictions: Int32Array }> {
  const test = splits.test;
  checkFits(teacher, test);
  const testPredictions = await teacherPredict(teacher, test.x, {
    onProgress: options.onTestProgress,
  });
  let right = 0;
  for (let i = 0; i < test.n; i++) if (testPredictions[i] === test.y[i]) right++;
  return { testAccuracy: test.n ? right / test.n : NaN, testPredictions };
}
