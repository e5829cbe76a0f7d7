/**
 * Helpers shared by the loaders of `lib/data/`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { DatasetError } from "../errors.ts";
import type { Dataset, Splits } from "./types.ts";

/** The most classes a data set may have (labels imply `K = largest + 1`). */
export const MAX_CLASSES = 65536;

/** A path or `file:` URL as a string for messages. */
export function pathName(path: string | URL): string {
  if (path instanceof URL) return path.protocol === "file:" ? fileURLToPath(path) : path.href;
  return path;
}

/** Why reading a file failed, in words. */
export function readProblem(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "the file does not exist";
  if (error instanceof Deno.errors.PermissionDenied) return "permission to read it was denied";
  if (error instanceof Deno.errors.IsADirectory) return "it is a folder, not a file";
  return error instanceof Error ? error.message : String(error);
}

/** Why listing a folder failed, in words. */
export function folderProblem(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "the folder does not exist";
  if (error instanceof Deno.errors.NotADirectory) return "it is a file, not a folder";
  return readProblem(error);
}

/**
 * The bytes of a data file, or a `DatasetError` `Cannot read <kind> file "<name>": <why>`.
 * @param kind The format as the message names it: `"IDX"`, `"NPY"`, `"NPZ"`.
 */
export async function readDataFile(path: string | URL, kind: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw unreadable(path, kind, error);
  }
}

/** The text of a data file, or a `DatasetError` as {@linkcode readDataFile} throws. */
export async function readDataText(path: string | URL, kind: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw unreadable(path, kind, error);
  }
}

function unreadable(path: string | URL, kind: string, error: unknown): DatasetError {
  return new DatasetError(`Cannot read ${kind} file "${pathName(path)}": ${readProblem(error)}`, {
    cause: error,
  });
}

// i / 255 rounded once to float32, so that 255 maps to exactly 1.
const UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/** Bytes `[0, 255]` to floats `[0, 1]` in one pass. */
export function bytesToUnit(src: Uint8Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = UNIT[src[i]];
  return out;
}

/** The names `"0" .. "K-1"`. */
export function digitNames(k: number): string[] {
  return Array.from({ length: k }, (_, i) => String(i));
}

/** Rows `[start, end)` of a data set, sharing its memory. */
export function sliceRows(ds: Dataset, start: number, end: number): Dataset {
  end = Math.min(end, ds.n);
  start = Math.min(start, end);
  return {
    ...ds,
    x: ds.x.subarray(start * ds.features, end * ds.features),
    y: ds.y.subarray(start, end),
    n: end - start,
    ...(ds.sourceRows ? { sourceRows: ds.sourceRows.subarray(start, end) } : {}),
    ...(ds.values ? { values: ds.values.subarray(start, end) } : {}),
  };
}

/** Checks that a count is a non-negative integer, else throws a `RangeError`. */
export function checkCount(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Invalid ${what} "${value}": expected a non-negative integer`);
  }
  return value;
}

/** Splits without copying: `train` = rows before `nTrain`, `val` = the rest. */
export function holdOutTail(all: Dataset, valSize: number, test: Dataset): Splits {
  const nTrain = all.n - valSize;
  return { train: sliceRows(all, 0, nTrain), val: sliceRows(all, nTrain, all.n), test };
}

/** A NumPy shape as NumPy prints it: `"(60000, 28, 28)"`, `"(5,)"`. */
export function shapeText(shape: number[]): string {
  return `(${shape.join(", ")}${shape.length === 1 ? "," : ""})`;
}
