/**
 * How a training loop stops: on request (an `AbortSignal`, which a Ctrl-C or SIGTERM handler
 * aborts) at the next batch boundary, or because the loss stopped being finite; and the
 * breathing room a synchronous loop must give the event loop for a signal handler to run.
 *
 * @module
 */
import { type StopPoint, TrainingDivergedError, TrainingInterruptedError } from "../errors.ts";

/**
 * Lets the event loop run at most every `ms` milliseconds: a batch's work may never reach it,
 * and a signal handler can only abort the run's `AbortSignal` when it does.
 *
 * @example
 * ```ts
 * const breather = new Breather();
 * for (const batch of batches) { step(batch); await breather.breathe(); if (signal.aborted) break; }
 * ```
 */
export class Breather {
  readonly #ms: number;
  #last = performance.now();

  /**
   * A breather that pauses at most every `ms` milliseconds.
   * @param ms Least milliseconds between two pauses. @default 50
   */
  constructor(ms = 50) {
    this.#ms = ms;
  }

  /** Whether a pause is due. */
  get due(): boolean {
    return performance.now() - this.#last > this.#ms;
  }

  /** Pause for one turn of the event loop if one is due. */
  async breathe(): Promise<void> {
    if (!this.due) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#last = performance.now();
  }
}

/**
 * The error of a training stopped on request.
 * @param what The training, starting the message: `"Training"`, `"Teacher training"`.
 * @param at Where it stopped.
 * @param best The best validation accuracy so far, or `null`.
 * @param reason The signal's reason (`"SIGINT"`).
 */
export function interruptedError(
  what: string,
  at: StopPoint,
  best: number | null,
  reason: unknown,
): TrainingInterruptedError {
  return new TrainingInterruptedError(
    `${what} was interrupted at epoch ${at.epoch} (batch ${at.batch} of ${at.batches})`,
    at,
    best,
    reason,
  );
}

/**
 * The error of a training whose loss `value` stopped being finite at `at`.
 * @param best The best validation accuracy so far, or `null` (nothing to keep).
 * @param learningRate The learning rate in use.
 */
export function divergedError(
  at: StopPoint,
  value: number,
  best: number | null,
  learningRate: number,
): TrainingDivergedError {
  return new TrainingDivergedError(at, {
    loss: Number.isNaN(value) ? "NaN" : "infinite",
    bestValAccuracy: best,
    learningRate,
  });
}
