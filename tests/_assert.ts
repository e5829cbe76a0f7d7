/** Assertions shared by several test files. */
import assert from "node:assert/strict";
import { DatasetError } from "../lib/errors.ts";

/** Asserts that `fn` throws a DatasetError whose message holds every one of `parts`. */
export async function rejectsWith(fn: () => unknown, ...parts: string[]): Promise<void> {
  await assert.rejects(async () => await fn(), (error: unknown) => {
    assert.ok(error instanceof DatasetError, `expected a DatasetError, got ${error}`);
    for (const part of parts) {
      assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
    }
    return true;
  });
}
