/**
 * What every long training shares, the tree's and the teacher's alike: the folder it writes
 * into (lock, resume or retrain, where a resumed run goes on), its state file (atomic,
 * durable, validated), how it stops (on request at a batch boundary, on a loss that is no
 * longer finite, on Ctrl-C or SIGTERM), and the driver that runs a training loop (breathing
 * room for signal handlers, stop requests, states handed out to be saved). The training
 * loops themselves stay plain generators: `lib/train/fit.ts` for trees, `lib/teacher/model.ts`
 * for the teacher.
 *
 * @example
 * ```ts
 * import { openRunFolder, resumeNote } from "./mod.ts";
 *
 * const run = await openRunFolder(out, kind, { command, resume: true });
 * try {
 *   if (run.saved) onNote(resumeNote(out, kind.progress(run.saved)));
 *   // train, saving the state with saveState(out, kind.state, ...) after epochs
 * } finally {
 *   await run.close();
 * }
 * ```
 *
 * @module
 */
export {
  openRunFolder,
  progressOf,
  resumeNote,
  type RunFolder,
  type RunFolderOptions,
  type RunKind,
  type SavedProgress,
  stoppedIn,
} from "./folder.ts";
export { checkSamePlan, loadState, removeState, saveState, type StateFile } from "./state_file.ts";
export { StopOnSignals, type StopOnSignalsOptions, type StopSignalName } from "./signals.ts";
export type { TrainingHooks } from "./hooks.ts";
export { type CandidateEvent, type CandidateResult, Restarts } from "./restarts.ts";
export { Breather, divergedError, interruptedError } from "./stop.ts";
/** The errors of a stopped training, which the run layer builds. */
export { type StopPoint, TrainingDivergedError, TrainingInterruptedError } from "../errors.ts";
export {
  type AsyncStepLoop,
  type DriveOptions,
  driveSteps,
  driveStepsSync,
  type Step,
  type StepLoop,
} from "./steps.ts";
