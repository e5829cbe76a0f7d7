/**
 * What a tree checkpoint holds once loaded.
 *
 * @module
 */
import type { TreeConfig, TreeParams } from "../tree/types.ts";

/** Facts about the data a tree was trained on, kept in its checkpoint for rendering. */
export interface DataInfo {
  /** Where the data came from, e.g. `"mnist"` or `"csv:iris.csv"`. */
  source: string;
  /** `[height, width, channels]` for image data, else `null`. */
  imageShape: [number, number, number] | null;
  /** Feature names for tabular data, else `null`. */
  featureNames: string[] | null;
  /** Class names (e.g. `"0".."9"`), `K` of them. */
  classNames: string[];
  /**
   * How tabular features were min-max scaled on the training split (see `Dataset.scaling`),
   * so that new rows can be scaled the same way; absent for images and older checkpoints.
   */
  scaling?: { min: number[]; max: number[] };
  /**
   * For gray images: whether the training images are light on a dark background (see
   * `Dataset.lightOnDark`); absent (older checkpoints, MNIST and IDX data) means they are.
   */
  lightOnDark?: boolean;
  /**
   * The teachers a distilled tree learnt from: kind, file, input shape, classes and
   * preprocessing of each (see `TeacherRecord` in `lib/teacher/any.ts`); absent for trees
   * trained on labels and older checkpoints.
   */
  teacher?: Record<string, unknown>[];
  /**
   * For regression trees (`config.task === "regression"`): what the tree predicts and the
   * units of its leaves; absent for classification trees.
   */
  target?: TargetInfo;
}

/**
 * A regression tree's target. The tree trains on standardised targets
 * `t = (value - mean) / std` (computed on the training split), so a leaf's parameter
 * `phi^l` is in those units: its value is `phi^l * std + mean`.
 */
export interface TargetInfo {
  /** The target's name (a CSV column's name, `"value"` when unnamed). */
  name: string;
  /** Mean of the training targets. */
  mean: number;
  /** Standard deviation of the training targets (1 when they are all equal). */
  std: number;
  /**
   * Per leaf, the share of training rows whose most probable leaf it is (`[L]`, summing to 1),
   * and the standard deviation of those rows' targets in the target's own units (`[L]`, `null`
   * for a leaf that no row reaches). Absent until training has finished.
   */
  leaves?: { share: number[]; std: (number | null)[] };
}

/** A trained tree as saved in a run directory. */
export interface TreeCheckpoint {
  /** Format version of the file. */
  version: number;
  /** Depth, classes, features and the training settings. */
  config: TreeConfig;
  /** The trained weights. */
  params: TreeParams;
  /** What the data look like: image shape or feature names, class names, scaling. */
  data: DataInfo;
  /** Free-form facts: seed, command line, accuracy, date. */
  meta: Record<string, unknown>;
}
