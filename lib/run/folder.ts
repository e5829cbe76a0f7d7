/**
 * The folder a long training writes into (a tree's run directory, a teacher's folder): one
 * writer at a time (the run lock), an interrupted training found there continued only when
 * asked (`resume`) or dropped when asked (`retrain`), a line saying where a resumed training
 * goes on from, and the errors of a stopped training pointed at what the folder keeps.
 *
 * @module
 */
import { RunDirectoryError, TrainingDivergedError, TrainingInterruptedError } from "../errors.ts";
import { inDir } from "../io/atomic.ts";
import { acquireRunLock } from "../io/lock.ts";
import { loadState, removeState, type StateFile } from "./state_file.ts";

/** Where a saved training stands. */
export interface SavedProgress {
  /** The epoch in progress or next (1-based). */
  epoch: number;
  /** Epochs in all. */
  epochs: number;
  /** Samples of `epoch` trained (0: it has not started). */
  done: number;
  /** Samples per batch. */
  batchSize: number;
  /** Training samples per epoch. */
  trainSamples: number;
}

/**
 * Where a saved training stands, from the fields every state has: its epoch, the samples of
 * that epoch done, and its plan.
 */
export function progressOf(at: {
  epoch: number;
  done: number;
  plan: { epochs: number; batchSize: number; trainSamples: number };
}): SavedProgress {
  const { epochs, batchSize, trainSamples } = at.plan;
  return { epoch: at.epoch, epochs, done: at.done, batchSize, trainSamples };
}

/** A kind of training, as its folder knows it. */
export interface RunKind<S> {
  /** The folder's kind and the training's, for messages: `["run directory", "run"]`. */
  names: [folder: string, training: string];
  /** The state file. */
  state: StateFile<S>;
  /** Where a saved state stands. */
  progress: (saved: S) => SavedProgress;
}

/** Options of {@link openRunFolder}. */
export interface RunFolderOptions {
  /** What the lock says the process does (its command line). */
  command: string;
  /** Continue an interrupted training found there. @default false */
  resume?: boolean;
  /** Drop an interrupted training found there. @default false */
  retrain?: boolean;
  /** Take the folder's lock. @default true */
  lock?: boolean;
  /** Lines worth showing (a stale lock taken over). */
  onNote?: (line: string) => void;
}

/** An open run folder; `close` it when done. */
export interface RunFolder<S> {
  /** The interrupted training to continue, or `null` to start afresh. */
  saved: S | null;
  /** Release the lock. */
  close(): Promise<void>;
}

/**
 * Open `out` for a training: take its lock, read the state of an interrupted training (unless
 * `retrain`), refuse it unless `resume`, and remove a stale state when starting afresh.
 *
 * @throws {RunDirectoryError} When another process trains into the folder, or it holds an
 *   interrupted training and neither `resume` nor `retrain` is set.
 * @throws {CheckpointError} When the saved state cannot be read.
 * @example
 * ```ts
 * const run = await openRunFolder("runs/x", TREE_RUN, { command: "train", resume: true });
 * try { ... } finally { await run.close(); }
 * ```
 */
export async function openRunFolder<S>(
  out: string,
  kind: RunKind<S>,
  options: RunFolderOptions,
): Promise<RunFolder<S>> {
  const lock = options.lock === false ? null : await acquireRunLock(out, options.command);
  try {
    if (lock?.note) options.onNote?.(`${lock.note}: ${lock.path}`);
    const saved = options.retrain ? null : await loadState(out, kind.state);
    if (saved && !options.resume) {
      const p = kind.progress(saved);
      const [folder, training] = kind.names;
      throw new RunDirectoryError(
        `The ${folder} "${out}" holds an interrupted ${training} (at epoch ${p.epoch} of ` +
          `${p.epochs}, state saved in "${inDir(out, kind.state.name)}")`,
        "continue it with --resume, or start over with --retrain",
      );
    }
    if (!saved) await removeState(out, kind.state);
    return { saved, close: async () => await lock?.release() };
  } catch (error) {
    await lock?.release();
    throw error;
  }
}

/**
 * The line saying where a resumed training goes on:
 * `resuming runs/x in epoch 3 after batch 40 of 100` or `resuming runs/x at the start of epoch 3`.
 */
export function resumeNote(out: string, p: SavedProgress): string {
  const batches = Math.ceil(p.trainSamples / p.batchSize);
  return `resuming ${out} ${
    p.done === 0
      ? `at the start of epoch ${p.epoch}`
      : `in epoch ${p.epoch} after batch ${Math.ceil(p.done / p.batchSize)} of ${batches}`
  }`;
}

/**
 * The error a stopped training throws, pointed at its folder: an interruption names the folder
 * holding its state; a divergence after an epoch ended names the file holding the best weights.
 * Other errors come back as they are.
 */
export function stoppedIn(error: unknown, out: string, keptIn: string): unknown {
  if (error instanceof TrainingInterruptedError) error.out = out;
  if (error instanceof TrainingDivergedError && error.details.bestValAccuracy !== null) {
    return new TrainingDivergedError(error.at, { ...error.details, keptIn }, { cause: error });
  }
  return error;
}
