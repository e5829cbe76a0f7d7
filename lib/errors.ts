/**
 * The few domain errors that callers catch. Everything else is a `TypeError`,
 * `RangeError` or `SyntaxError` by meaning.
 *
 * @module
 */

/**
 * An error that carries one line telling the user what to do about it (the CLI prints it as
 * `hint:` under the message).
 *
 * @example
 * ```ts
 * const error = new HintedError('Cannot write "out.svg": the folder does not exist', "create it first");
 * error.hint; // "create it first"
 * ```
 */
export class HintedError extends Error {
  /** The error's name. */
  override name = "HintedError";
  /** What the user can do about it. */
  readonly hint: string;
  /**
   * Makes the error.
   *
   * @param message What failed and why.
   * @param hint What to do about it.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.hint = hint;
  }
}

/** A data file or folder could not be read, or holds bad data. */
export class DatasetError extends Error {
  /** The error's name. */
  override name = "DatasetError";
}

/** A checkpoint (tree or teacher) is missing, corrupt or does not fit. */
export class CheckpointError extends Error {
  /** The error's name. */
  override name = "CheckpointError";
}

/** A backend was asked for by name but cannot load here. */
export class BackendUnavailableError extends HintedError {
  /** The error's name. */
  override name = "BackendUnavailableError";
}

/**
 * A run directory cannot be trained into as asked: another process holds its lock, or it
 * holds an interrupted run that neither `resume` nor `retrain` was asked for.
 */
export class RunDirectoryError extends HintedError {
  /** The error's name. */
  override name = "RunDirectoryError";
}

/** Where a run stopped: epoch and batch, 1-based. */
export interface StopPoint {
  /** The epoch (1-based). */
  epoch: number;
  /** The batch of that epoch (1-based), or its batch count when the epoch had ended. */
  batch: number;
  /** Batches in an epoch. */
  batches: number;
}

/** What a {@linkcode TrainingDivergedError} reports besides where. */
export interface DivergenceDetails {
  /** What the loss became. */
  loss: "NaN" | "infinite";
  /** The best validation accuracy so far, in [0, 1], or `null` before the first epoch ended. */
  bestValAccuracy: number | null;
  /** The learning rate in use. */
  learningRate: number;
  /** The file the best weights were saved in, if any. */
  keptIn?: string;
}

/** The loss became NaN or infinite: training stopped, the best weights so far were kept. */
export class TrainingDivergedError extends Error {
  /** The error's name. */
  override name = "TrainingDivergedError";
  /** Where the loss first stopped being finite. */
  readonly at: StopPoint;
  /** What the loss became, the best accuracy so far, the learning rate. */
  readonly details: DivergenceDetails;
  /**
   * Makes the error; its message says where, what the loss became and what was kept.
   *
   * @param at Epoch and batch.
   * @param details What the loss became, the best accuracy kept and where, the learning rate.
   * @param options Standard error options (`cause`).
   */
  constructor(at: StopPoint, details: DivergenceDetails, options?: ErrorOptions) {
    const best = details.bestValAccuracy;
    super(
      `Training diverged at epoch ${at.epoch} (batch ${at.batch} of ${at.batches}): the loss ` +
        `became ${details.loss}; ${
          best === null
            ? "no epoch had finished, so there are no weights to keep"
            : `the best weights so far (val ${(best * 100).toFixed(2)}%) are kept${
              details.keptIn ? ` in "${details.keptIn}"` : ""
            }`
        }; try a lower learning rate (it is ${details.learningRate})`,
      options,
    );
    this.at = at;
    this.details = details;
  }
}

/**
 * Training stopped because it was asked to (an `AbortSignal`, for example on Ctrl-C): its
 * state is saved, and resuming continues it where it stopped.
 */
export class TrainingInterruptedError extends Error {
  /** The error's name. */
  override name = "TrainingInterruptedError";
  /** Where it stopped. */
  readonly at: StopPoint;
  /** The best validation accuracy so far, in [0, 1], or `null` before the first epoch ended. */
  readonly bestValAccuracy: number | null;
  /** The abort signal's reason (e.g. `"SIGINT"`). */
  readonly reason: unknown;
  /** The run directory (or teacher folder) holding the saved state; "" when nothing was saved. */
  out: string;
  /**
   * Makes the error.
   *
   * @param message Where it stopped.
   * @param at Epoch and batch.
   * @param bestValAccuracy The best validation accuracy so far.
   * @param reason The abort signal's reason.
   */
  constructor(message: string, at: StopPoint, bestValAccuracy: number | null, reason: unknown) {
    super(message);
    this.at = at;
    this.bestValAccuracy = bestValAccuracy;
    this.reason = reason;
    this.out = "";
  }
}
