/**
 * What the training loop reports.
 *
 * @module
 */

/** One epoch of training, as recorded in `metrics.json` and drawn as learning curves. */
export interface EpochRecord {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean per-sample loss `L(x)` over the epoch. */
  trainLoss: number;
  /** Mean penalty `C` over the epoch's batches. */
  penalty: number;
  /** Max-leaf accuracy on the training split (on hard labels), in [0, 1]. */
  trainAccuracy: number;
  /** Max-leaf accuracy on the validation split, in [0, 1]. */
  valAccuracy: number;
  /** Mixture accuracy on the validation split, in [0, 1]. */
  valAccuracyMixture: number;
  /** Learning rate used in this epoch. */
  learningRate: number;
  /** Wall seconds of the epoch's training (not evaluation). */
  seconds: number;
  /** Training samples per second in this epoch. */
  samplesPerSecond: number;
}
