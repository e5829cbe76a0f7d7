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
