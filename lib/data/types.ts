/**
 * Shapes: `N` samples, `F` features, `K` classes.
 *
 * @module
 */

/**
 * What a data set's labels hold: classes, or a regression target; `"auto"` decides from the
 * data (a column of numbers that are not all whole numbers is a regression target).
 */
export type DataTask = "classification" | "regression" | "auto";

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
  /**
   * For gray images read from image folders and arrays: whether the training images are
   * light on a dark background (their mean border level is below 0.5), as MNIST's are; it
   * decides whether `predict` inverts inputs with a light background. Absent: light on dark.
   */
  lightOnDark?: boolean;
  /** Each sample's row in its source, in the source's own order (all rows counted), when known. */
  sourceRows?: Int32Array;
  /**
   * Regression data: each sample's target value in its own units, `[N]`. Such a data set
   * has `classes` 1, `classNames` `[target name]` and `y` all 0; absent for classification.
   */
  values?: Float32Array;
  /**
   * Regression data: the mean and standard deviation of the training split's `values` (the
   * same object in every split), by which the tree's targets are standardised.
   */
  targetScaling?: { mean: number; std: number };
}

/**
 * Where each split's samples sit in the source's own order: sample `i` of `train` is row
 * `train[i]` of the source. The source's order: a CSV file's data rows; an IDX folder's (and
 * MNIST's) training items, then its test items; an image folder's `train/`, `val/`, `test/`
 * (or its one set of class folders), each class in the order of its name, each file in the
 * order of its name; an npz's `x_train`, then `x_val`, then `x_test`; a `.npy` file's rows.
 * For files that hold one row per sample of the data, such as a teacher's outputs.
 */
export interface SplitRows {
  /** Rows of the training samples. */
  train: Int32Array;
  /** Rows of the validation samples. */
  val: Int32Array;
  /** `null` when the test set came from elsewhere (`testData`). */
  test: Int32Array | null;
}

/** The train / validation / test splits of a data set. */
export interface Splits {
  /** What the tree trains on. */
  train: Dataset;
  /** What early stopping and the choice among restarts look at. */
  val: Dataset;
  /** What the reported accuracy is measured on. */
  test: Dataset;
  /**
   * Each split's samples' positions in the source's own order (see {@linkcode SplitRows}),
   * where the loader knows them. A split that grows later (augmented copies appended) keeps
   * its first `rows.train.length` samples in place.
   */
  rows?: SplitRows;
}

/** Splits as `loadData` returns them, with what their labels hold. */
export interface LoadedSplits extends Splits {
  /** The classes each split holds, and those without training samples. */
  labels: LabelReport;
}

/** A class without training samples. */
export interface MissingClass {
  /** Its index. */
  class: number;
  /** Its name (`"10"`, `"setosa"`). */
  name: string;
  /** Its samples in the validation split. */
  val: number;
  /** Its samples in the test split. */
  test: number;
}

/** The classes a data set's splits hold. */
export interface LabelReport {
  /** `K`. */
  classes: number;
  /** The classes' names. */
  names: string[];
  /** Samples per class, `[K]`, in each split. */
  counts: { train: number[]; val: number[]; test: number[] };
  /** Classes with no training samples. */
  missingInTrain: MissingClass[];
  /** One line per problem, for people (empty when every class has training samples). */
  warnings: string[];
}
