/**
 * Shared pieces of the command line: option parsers that turn bad values into usage
 * errors (exit 2), the runtime-error printer (exit 1), and JSON output.
 *
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import {
  CheckpointError,
  DatasetError,
  HintedError,
  TrainingDivergedError,
} from "../lib/errors.ts";
import { NativeError } from "../ffi/errors.ts";

/** A mistake in how a command was called; printed with a pointer to `--help`, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** An integer option within `[min, max]`. */
export function intArg(what: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(`${what} must be a whole number, got "${value}".`);
    }
    if (n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`${what} must be ${range}, got ${n}.`);
    }
    return n;
  };
}

/** A finite number option; `min` is inclusive unless `exclusiveMin`. */
export function numArg(
  what: string,
  { min = -Infinity, max = Infinity, exclusiveMin = false }: {
    min?: number;
    max?: number;
    exclusiveMin?: boolean;
  } = {},
) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) {
      throw new InvalidArgumentError(`${what} must be a number, got "${value}".`);
    }
    if (exclusiveMin ? n <= min : n < min) {
      throw new InvalidArgumentError(
        `${what} must be ${exclusiveMin ? "greater than" : "at least"} ${min}, got ${n}.`,
      );
    }
    if (n > max) throw new InvalidArgumentError(`${what} must be at most ${max}, got ${n}.`);
    return n;
  };
}

/** One of a fixed set of words. */
export function choiceArg<T extends string>(what: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(
        `${what} must be one of ${choices.map((c) => `"${c}"`).join(", ")}, got "${value}".`,
      );
    }
    return value as T;
  };
}

/** A runtime error (exit 1) that carries the hint line printed under it. */
export { HintedError };

/** The hint printed under a runtime error, chosen by the error's kind. */
export function hintFor(error: unknown): string {
  // BackendUnavailableError and RunDirectoryError are HintedErrors too.
  if (error instanceof HintedError) return error.hint;
  if (error instanceof TrainingDivergedError) {
    return "start over with a lower --learning-rate and --retrain";
  }
  if (error instanceof CheckpointError && /\bteacher\b|soft-labels/i.test(error.message)) {
    return "check --teacher and its --teacher-* options (layout, mean, std, outputs); " +
      "`softtree teacher eval --teacher PATH` tries a teacher alone";
  }
  if (error instanceof CheckpointError) {
    return "retrain with --retrain, or point --model at a valid run directory or checkpoint";
  }
  if (error instanceof DatasetError) {
    return "check the file named above, or use the default MNIST data (omit --data)";
  }
  if (error instanceof NativeError) {
    return "rebuild the native library with `deno task build:ffi`, or use --backend tfjs";
  }
  return "run again with --verbose to see the cause";
}

/** Print an error (and with `verbose`, its cause chain and stack) to stderr. */
export function printError(error: unknown, verbose: boolean): void {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`error: ${message}`);
  if (error instanceof UsageError) {
    console.error("see --help for usage");
    return;
  }
  console.error(`hint: ${hintFor(error)}`);
  if (verbose) {
    let cause: unknown = error;
    while (cause instanceof Error) {
      console.error(cause.stack ?? String(cause));
      cause = cause.cause;
      if (cause !== undefined) console.error("caused by:");
    }
  }
}

/** Print one JSON document on stdout. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
