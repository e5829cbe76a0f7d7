/**
 * What every long training takes besides its own options: progress callbacks, a stop request,
 * where its state goes to be saved, and a saved state to go on from. The tree's `FitOptions`
 * and the teacher's `TrainTeacherOptions` both extend it.
 *
 * @module
 */

/**
 * The hooks of a training whose batches report `B`, epochs `E` and saved state `S`.
 *
 * @example
 * ```ts
 * const hooks: TrainingHooks<BatchProgress, EpochRecord, FitState> = {
 *   onEpoch: (e) => console.log(e.epoch, e.valAccuracy),
 *   signal: stops.signal,
 *   onState: (state) => saveState(out, TREE_STATE, { ...saved, fit: state }),
 * };
 * ```
 */
export interface TrainingHooks<B, E, S> {
  /** Called during an epoch with its progress. */
  onBatch?: (progress: B) => void;
  /** Called after every epoch with what it did. */
  onEpoch?: (record: E) => void;
  /**
   * A stop request, checked at batch boundaries: the training hands its state to `onState`
   * and throws a `TrainingInterruptedError` saying where it stopped.
   */
  signal?: AbortSignal;
  /** Receives the training's state to save: after epochs, and when interrupted. */
  onState?: (state: S) => void | Promise<void>;
  /** Continue from a state `onState` received (with the same options and shapes). */
  resume?: S;
}
