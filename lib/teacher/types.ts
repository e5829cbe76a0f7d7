/**
 * The plain records of a teacher: its shape, and what one epoch of its training did.
 *
 * @module
 */

/** The shape of a teacher network. */
export interface TeacherConfig {
  /** `[H, W, C]` of its input images. */
  inputShape: [number, number, number];
  /** `K`, the number of classes (logits). */
  classes: number;
  /** Filters of the two convolutions. @default [32, 64] */
  filters: [number, number];
  /** Units of the hidden dense layer. @default 128 */
  dense: number;
  /** Dropout rates after the pooling and after the dense layer. @default [0.25, 0.5] */
  dropout: [number, number];
}

/** Summary of one epoch. */
export interface TeacherEpochInfo {
  /** 1-based epoch. */
  epoch: number;
  /** Epochs in all. */
  epochs: number;
  /** Mean training loss over the epoch (with dropout). */
  loss: number;
  /** Accuracy on the validation split, in [0, 1] (`NaN` without one). */
  valAccuracy: number;
  /** Training throughput of the epoch. */
  samplesPerSec: number;
  /** Wall time of the epoch (training and validation). */
  seconds: number;
}
