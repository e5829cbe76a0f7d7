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
import { initParams } from "../tree/params.ts";
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
  /**
   * Candidate starts: each candidate trains for `restartEpochs` epochs from its own initial
   * parameters, and only the one with the best validation accuracy trains on (its history,
   * snapshots and weights are the run's). Candidate 0 starts from the tree's current
   * parameters and shuffles with `seed`; candidate `k` starts from
   * `initParams(config, seed + k)` and shuffles with `seed + k`. Small trees land in very
   * different places from different starts, and the validation accuracy after a few epochs
   * tells the good starts from the bad ones.
   * @default 1 (no restarts)
   */
  restarts?: number;
  /** Epochs each candidate trains before the best is chosen. @default 10 */
  restartEpochs?: number;
  /** Told when a candidate starts and how it ended (`valAccuracy`, after its epochs). */
  onCandidate?: (event: CandidateEvent) => void;
}

/** A candidate start of {@link FitOptions.restarts}. */
export interface CandidateEvent {
  /** 0-based. */
  index: number;
  count: number;
  /** Its best validation accuracy; absent when it starts. */
  valAccuracy?: number;
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
  /** With restarts: each candidate's best validation accuracy after its epochs. */
  candidates: number[];
  /** With restarts: the index of the candidate that trained on (0 without restarts). */
  chosenCandidate: number;
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
  const restarts = options.restarts ?? 1;
  const restartEpochs = options.restartEpochs ?? 10;
  const seed = options.seed ?? 0;
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
  if (!Number.isInteger(restarts) || restarts < 1) {
    throw new RangeError(`Restarts must be a whole number of at least 1, got ${restarts}`);
  }
  if (!Number.isInteger(restartEpochs) || restartEpochs < 1) {
    throw new RangeError(`Restart epochs must be at least 1, got ${restartEpochs}`);
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

  const t0 = performance.now();
  const evalN = Math.min(train.n, options.trainEvalSamples ?? 10000);
  const run: Stretch = {
    engine,
    train,
    val,
    options,
    epochs,
    batchSize,
    evalX: train.x.subarray(0, evalN * train.features),
    evalY: train.y.subarray(0, evalN),
    chunk: Math.max(1, Math.ceil((options.progressEvery ?? 5000) / batchSize)) * batchSize,
    // Pending snapshot points, ascending; none without a snapshot callback.
    snapshots: options.onSnapshot ? [...(options.snapshotAt ?? [])].sort((a, b) => a - b) : [],
    onSnapshot: options.onSnapshot,
    rng: new Rng(seed),
    history: [],
    best: null,
    trainSeconds: 0,
    samplesSeen: 0,
  };

  const candidates: number[] = [];
  let chosen = 0;
  const trial = Math.min(restartEpochs, epochs);
  if (restarts > 1) {
    // Each candidate trains `trial` epochs from its own start; its snapshots wait in a buffer
    // until it is known whether it is the one that goes on.
    const first: TreeParams = engine.getParams();
    const fresh: PenaltyState = engine.getPenaltyState();
    let winner: Stretch | null = null;
    let winnerShots: [TreeParams, number][] = [];
    for (let k = 0; k < restarts; k++) {
      options.onCandidate?.({ index: k, count: restarts });
      engine.setParams(k === 0 ? first : initParams(cfg, seed + k));
      engine.setPenaltyState(fresh);
      const shots: [TreeParams, number][] = [];
      const cand: Stretch = {
        ...run,
        snapshots: [...run.snapshots],
        onSnapshot: options.onSnapshot ? (p, seen) => shots.push([p, seen]) : undefined,
        rng: new Rng(seed + k),
        history: [],
        best: null,
        trainSeconds: 0,
        samplesSeen: 0,
      };
      trainEpochs(cand, 1, trial, 0);
      candidates.push(cand.best!.acc);
      options.onCandidate?.({ index: k, count: restarts, valAccuracy: cand.best!.acc });
      if (!winner || cand.best!.acc > winner.best!.acc) {
        winner = cand;
        winnerShots = shots;
        chosen = k;
        // Where the candidate ended, to go on from (its best weights are kept in `best`).
        winner.last = { params: engine.getParams(), state: engine.getPenaltyState() };
      }
    }
    for (const [p, seen] of winnerShots) options.onSnapshot?.(p, seen);
    Object.assign(run, winner, { onSnapshot: options.onSnapshot });
    engine.setParams(run.last!.params);
    engine.setPenaltyState(run.last!.state);
  }
  // With restarts the chosen candidate goes on after its `trial` epochs (if any are left).
  const stoppedEarly = trainEpochs(run, restarts > 1 ? trial + 1 : 1, epochs, patience);
  const best = run.best!;
  if (best.epoch !== run.history.length) {
    engine.setParams(best.params);
    engine.setPenaltyState(best.state);
  }
  engine.setLearningRate(cfg.learningRate);
  return {
    history: run.history,
    bestEpoch: best.epoch,
    bestValAccuracy: best.acc,
    epochsRun: run.history.length,
    seconds: (performance.now() - t0) / 1000,
    samplesPerSecond: (run.history.length * train.n) / Math.max(run.trainSeconds, 1e-9),
    stoppedEarly,
    candidates,
    chosenCandidate: chosen,
  };
}

/** The state of a stretch of epochs on one engine. */
interface Stretch {
  engine: TreeEngine;
  train: Dataset;
  val: Dataset;
  options: FitOptions;
  /** All epochs of the run (for schedules). */
  epochs: number;
  batchSize: number;
  evalX: Float32Array;
  evalY: Int32Array;
  chunk: number;
  snapshots: number[];
  onSnapshot: ((params: TreeParams, samplesSeen: number) => void) | undefined;
  rng: Rng;
  history: EpochRecord[];
  best: { acc: number; epoch: number; params: TreeParams; state: PenaltyState } | null;
  trainSeconds: number;
  samplesSeen: number;
  /** The parameters at the end of the stretch (kept for candidates). */
  last?: { params: TreeParams; state: PenaltyState };
}

/**
 * Train epochs `from..to` of a run, validating after each and keeping the best weights in
 * `s.best`; with `patience > 0` stop after that many epochs without a better validation
 * accuracy. Returns whether it stopped early.
 */
function trainEpochs(s: Stretch, from: number, to: number, patience: number): boolean {
  const { engine, train, val, options, epochs, batchSize } = s;
  const cfg = engine.config;
  const baseLr = cfg.learningRate;
  /** Drop the points at or before `seen`; true when there were any. */
  const passSnapshots = (seen: number): boolean => {
    let passed = false;
    while (s.snapshots.length && s.snapshots[0] <= seen) {
      s.snapshots.shift();
      passed = true;
    }
    return passed;
  };
  let sinceBest = 0;
  if (from === 1 && passSnapshots(0)) s.onSnapshot?.(engine.getParams(), 0);
  for (let epoch = from; epoch <= to; epoch++) {
    const lr = options.schedule === "cosine"
      ? baseLr * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * (epoch - 1) / epochs)))
      : baseLr;
    engine.setLearningRate(lr);
    if (options.betaTo !== undefined && !cfg.learnBeta) {
      const frac = epochs > 1 ? (epoch - 1) / (epochs - 1) : 1;
      engine.setBeta(cfg.invTemp * (options.betaTo / cfg.invTemp) ** frac);
    }
    const order = s.rng.permutation(train.n);
    const e0 = performance.now();
    let lossSum = 0, penaltySum = 0, penaltyBatches = 0, done = 0;
    for (let start = 0, end = 0; start < order.length; start = end) {
      end = Math.min(order.length, start + s.chunk);
      if (s.snapshots.length && s.snapshots[0] - s.samplesSeen < end - start) {
        // End this chunk at the first whole batch at or after the next snapshot point.
        end = Math.min(
          end,
          start + Math.max(1, Math.ceil((s.snapshots[0] - s.samplesSeen) / batchSize)) * batchSize,
        );
      }
      const part = order.subarray(start, end);
      const r: LossReport = engine.trainSamples(part, batchSize);
      lossSum += r.loss * r.samples;
      const batches = Math.ceil(part.length / batchSize);
      penaltySum += r.penalty * batches;
      penaltyBatches += batches;
      done += part.length;
      s.samplesSeen += part.length;
      const elapsed = (performance.now() - e0) / 1000;
      options.onBatch?.({
        epoch,
        epochs,
        samplesDone: done,
        samplesTotal: train.n,
        loss: lossSum / done,
        samplesPerSecond: done / Math.max(elapsed, 1e-9),
      });
      if (done < train.n && passSnapshots(s.samplesSeen)) {
        s.onSnapshot?.(engine.getParams(), s.samplesSeen);
      }
    }
    const seconds = (performance.now() - e0) / 1000;
    s.trainSeconds += seconds;
    passSnapshots(s.samplesSeen);
    s.onSnapshot?.(engine.getParams(), s.samplesSeen);

    const trainEval = engine.evaluate(s.evalX, s.evalY);
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
    s.history.push(record);
    options.onEpoch?.(record);
    if (!Number.isFinite(record.trainLoss)) {
      throw new RangeError(
        `Training diverged in epoch ${epoch}: the loss is ${record.trainLoss}; try a lower learning rate`,
      );
    }
    if (!s.best || record.valAccuracy > s.best.acc) {
      s.best = {
        acc: record.valAccuracy,
        epoch,
        params: engine.getParams(),
        state: engine.getPenaltyState(),
      };
      sinceBest = 0;
    } else if (patience > 0 && ++sinceBest >= patience) {
      return epoch < to;
    }
  }
  return false;
}
