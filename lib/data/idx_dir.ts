/**
 * Loads a set of IDX files from a folder: MNIST and the data sets that copy its layout
 * (Fashion-MNIST, KMNIST, EMNIST, ...).
 *
 * @module
 */
import { join } from "node:path";
import { DatasetError } from "../errors.ts";
import { checkCount, folderProblem, holdOutTail, MAX_CLASSES, pathName } from "./_common.ts";
import { checkLabels, idxToDataset, type NamedIdx, sampleShape } from "./_idx_pair.ts";
import { readIdx } from "./idx.ts";
import type { Splits } from "./types.ts";

/** Options of {@linkcode loadIdxDir}. */
export interface IdxDirOptions {
  /**
   * How many training images, taken from the end, form the validation split.
   * @default Math.round(nTrain / 6), i.e. 10,000 of MNIST's 60,000
   */
  valSize?: number;
  /**
   * The number of classes `K`; every label must be in `[0, K)`.
   * @default the largest label in the training and test files, plus 1
   */
  classes?: number;
  /**
   * Only consider files whose names contain this text, e.g. `"balanced"` in a folder
   * holding several EMNIST splits.
   * @default "" (every file)
   */
  match?: string;
  /**
   * Transpose every image (swap rows and columns); EMNIST stores its images transposed.
   * @default true when the image files' names start with "emnist", else false
   */
  transpose?: boolean;
  /**
   * The `source` recorded in each split.
   * @default `idx:${dir}`
   */
  source?: string;
}

type Role = "train images" | "train labels" | "test images" | "test labels";
const ROLES: Role[] = ["train images", "train labels", "test images", "test labels"];
const EXAMPLES: Record<Role, string> = {
  "train images": "train-images-idx3-ubyte[.gz]",
  "train labels": "train-labels-idx1-ubyte[.gz]",
  "test images": "t10k-images-idx3-ubyte[.gz]",
  "test labels": "t10k-labels-idx1-ubyte[.gz]",
};

/**
 * What a file name says about the file: which split and whether images or labels, from the
 * words in it (`train`, `test` or `t10k`, `images` or `labels`, `idx3` / `idx1`), or `null`
 * when it is not an IDX file of a data set.
 *
 * @param fileName A file name without folder, e.g. `"emnist-digits-test-labels-idx1-ubyte.gz"`.
 * @returns The file's role, or `null`.
 * @example
 * ```ts
 * idxFileRole("t10k-images-idx3-ubyte.gz"); // "test images"
 * idxFileRole("README.md"); // null
 * ```
 */
export function idxFileRole(fileName: string): Role | null {
  const words = fileName.toLowerCase().split(/[^a-z0-9]+/);
  const idx = words.find((w) => /^idx\d$/.test(w));
  if (idx === undefined) return null;
  const split = words.includes("train")
    ? "train"
    : words.includes("test") || words.includes("t10k")
    ? "test"
    : null;
  const kind = words.includes("images") || words.includes("imgs")
    ? "images"
    : words.includes("labels")
    ? "labels"
    : idx === "idx1"
    ? "labels"
    : "images";
  return split === null ? null : `${split} ${kind}`;
}

/**
 * Loads train / validation / test splits from a folder of IDX files named like MNIST's
 * (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
 * `t10k-labels-idx1-ubyte`, each raw or `.gz`); other names work when they say `train` or
 * `test`, `images` or `labels` (e.g. `emnist-balanced-train-images-idx3-ubyte.gz`).
 *
 * Images are `[N, H, W]` or `[N, H, W, C]`; `uint8` pixels are scaled to [0, 1]. The
 * validation split is the last `valSize` training images; the test files give the test
 * split. When a folder holds both `x` and `x.gz`, the raw `x` is read.
 *
 * @param dir The folder.
 * @param options Validation size, number of classes, file filter, transposition.
 * @returns The three splits.
 * @throws {DatasetError} When the folder cannot be read, a file is missing or ambiguous, a
 * file is not valid IDX, the counts of images and labels differ, the image sizes of train
 * and test differ, or a label is outside `[0, K)`.
 * @throws {RangeError} When `valSize` or `classes` is not a valid count.
 * @example
 * ```ts
 * const { train, val, test } = await loadIdxDir("data/fashion");
 * train.n; // 50000
 * ```
 */
export async function loadIdxDir(dir: string | URL, options: IdxDirOptions = {}): Promise<Splits> {
  const dirName = pathName(dir);
  const fail = (problem: string, cause?: unknown): never => {
    throw new DatasetError(`Cannot load IDX folder "${dirName}": ${problem}`, { cause });
  };
  if (options.classes !== undefined) {
    checkCount(options.classes, "number of classes");
    if (options.classes < 1 || options.classes > MAX_CLASSES) {
      throw new RangeError(
        `Invalid number of classes "${options.classes}": expected 1 to ${MAX_CLASSES}`,
      );
    }
  }
  if (options.valSize !== undefined) checkCount(options.valSize, "validation size");

  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isDirectory) names.push(entry.name);
    }
  } catch (error) {
    const problem = folderProblem(error);
    fail(problem, error);
  }
  names.sort();
  const match = options.match ?? "";
  const found = new Map<Role, string[]>(ROLES.map((r) => [r, []]));
  for (const name of names) {
    const role = idxFileRole(name);
    if (role !== null && name.includes(match)) found.get(role)!.push(name);
  }
  const files = {} as Record<Role, string>;
  for (const role of ROLES) {
    let candidates = found.get(role)!;
    // The same file raw and gzipped: read the raw one (no gunzip).
    const raw = candidates.filter((c) => !c.endsWith(".gz"));
    if (raw.length === 1 && candidates.every((c) => c === raw[0] || c === `${raw[0]}.gz`)) {
      candidates = raw;
    }
    if (candidates.length === 0) {
      const seen = names.length === 0
        ? "the folder is empty"
        : `files there: ${names.slice(0, 8).map((n) => `"${n}"`).join(", ")}` +
          (names.length > 8 ? `, and ${names.length - 8} more` : "");
      fail(
        `found no file for ${role}` + (match ? ` containing "${match}"` : "") +
          ` (expected a name like "${EXAMPLES[role]}"); ${seen}`,
      );
    }
    if (candidates.length > 1) {
      fail(
        `found ${candidates.length} files for ${role} (` +
          candidates.map((c) => `"${c}"`).join(", ") + `); pass \`match\` to choose one`,
      );
    }
    files[role] = candidates[0];
  }

  const read = async (role: Role): Promise<NamedIdx> => {
    const path = join(dirName, files[role]);
    return { name: path, idx: await readIdx(path) };
  };
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(ROLES.map(read));

  const trainShape = sampleShape(trainImages);
  const testShape = sampleShape(testImages);
  const trainSize = trainImages.idx.shape.slice(1).join("x");
  const testSize = testImages.idx.shape.slice(1).join("x");
  if (trainSize !== testSize || (trainShape === null) !== (testShape === null)) {
    throw new DatasetError(
      `Cannot read IDX file "${testImages.name}": its items are ${testSize} but the training ` +
        `images ("${trainImages.name}") are ${trainSize}`,
    );
  }
  const maxLabel = Math.max(
    checkLabels(trainLabels, trainImages, options.classes),
    checkLabels(testLabels, testImages, options.classes),
  );
  const classes = options.classes ?? maxLabel + 1;
  if (classes < 1) fail("the label files hold no labels");
  const transpose = options.transpose ??
    files["train images"].toLowerCase().startsWith("emnist");
  const source = options.source ?? `idx:${dirName}`;
  const common = { classes, transpose, source };
  const train = idxToDataset(trainImages, trainLabels, common);
  const test = idxToDataset(testImages, testLabels, common);

  if (train.n === 0) fail(`the training files ("${files["train images"]}") hold no images`);
  const valSize = options.valSize ?? Math.round(train.n / 6);
  if (valSize >= train.n) {
    throw new RangeError(
      `Invalid validation size "${valSize}": the training files of "${dirName}" hold ` +
        `${train.n} images, so it must be less than ${train.n}`,
    );
  }
  return holdOutTail(train, valSize, test);
}
