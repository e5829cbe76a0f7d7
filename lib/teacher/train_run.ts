/**
 * A teacher's training as `softtree teacher train` performs it, made to survive: the folder's
 * lock while it trains, the resumable state (`teacher-state.bin`) after every epoch and when
 * interrupted, the best teacher so far saved as `model.json` + `weights.bin` as it goes, a
 * resume from the state, and at the end the trained teacher, measured on the test split.
 * Prints nothing.
 *
 * @module
 */
import { ensureTf } from "../backends/tf_setup.ts";
import type { Splits } from "../data/types.ts";
import { openRunFolder, progressOf, resumeNote, stoppedIn } from "../run/folder.ts";
import { saveTeacher, teacherPaths } from "./io.ts";
import {
  createTeacher,
  imageShapeOf,
  teacherAccuracy,
  trainTeacher,
  type TrainTeacherOptions,
  type TrainTeacherResult,
} from "./model.ts";
import {
  removeTeacherState,
  saveTeacherState,
  TEACHER_RUN,
  type TeacherTrainState,
} from "./train_state.ts";

/** Options of {@linkcode trainTeacherRun}. */
export interface TeacherRunOptions
  extends Omit<TrainTeacherOptions, "val" | "teacher" | "resume" | "onState"> {
  /** The teacher's folder. */
  out: string;
  /** Continue the interrupted training whose state the folder holds. @default false */
  resume?: boolean;
  /** Start over even if the folder holds an interrupted training. @default false */
  retrain?: boolean;
  /** Merged into the teacher's metadata (command line, options). */
  meta?: Record<string, unknown>;
  /** Lines worth showing: a stale lock taken over, where a resumed training goes on from. */
  onNote?: (line: string) => void;
}

/** What {@linkcode trainTeacherRun} did. */
export interface TeacherRunResult extends TrainTeacherResult {
  /** Accuracy on the test split, in [0, 1]. */
  testAccuracy: number;
  /** The saved `model.json`. */
  file: string;
  /** Whether an interrupted training was continued. */
  resumed: boolean;
}

/**
 * Train a teacher into `options.out` (validated on `splits.val`, measured on `splits.test`),
 * saving its state as it goes; see the module doc.
 *
 * @throws {RunDirectoryError} When another process trains into the folder, or it holds an
 *   interrupted training and neither `resume` nor `retrain` is set.
 * @throws {CheckpointError} When the saved state cannot be read.
 * @throws {TrainingInterruptedError} When `signal` is aborted: the state is saved, `out` set.
 * @throws {TrainingDivergedError} When the loss stops being finite (the best teacher so far
 *   stays saved).
 * @example
 * ```ts
 * const r = await trainTeacherRun(splits, { out: "runs/teacher", epochs: 6, resume: true });
 * r.testAccuracy; // 0.99
 * ```
 */
export async function trainTeacherRun(
  splits: Splits,
  options: TeacherRunOptions,
): Promise<TeacherRunResult> {
  const out = options.out;
  const run = await openRunFolder(out, TEACHER_RUN, {
    command: String(options.meta?.command ?? "teacher train"),
    resume: options.resume,
    retrain: options.retrain,
    onNote: options.onNote,
  });
  try {
    const saved = run.saved;
    await ensureTf();
    const seed = options.seed ?? 0;
    const teacher = createTeacher(imageShapeOf(splits.train), splits.train.classes, {
      ...options,
      seed,
    });
    if (saved) options.onNote?.(resumeNote(out, progressOf(saved.train)));
    const meta = { ...options.meta };
    const names = teacher.model.trainableWeights.map((w) => w.name);
    const onState = async (state: TeacherTrainState) => {
      // The state first: a teacher in progress is never on disk without the state to resume it.
      await saveTeacherState(out, { config: teacher.config, meta, names, train: state });
      if (state.bestIsCurrent && state.best) {
        const before = teacher.meta;
        teacher.meta = {
          ...before,
          ...meta,
          inProgress: true,
          epoch: state.best.epoch,
          valAccuracy: state.best.valAccuracy,
        };
        await saveTeacher(teacher, out);
        teacher.meta = before;
      }
    };
    let result: TrainTeacherResult;
    try {
      result = await trainTeacher(splits.train, {
        ...options,
        seed,
        val: splits.val,
        teacher,
        resume: saved?.train,
        onState,
      });
    } catch (error) {
      teacher.dispose();
      throw stoppedIn(error, out, teacherPaths(out).model);
    }
    const testAccuracy = await teacherAccuracy(result.teacher, splits.test);
    result.teacher.meta = {
      ...result.teacher.meta,
      ...meta,
      testAccuracy,
      date: new Date().toISOString(),
    };
    const file = await saveTeacher(result.teacher, out);
    await removeTeacherState(out);
    return { ...result, testAccuracy, file, resumed: saved !== null };
  } finally {
    await run.close();
  }
}
