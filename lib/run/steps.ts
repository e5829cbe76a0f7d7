/**
 * One way to drive a training loop, the tree's and the teacher's alike. A loop is a
 * generator that does the maths and says what it needs from the run around it:
 *
 * - `yield null` at a batch boundary: the driver lets the event loop run (at most every
 *   50 ms, so that a Ctrl-C handler can abort the signal) and answers whether a stop was
 *   requested (`true` when `signal` is aborted);
 * - `yield state`: a state to save; the driver hands it to `onState` (awaited);
 * - `return result` when training has finished.
 *
 * So the loop itself stays plain: no timers, no files, no signal handling.
 *
 * @example
 * ```ts
 * function* loop(): StepLoop<number, string> {
 *   for (let epoch = 1; epoch <= 3; epoch++) {
 *     if (yield null) throw new Error("stopped");
 *     yield epoch; // a state to save
 *   }
 *   return "done";
 * }
 * await driveSteps(loop(), { onState: (s) => console.log("save", s) });
 * ```
 *
 * @module
 */
import { Breather } from "./stop.ts";

/** What a loop yields: a state to save, or `null` at a batch boundary. */
export type Step<S> = S | null;

/** A training loop that {@link driveSteps} runs: yields steps, is told whether to stop. */
export type StepLoop<S, R> = Generator<Step<S>, R, boolean>;

/** A training loop that awaits between steps (reading results back from a device). */
export type AsyncStepLoop<S, R> = AsyncGenerator<Step<S>, R, boolean>;

/** Options of {@link driveSteps} and {@link driveStepsSync}. */
export interface DriveOptions<S> {
  /** Receives each state to save. */
  onState?: (state: S) => void | Promise<void>;
  /** The stop request the loop is told about at batch boundaries. */
  signal?: AbortSignal;
}

/**
 * Run a loop, letting the event loop run between batches and awaiting `onState`.
 * @returns What the loop returns.
 * @throws Whatever the loop or `onState` throws.
 */
export async function driveSteps<S, R>(
  loop: StepLoop<S, R> | AsyncStepLoop<S, R>,
  options: DriveOptions<S> = {},
): Promise<R> {
  const breather = new Breather();
  let answer: boolean | undefined;
  for (;;) {
    const next = await (answer === undefined ? loop.next() : loop.next(answer));
    if (next.done) return next.value;
    answer = false;
    if (next.value !== null) await options.onState?.(next.value);
    else {
      await breather.breathe();
      answer = Boolean(options.signal?.aborted);
    }
  }
}

/**
 * Run a loop synchronously: a stop request can then only come from the loop's own callbacks,
 * and `onState` must not return a promise.
 * @param names The caller and its asynchronous twin, for the error. @default ["driveStepsSync()", "driveSteps()"]
 * @returns What the loop returns.
 * @throws {TypeError} When `onState` returns a promise (use {@link driveSteps}).
 */
export function driveStepsSync<S, R>(
  loop: StepLoop<S, R>,
  options: DriveOptions<S> = {},
  names: [string, string] = ["driveStepsSync()", "driveSteps()"],
): R {
  let answer: boolean | undefined;
  for (;;) {
    const next = answer === undefined ? loop.next() : loop.next(answer);
    if (next.done) return next.value;
    answer = false;
    if (next.value !== null) {
      const pending = options.onState?.(next.value);
      if (pending instanceof Promise) {
        throw new TypeError(
          `${names[0]} got a promise from onState: use ${names[1]} to save asynchronously`,
        );
      }
    } else answer = Boolean(options.signal?.aborted);
  }
}
