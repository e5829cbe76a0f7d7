/**
 * NumPy arrays as data sets: a `.npz` file in the layout of Keras's `mnist.npz` (`x_train`,
 * `y_train`, `x_test`, `y_test`, optional `x_val` / `y_val`), or a pair of `.npy` files.
 *
 * @module
 */
import { DatasetError } from "../errors.ts";
import { pathName, readDataFile } from "./_common.ts";
import { unzipSync } from "./_deps.ts";
import {
  assembleSplits,
  labelsFromArray,
  type Part,
  samplesFromArray,
  shapeText,
  type SourceParts,
} from "./_arrays.ts";
import { type NpyArray, parseNpy, readNpy } from "./npy.ts";
import type { DataTask, Splits } from "./types.ts";

/** Options of {@linkcode loadNpz} and {@linkcode loadNpyPair}. */
export interface ArrayDataOptions {
  /**
   * How many training samples form the validation split when the source has none of its
   * own; they are drawn by a seeded shuffle.
   * @default 1/6 of the training samples when the source has a test split, else `valFraction`
   */
  valSize?: number;
  /**
   * Fraction of the samples for validation, when the source has neither a validation nor a
   * test split (`.npy` pairs, `.npz` files with only `x_train`).
   * @default 0.15
   */
  valFraction?: number;
  /**
   * Fraction of the samples for the test split, when the source has none.
   * @default 0.15
   */
  testFraction?: number;
  /**
   * Carve a test split from the training samples when the source has none (false when the
   * test set is given separately).
   * @default true
   */
  carveTest?: boolean;
  /**
   * Seed of the shuffle that draws validation and test samples.
   * @default 0
   */
  seed?: number;
  /**
   * The number of classes `K`; every label must be in `[0, K)`.
   * @default the largest label plus 1 (or the number of distinct string labels)
   */
  classes?: number;
  /**
   * The `source` recorded in each split.
   * @default `npz:${path}` or `npy:${x},${y}`
   */
  source?: string;
  /**
   * Whether the labels are classes or a regression target (numbers, `(N,)`); `"auto"` takes
   * labels that are not all whole numbers as a regression target.
   * @default "auto"
   */
  task?: DataTask;
}

/**
 * Reads every array of a `.npz` file (a zip of `.npy` files, as `numpy.savez` and
 * `numpy.savez_compressed` write them).
 *
 * @param path The file's path or `file:` URL.
 * @returns The arrays by name, without `.npy` (`"x_train"`); other zip entries are skipped.
 * @throws {DatasetError} When the file cannot be read, is not a zip archive, or holds a
 * `.npy` entry softtree does not read (see {@linkcode parseNpy}).
 * @example
 * ```ts
 * const arrays = await readNpz("mnist.npz");
 * arrays.get("x_train")?.shape; // [60000, 28, 28]
 * ```
 */
export async function readNpz(path: string | URL): Promise<Map<string, NpyArray>> {
  const name = pathName(path);
  const bytes = await readDataFile(path, "NPZ");
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new DatasetError(
      `Cannot read NPZ file "${name}": it is not a zip archive of .npy files (${why})`,
      { cause: error },
    );
  }
  const arrays = new Map<string, NpyArray>();
  for (const [entry, content] of Object.entries(files)) {
    if (!entry.endsWith(".npy")) continue;
    arrays.set(entry.slice(0, -4), parseNpy(content, `${name}: ${entry}`));
  }
  return arrays;
}

/**
 * Loads a `.npz` file in Keras's `mnist.npz` layout: `x_train` and `y_train`, `x_test` and
 * `y_test` (optional: without them a test split is carved from the training samples),
 * `x_val` and `y_val` (optional: without them the validation split is carved). Images are
 * `(N, H, W)`, `(N, H, W, C)` or `(N, C, H, W)` with 1 or 3 channels, uint8 (scaled by 1/255)
 * or float in [0, 1] (kept) or [0, 255] (scaled); rows `(N, F)` are tabular features,
 * min-max scaled by the training split's ranges like CSV columns. Labels are integers `(N,)`
 * or `(N, 1)`, one-hot rows `(N, K)`, or strings (sorted, numbered from 0). Optional string
 * arrays `class_names` `(K,)` and `feature_names` `(F,)` name the classes and columns.
 *
 * @param path The file's path or `file:` URL.
 * @param options Validation size, split fractions, seed, number of classes.
 * @returns The three splits.
 * @throws {DatasetError} When the file cannot be read, is not a zip of `.npy` files, lacks
 * `x_train` / `y_train` (the message lists the arrays it has), or holds arrays of bad type
 * or shape.
 * @throws {RangeError} When a count or fraction is out of range.
 * @example
 * ```ts
 * const { train, test } = await loadNpz("mnist.npz");
 * train.imageShape; // [28, 28, 1]
 * ```
 */
export async function loadNpz(path: string | URL, options: ArrayDataOptions = {}): Promise<Splits> {
  const name = pathName(path);
  const fail = (problem: string, cause?: unknown): never => {
    throw new DatasetError(`Cannot load NPZ file "${name}": ${problem}`, { cause });
  };
  const arrays = await readNpz(path);
  const has = () =>
    arrays.size === 0
      ? "it holds no arrays"
      : `it holds ${[...arrays].map(([k, a]) => `"${k}" ${shapeText(a.shape)}`).join(", ")}`;
  for (const key of ["x_train", "y_train"]) {
    if (!arrays.has(key)) {
      fail(
        `it has no array "${key}" (expected Keras's layout: x_train, y_train, and optionally ` +
          `x_test, y_test, x_val, y_val); ${has()}`,
      );
    }
  }
  const part = (split: string): Part | undefined => {
    const x = arrays.get(`x_${split}`);
    const y = arrays.get(`y_${split}`);
    if (!x && !y) return undefined;
    if (!x || !y) {
      fail(`it has "${x ? "x" : "y"}_${split}" but no "${x ? "y" : "x"}_${split}"; ${has()}`);
    }
    const samples = samplesFromArray(x!, `"x_${split}"`, fail);
    const labels = labelsFromArray(
      y!,
      `"y_${split}"`,
      samples.n,
      `"x_${split}"`,
      fail,
      options.task,
    );
    stringNames ??= labels.names;
    if (labels.names && labels.names.join("\n") !== stringNames?.join("\n")) {
      // Different string label sets per split: renumber by the training split's names.
      fail(`"y_${split}" holds other class names than "y_train"`);
    }
    return { x: samples, y: labels.y, ...(labels.values ? { values: labels.values } : {}) };
  };
  let stringNames: string[] | null = null;
  const train = part("train")!;
  const val = part("val");
  const test = part("test");
  for (const [split, p] of [["val", val], ["test", test]] as const) {
    if (
      p && shapeText(p.x.imageShape ?? [p.x.features]) !==
        shapeText(train.x.imageShape ?? [train.x.features])
    ) {
      fail(
        `"x_${split}" has shape ${shapeText(arrays.get(`x_${split}`)!.shape)}, but "x_train" ` +
          `has ${shapeText(arrays.get("x_train")!.shape)}`,
      );
    }
  }
  const classNames = strings(arrays.get("class_names"), "class_names", fail) ?? stringNames ?? [];
  const featureNames = strings(arrays.get("feature_names"), "feature_names", fail);
  if (featureNames && (train.x.imageShape || featureNames.length !== train.x.features)) {
    fail(
      `"feature_names" names ${featureNames.length} features, but "x_train" has shape ` +
        shapeText(arrays.get("x_train")!.shape),
    );
  }
  const parts: SourceParts = {
    train,
    val,
    test,
    classNames,
    featureNames,
    source: options.source ?? `npz:${name}`,
  };
  return assembleSplits(parts, options, fail);
}

function strings(
  array: NpyArray | undefined,
  what: string,
  fail: (problem: string) => never,
): string[] | null {
  if (!array) return null;
  if (array.dtype !== "string" || array.shape.length !== 1) {
    fail(
      `"${what}" must be a 1-D array of strings, it is ${array.dtype} ${shapeText(array.shape)}`,
    );
  }
  return array.data as string[];
}

/**
 * Loads a pair of `.npy` files, samples and labels, and splits them into train / validation
 * / test by a seeded shuffle (`valFraction`, `testFraction`). Samples and labels are read
 * as by {@linkcode loadNpz}.
 *
 * @param xPath The samples' file: `(N, F)` rows or `(N, H, W[, C])` images.
 * @param yPath The labels' file: `(N,)`.
 * @param options Split fractions, seed, number of classes.
 * @returns The three splits.
 * @throws {DatasetError} When a file cannot be read, is not a `.npy` file softtree reads, or
 * the shapes do not fit (e.g. 100 labels for 99 samples).
 * @throws {RangeError} When a count or fraction is out of range.
 * @example
 * ```ts
 * const { train } = await loadNpyPair("x.npy", "y.npy", { seed: 1 });
 * ```
 */
export async function loadNpyPair(
  xPath: string | URL,
  yPath: string | URL,
  options: ArrayDataOptions = {},
): Promise<Splits> {
  const xName = pathName(xPath);
  const yName = pathName(yPath);
  const fail = (problem: string, cause?: unknown): never => {
    throw new DatasetError(`Cannot load NPY files "${xName}" and "${yName}": ${problem}`, {
      cause,
    });
  };
  const [x, y] = await Promise.all([readNpy(xPath), readNpy(yPath)]);
  const samples = samplesFromArray(x, `"${xName}"`, fail);
  const labels = labelsFromArray(y, `"${yName}"`, samples.n, `"${xName}"`, fail, options.task);
  return assembleSplits(
    {
      train: { x: samples, y: labels.y, ...(labels.values ? { values: labels.values } : {}) },
      classNames: labels.names ?? [],
      featureNames: null,
      source: options.source ?? `npy:${xName},${yName}`,
    },
    options,
    fail,
  );
}
