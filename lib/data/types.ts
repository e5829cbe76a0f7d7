/**
 * Shapes: `N` samples, `F` features, `K` classes.
 *
 * @module
 */
import type { LabelReport } from "./labels.ts";

/** One split of a data set, held in memory. */
export interface Dataset {
  /** Inputs, row-major `[N, F]`, images scaled to [0, 1]. */
  x: Float32Array;
  /** Class labels `[N]`, each in `[0, K)`. */
  y: Int32Array;
  /** `N`. */
  n: number;
  /** `F`. */
  features: number;
  /** `K`. */
  classes: number;
  /** `[height, width, channels]` when the features are an image (channels last), else `null`. */
  imageShape: [number, number, number] | null;
  /** Names of the features (tabular data), else `null`. */
  featureNames: string[] | null;
  /** Where the data came from, for messages and checkpoints, e.g. `"mnist"`. */
  source: string;
  /** Names of the `K` classes, e.g. `"0".."9"` or a CSV file's label values. */
  classNames?: string[];
  /**
   * How tabular features were min-max scaled (computed on the training split):
   * `x = (raw - min) / (max - min)`, or `0` where `max == min`. Absent for images.
   */
  scaling?: { min: number[]; max: number[] };
  /** Each sample's row in its source, in the source's own order (all rows counted), when known. */
  sourceRows?: Int32Array;
}

/** The train / validation / test splits of a data set. */
export interface Splits {
  train: Dataset;
  val: Dataset;
  test: Dataset;
}

/** Splits as `loadData` returns them, with what their labels hold. */
export interface LoadedSplits extends Splits {
  /** The classes each split holds, and those without training samples. */
  labels: LabelReport;
}
