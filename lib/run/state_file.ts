/**
 * The resumable state of a long training, as one file in its folder: written atomically and
 * durably (temporary file, fsync, rename, fsync the folder), read back with validation, and
 * removed when the training has finished. Each training says how its state is encoded
 * ({@link StateFile}); the tree's is `lib/train/state.ts`, the teacher's
 * `lib/teacher/train_state.ts`.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import { inDir, writeFileAtomic } from "../io/atomic.ts";

/** How one kind of training state is stored. */
export interface StateFile<T> {
  /** The file's name inside the folder, e.g. `"training-state.bin"`. */
  name: string;
  /** What it is, for messages, e.g. `"training state"`. */
  what: string;
  /** The state as bytes. */
  encode(state: T): Uint8Array;
  /**
   * The state from bytes, validated; `path` names the file in messages.
   * @throws {CheckpointError} for anything that is not a valid state.
   */
  decode(bytes: Uint8Array, path: string): T;
}

/**
 * Write a state into `dir`, atomically and durably.
 * @returns The file written.
 * @example
 * ```ts
 * await saveState("runs/x", TREE_STATE, state);
 * ```
 */
export async function saveState<T>(dir: string, file: StateFile<T>, state: T): Promise<string> {
  const path = inDir(dir, file.name);
  await writeFileAtomic(path, file.encode(state));
  return path;
}

/**
 * Read the state saved in `dir`, or `null` when there is none.
 * @throws {CheckpointError} naming the file when it is there but cannot be read or is invalid.
 */
export async function loadState<T>(dir: string, file: StateFile<T>): Promise<T | null> {
  const path = inDir(dir, file.name);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new CheckpointError(
      `Cannot read ${file.what} "${path}": ${(error as Error).message}`,
      { cause: error },
    );
  }
  return file.decode(bytes, path);
}

/** Remove the state file of `dir` (when its training has finished); none there is fine. */
export async function removeState(dir: string, file: { name: string }): Promise<void> {
  await Deno.remove(inDir(dir, file.name)).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/**
 * A resume must ask for the course the saved training was started with: every key of the
 * plan (epochs, batch size, seed, ...) the same.
 *
 * @param saved The saved training's plan.
 * @param plan This training's plan.
 * @param what The training in messages: `"run"`, `"teacher training"`.
 * @throws {RangeError} naming the first key that differs.
 */
export function checkSamePlan<P extends object>(saved: P, plan: P, what: string): void {
  for (const key of Object.keys(plan) as (keyof P)[]) {
    if (saved[key] !== plan[key]) {
      throw new RangeError(
        `Cannot resume: the saved ${what} has ${String(key)} ${
          JSON.stringify(saved[key])
        }, this one asks for ${JSON.stringify(plan[key])}`,
      );
    }
  }
}
