/**
 * The training loop: seeded shuffling, chunked epochs with progress callbacks,
 * validation every epoch, early stopping with patience that restores the best weights,
 * an optional learning-rate schedule, and snapshots for animations. Prints nothing.
 *
 * @module
 */
import type { LossReport, TreeEngine } from "../backends/types.ts";
import type { Dataset } from "../data/types.ts";
import type { PenaltyState, TreeParams } from "../tree/types.ts";
import { Rng } from "../util/random.ts";
import type { EpochRecord } from "./types.ts";

/** Progress inside an epoch. */
export interface BatchProgress {
  epoch: number;
  epochs: number;
  /** Samples of this epoch done so far. */
  samplesDone: number;
  /** Samples in one epoch. */
  samplesTotal: number;
  /** Mean loss over this epoch so far. */
  loss: number;
  /** Training samples per second in this epoch so far. */
  samplesPerSecond: number;
}

/** How to train. */
export interface FitOptions {
  /** @default 40 */
  epochs?: number;
  /** @default 4 */
  batchSize?: number;
  /** Stop after this many epochs without a better validation accuracy; 0 never stops early. @default 20 */
  patience?: number;
  /** Seed of the shuffling. @default 0 */
  seed?: number;
  /** Learning-rate schedule over epochs: constant, or cosine decay to 5% of the rate. @default "constant" */
  schedule?: "constant" | "cosine";
  /**
   * Anneal a fixed beta geometrically from the tree's `invTemp` (first epoch) to this value
   * (last epoch), sharpening the routing as training goes. Ignored when beta is learned.
   * @default undefined (beta stays fixed)
   */
  betaTo?: number;
  /** Targets `[N, K]` for the training split (soft labels); one-hot of `train.y` when omitted. */
  targets?: Float32Array;
  /** Training samples on which the per-epoch training accuracy is measured. @default 10000 */
  trainEvalSamples?: number;
  /** Samples between `onBatch` calls (rounded up to whole batches). @default 5000 */
  progressEvery?: number;
  /** Called during an epoch every `progressEvery` samples. */
  onBatch?: (progress: BatchProgress) => void;
  /** Called after each epoch's validation. */
  onEpoch?: (record: EpochRecord) => void;
  /**
   * Samples seen at which to snapshot the tree early in training (for animations), besides
   * after every epoch: at the first batch boundary at or after each (0: before training).
   */
  snapshotAt?: number[];
  /** Called with a copy of the parameters and the samples seen so far. */
  onSnapshot?: (params: TreeParams, samplesSeen: number) => void;
}

/** What training did. */
export interface FitResult {
  history: EpochRecord[];
  /** The epoch whose weights were kept (1-based). */
  bestEpoch: number;
  bestValAccuracy: number;
  epochsRun: number;
  /** Wall seconds of training, evaluation included. */
  seconds: number;
  /** Training samples per second over all epochs (training time only). */
  samplesPerSecond: number;
  /** Whether early stopping ended the run. */
  stoppedEarly: boolean;
}

/** One-hot targets `[N, K]` for labels. */
export function oneHot(labels: Int32Array, classes: number): Float32Array {
  const t = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) t[i * classes + labels[i]] = 1;
  return t;
}

/**
 * Train `engine` on `train`, validating on `val` after each epoch.
 *
 * @throws {RangeError} for bad options or data that does not fit the tree.
 * @example
 * ```ts
 * const result = fit(engine, splits.train, splits.val, { epochs: 5, batchSize: 64 });
 * ```
 */
export function fit(
  engine: TreeEngine,
  train: Dataset,
  val: Dataset,
  options: FitOptions = {},
): FitResult {
  const epochs = options.epochs ?? 40;
  const batchSize = options.batchSize ?? 4;
  const patience = options.patience ?? 20;
  const cfg = engine.config;
  if (!Number.isInteger(epochs) || epochs < 1) {
    throw new RangeError(`Epochs must be at least 1, got ${epochs}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`Batch size must be at least 1, got ${batchSize}`);
  }
  if (options.betaTo !== undefined && !(options.betaTo > 0 && Number.isFinite(options.betaTo))) {
    throw new RangeError(`The final beta must be a positive number, got ${options.betaTo}`);
  }
  if (!Number.isInteger(patience) || patience < 0) {
    throw new RangeError(`Patience must be zero or more, got ${patience}`);
  }
  for (const [name, ds] of [["training", train], ["validation", val]] as const) {
    if (ds.features !== cfg.features) {
      throw new RangeError(
        `The ${name} split has ${ds.features} features but the tree expects ${cfg.features}`,
      );
    }
    if (ds.n < 1) throw new RangeError(`The ${name} split is empty`);
  }
  const targets = options.targets ?? oneHot(train.y, cfg.classes);
  if (targets.length !== train.n * cfg.classes) {
    throw new RangeError(
      `Targets must be [${train.n}, ${cfg.classes}], got ${targets.length} values`,
    );
  }
  engine.setTrainData(train.x, targets);

  const rng = new Rng(options.seed ?? 0);
  const evalN = Math.min(train.n, options.trainEvalSamples ?? 10000);
  const evalX = train.x.subarray(0, evalN * train.features);
  const evalY = train.y.subarray(0, evalN);
  const chunk = Math.max(1, Math.ceil((options.progressEvery ?? 5000) / batchSize)) * batchSize;
  // Pending snapshot points, ascending; none without a snapshot callback.
  const snapshots = options.onSnapshot ? [...(options.snapshotAt ?? [])].sort((a, b) => a - b) : [];
  /** Drop the points at or before `seen`; true when there were any. */
  const passSnapshots = (seen: number): boolean => {
    let passed = false;
    while (snapshots.length && snapshots[0] <= seen) {
      snapshots.shift();
      passed = true;
    }
    return passed;
  };
  const baseLr = cfg.learningRate;

  const history: EpochRecord[] = [];
  let best: { acc: number; epoch: number; params: TreeParams; state: PenaltyState } | null = null;
  let sinceBest = 0;
  let trainSeconds = 0;
  let samplesSeen = 0;
  let stoppedEarly = false;
  const t0 = performance.now();

  if (passSnapshots(0)) options.onSnapshot?.(engine.getParams(), 0);
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const lr = options.schedule === "cosine"
      ? baseLr * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * (epoch - 1) / epochs)))
      : baseLr;
    engine.setLearningRate(lr);
    if (options.betaTo !== undefined && !cfg.learnBeta) {
      const frac = epochs > 1 ? (epoch - 1) / (epochs - 1) : 1;
      engine.setBeta(cfg.invTemp * (options.betaTo / cfg.invTemp) ** frac);
    }
    const order = rng.permutation(train.n);
    const e0 = performance.now();
    let lossSum = 0, penaltySum = 0, penaltyBatches = 0, done = 0;
    for (let start = 0, end = 0; start < order.length; start = end) {
      end = Math.min(order.length, start + chunk);
      if (snapshots.length && snapshots[0] - samplesSeen < end - start) {
        // End this chunk at the first whole batch at or after the next snapshot point.
        end = Math.min(
          end,
          start + Math.max(1, Math.ceil((snapshots[0] - samplesSeen) / batchSize)) * batchSize,
        );
      }
      const part = order.subarray(start, end);
      const r: LossReport = engine.trainSamples(part, batchSize);
      lossSum += r.loss * r.samples;
      const batches = Math.ceil(part.length / batchSize);
      penaltySum += r.penalty * batches;
      penaltyBatches += batches;
      done += part.length;
      samplesSeen += part.length;
      const elapsed = (performance.now() - e0) / 1000;
      options.onBatch?.({
        epoch,
        epochs,
        samplesDone: done,
        samplesTotal: train.n,
        loss: lossSum / done,
        samplesPerSecond: done / Math.max(elapsed, 1e-9),
      });
      if (done < train.n && passSnapshots(samplesSeen)) {
        options.onSnapshot?.(engine.getParams(), samplesSeen);
      }
    }
    const seconds = (performance.now() - e0) / 1000;
    trainSeconds += seconds;
    passSnapshots(samplesSeen);
    options.onSnapshot?.(engine.getParams(), samplesSeen);

    const trainEval = engine.evaluate(evalX, evalY);
    const valEval = engine.evaluate(val.x, val.y);
    const record: EpochRecord = {
      epoch,
      trainLoss: lossSum / train.n,
      penalty: penaltyBatches ? penaltySum / penaltyBatches : 0,
      trainAccuracy: trainEval.accuracy,
      valAccuracy: valEval.accuracy,
      valAccuracyMixture: valEval.accuracyMixture,
      learningRate: lr,
      seconds,
      samplesPerSecond: train.n / Math.max(seconds, 1e-9),
    };
    history.push(record);
    options.onEpoch?.(record);
    if (!Number.isFinite(record.trainLoss)) {
      throw new RangeError(
        `Training diverged in epoch ${epoch}: the loss is ${record.trainLoss}; try a lower learning rate`,
      );
    }
    if (!best || record.valAccuracy > best.acc) {
      best = {
        acc: record.valAccuracy,
        epoch,
        params: engine.getParams(),
        state: engine.getPenaltyState(),
      };
      sinceBest = 0;
    } else if (patience > 0 && ++sinceBest >= patience) {
      stoppedEarly = epoch < epochs;
      break;
    }
  }
  if (best && best.epoch !== history.length) {
    engine.setParams(best.params);
    engine.setPenaltyState(best.state);
  }
  engine.setLearningRate(baseLr);
  return {
    history,
    bestEpoch: best!.epoch,
    bestValAccuracy: best!.acc,
    epochsRun: history.length,
    seconds: (performance.now() - t0) / 1000,
    samplesPerSecond: (history.length * train.n) / Math.max(trainSeconds, 1e-9),
    stoppedEarly,
  };
}
