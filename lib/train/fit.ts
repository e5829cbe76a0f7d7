/**
 * The training loop: seeded shuffling, chunked epochs with progress callbacks,
 * validation every epoch, early stopping with patience that restores the best weights,
 * an optional learning-rate schedule, snapshots for animations, candidate restarts, and
 * what makes a long run survive: a stop request honoured at the next batch boundary, the
 * run's whole state handed out to be saved ({@linkcode FitState}), a resume from such a state
 * that continues exactly where it stopped, and a loss that stops being finite caught at the
 * batch where it happens. Prints nothing.
 *
 * @module
 */
import type { AdamState, LossReport, TreeEngine } from "../backends/types.ts";
import type { Dataset } from "../data/types.ts";
import { divergedError, interruptedError } from "../run/stop.ts";
import type { TrainingHooks } from "../run/hooks.ts";
import { driveSteps, driveStepsSync } from "../run/steps.ts";
import { type CandidateEvent, type CandidateResult, Restarts } from "../run/restarts.ts";
import { checkSamePlan } from "../run/state_file.ts";
import { isRegression, type PenaltyState, type TreeParams } from "../tree/types.ts";
import { initParams } from "../tree/params.ts";
import type { TargetScale } from "../tree/regression.ts";
import { regressionTargets, scaleOf, scoreSplit } from "./score.ts";
import { Rng } from "../util/random.ts";
import type { EpochRecord } from "./types.ts";

/** Progress inside an epoch. */
export interface BatchProgress {
  /** The epoch (1-based). */
  epoch: number;
  /** Epochs at most. */
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

/**
 * How to train. The hooks (`onBatch`, `onEpoch`, `signal`, `onState`, `resume`) are those of
 * every long training (`TrainingHooks` of `lib/run/`), with the tree's details below.
 */
export interface FitOptions extends TrainingHooks<BatchProgress, EpochRecord, FitState> {
  /** Epochs at most. @default 40 */
  epochs?: number;
  /** Samples per optimizer step. @default 4 */
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
  /** Told when a candidate starts (or resumes) and how it ended (`valAccuracy`, after its epochs). */
  onCandidate?: (event: CandidateEvent) => void;
  /**
   * A stop request, checked at every batch boundary between chunks of `progressEvery`
   * samples and after every epoch. When it is aborted, the run hands its state to
   * `onState` (`reason: "interrupted"`), leaves the engine holding the best weights so far,
   * and throws a {@linkcode TrainingInterruptedError} saying where it stopped.
   */
  signal?: AbortSignal;
  /**
   * Receives the run's state to save: after an epoch when at least `stateEvery` seconds have
   * passed since the last time, when interrupted, and (with `engine: null`, only the best
   * weights being worth keeping) when the loss stops being finite. {@linkcode fitAsync}
   * awaits it; {@linkcode fit} needs it synchronous.
   *
   * @internal
   */
  onState?: (state: FitState) => void | Promise<void>;
  /** Least seconds between two saves of the state after epochs. @default 5 */
  stateEvery?: number;
  /**
   * Continue a run from a state that `onState` received: the engine's parameters, Adam's
   * moments and the penalty's averages, the shuffling, the epoch and batch, the history,
   * the best weights and the candidates all go on as if the run had never stopped (bit for
   * bit on a deterministic backend). The options that fix the run's course must be the ones
   * it was started with ({@linkcode FitPlan}).
   *
   * @internal
   */
  resume?: FitState;
}

export type { CandidateEvent };

/** What training did. */
export interface FitResult {
  /** One record per epoch run. */
  history: EpochRecord[];
  /** The epoch whose weights were kept (1-based). */
  bestEpoch: number;
  /** The validation accuracy of that epoch, in [0, 1]. */
  bestValAccuracy: number;
  /** Epochs trained, candidates' included. */
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

/** The options that fix a run's course: a resume must use the same. */
export interface FitPlan {
  /** Epochs at most. */
  epochs: number;
  /** Samples per optimizer step. */
  batchSize: number;
  /** Epochs without a better validation accuracy before stopping. */
  patience: number;
  /** Seed of the shuffling (and of the first candidate). */
  seed: number;
  /** Learning-rate schedule over epochs. */
  schedule: "constant" | "cosine";
  /** `null` when beta is not annealed. */
  betaTo: number | null;
  /** Candidate starts. */
  restarts: number;
  /** Epochs each candidate trains before the best goes on. */
  restartEpochs: number;
  /** Samples per chunk between batch boundaries (from `progressEvery`). */
  chunk: number;
  /** Training samples evaluated after each epoch. */
  trainEvalSamples: number;
  /** Training and validation samples, to catch a resume on other data. */
  trainSamples: number;
  /** Validation samples, to catch a resume on other data. */
  valSamples: number;
}

/** A tree engine's whole training state. */
export interface EngineState {
  /** The tree's parameters. */
  params: TreeParams;
  /** Adam's moments and step. */
  adam: AdamState;
  /** The balance penalty's moving averages. */
  penalty: PenaltyState;
}

/** Weights kept because they were the best on validation. */
export interface BestWeights {
  /** Validation accuracy, in [0, 1]. */
  acc: number;
  /** Its epoch (1-based). */
  epoch: number;
  /** The parameters then. */
  params: TreeParams;
  /** The penalty's moving averages then. */
  penalty: PenaltyState;
}

/** The best candidate so far of a run with restarts (see {@link FitOptions.restarts}). */
export interface WinnerState {
  /** Its index. */
  index: number;
  /** Its best epoch's weights. */
  best: BestWeights;
  /** Where it ended, to go on from. */
  last: { params: TreeParams; penalty: PenaltyState };
  /** Its epochs' records. */
  history: EpochRecord[];
  /** Its shuffling generator's state when it ended. */
  rng: number;
  /** Samples it trained on. */
  samplesSeen: number;
  /** Its seconds of training. */
  trainSeconds: number;
}

/** Everything needed to continue a run exactly; see {@link FitOptions.resume}. */
export interface FitState {
  /** The options that fix the run's course. */
  plan: FitPlan;
  /** Why it was handed out. */
  reason: "epoch" | "interrupted" | "diverged";
  /** The candidate training (0-based), or -1 once the run goes on without candidates. */
  candidate: number;
  /** The epoch in progress or next (1-based). */
  epoch: number;
  /** Samples of `epoch` trained so far (0: the epoch has not started). */
  done: number;
  /** The shuffling generator's state at the start of `epoch` (before its permutation). */
  rng: number;
  /** Sums of the part of `epoch` trained so far. */
  partial: { lossSum: number; penaltySum: number; penaltyBatches: number; seconds: number };
  /** Samples trained in all, for snapshot points. */
  samplesSeen: number;
  /** Seconds of training (not evaluation) so far. */
  trainSeconds: number;
  /** Epochs since the best one (for patience). */
  sinceBest: number;
  /** Wall seconds of the run so far. */
  seconds: number;
  /** The records of the epochs so far. */
  history: EpochRecord[];
  /** The best weights of the candidate (or run) training. */
  best: BestWeights | null;
  /** The engine's state; `null` when it diverged (only the best weights are worth keeping). */
  engine: EngineState | null;
  /** Best validation accuracies of the finished candidates. */
  candidates: number[];
  /** The best of them so far. */
  winner: WinnerState | null;
  /** The penalty averages every candidate starts from. */
  fresh: PenaltyState;
}

/**
 * The best weights of a run so far, over the candidate training and the best finished one:
 * what early stopping would restore, and what an interrupted run keeps.
 */
export function bestSoFar(state: FitState): BestWeights | null {
  const w = state.candidate >= 0 ? state.winner?.best ?? null : null;
  if (!state.best) return w;
  return w && w.acc >= state.best.acc ? w : state.best;
}

/** One-hot targets `[N, K]` for labels. */
export function oneHot(labels: Int32Array, classes: number): Float32Array {
  const t = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) t[i * classes + labels[i]] = 1;
  return t;
}

/**
 * Train `engine` on `train`, validating on `val` after each epoch. Synchronous: a stop
 * request (`signal`) can only come from the callbacks; use {@linkcode fitAsync} to let
 * signals and timers in between batches.
 *
 * @throws {RangeError} for bad options, data that does not fit the tree, or a resume state
 *   of another run.
 * @throws {TrainingInterruptedError} when `signal` is aborted.
 * @throws {TrainingDivergedError} when the loss stops being finite.
 * @throws {TypeError} when `onState` returns a promise (use {@linkcode fitAsync}).
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
  return driveStepsSync(new FitRun(engine, train, val, options).run(), options, [
    "fit()",
    "fitAsync()",
  ]);
}

/**
 * {@linkcode fit}, letting the event loop run between chunks of batches (at most every 50 ms)
 * so that a signal handler can abort `signal`, and awaiting `onState`.
 *
 * @throws As {@linkcode fit}.
 * @example
 * ```ts
 * const stop = new AbortController();
 * Deno.addSignalListener("SIGINT", () => stop.abort("SIGINT"));
 * await fitAsync(engine, train, val, { signal: stop.signal, onState: save });
 * ```
 */
export async function fitAsync(
  engine: TreeEngine,
  train: Dataset,
  val: Dataset,
  options: FitOptions = {},
): Promise<FitResult> {
  return await driveSteps(new FitRun(engine, train, val, options).run(), options);
}

/** A stretch of epochs on one engine: one candidate, or the run that goes on. */
interface Stretch {
  /** The candidate index, or -1. */
  candidate: number;
  rng: Rng;
  history: EpochRecord[];
  best: BestWeights | null;
  trainSeconds: number;
  samplesSeen: number;
  sinceBest: number;
  snapshots: number[];
  onSnapshot: ((params: TreeParams, samplesSeen: number) => void) | undefined;
  /** Where a resumed epoch starts. */
  partial?: { done: number; rng: number } & FitState["partial"];
}

/** The sums of an epoch that has not started. */
const NO_PARTIAL: FitState["partial"] = {
  lossSum: 0,
  penaltySum: 0,
  penaltyBatches: 0,
  seconds: 0,
};

/** Drop a stretch's snapshot points at or before `seen`; true when there were any. */
function passSnapshots(s: Stretch, seen: number): boolean {
  let passed = false;
  while (s.snapshots.length && s.snapshots[0] <= seen) {
    s.snapshots.shift();
    passed = true;
  }
  return passed;
}

/** What the run yields: a state to save, or `null` at a batch boundary (see `lib/run/steps.ts`). */
type Step = FitState | null;
/** A part of the run; a `yield null` is answered with whether a stop was requested. */
type Steps<R> = Generator<Step, R, boolean>;

class FitRun {
  readonly #engine: TreeEngine;
  readonly #train: Dataset;
  readonly #val: Dataset;
  readonly #o: FitOptions;
  readonly #plan: FitPlan;
  /** The learning rate the schedule starts from (engines may report the scheduled one). */
  readonly #baseLr: number;
  readonly #t0 = performance.now();
  readonly #secondsBefore: number;
  #lastSave = performance.now();
  /** Least milliseconds between two saves of the state after epochs. */
  readonly #stateEvery: number;
  #restarts: Restarts<WinnerState> = new Restarts(1);
  #fresh: PenaltyState | null = null;
  /** Training rows scored after each epoch. */
  #evalN: number;
  /** A regression tree's standardisation (the training split's). */
  #scale: TargetScale | undefined;

  constructor(engine: TreeEngine, train: Dataset, val: Dataset, options: FitOptions) {
    this.#engine = engine;
    this.#train = train;
    this.#val = val;
    this.#o = options;
    this.#plan = planOf(engine, train, val, options);
    this.#baseLr = engine.config.learningRate;
    this.#secondsBefore = options.resume?.seconds ?? 0;
    this.#stateEvery = 1000 * (options.stateEvery ?? 5);
    this.#evalN = Math.min(train.n, this.#plan.trainEvalSamples);
    this.#scale = isRegression(engine.config) ? scaleOf(train) : undefined;
  }

  *run(): Steps<FitResult> {
    const engine = this.#engine, o = this.#o, plan = this.#plan;
    const cfg = engine.config;
    const targets = o.targets ??
      (this.#scale ? regressionTargets(this.#train) : oneHot(this.#train.y, cfg.classes));
    if (targets.length !== this.#train.n * cfg.classes) {
      throw new RangeError(
        `Targets must be [${this.#train.n}, ${cfg.classes}], got ${targets.length} values`,
      );
    }
    const r = o.resume;
    if (r) checkResume(r, plan);
    engine.setTrainData(this.#train.x, targets);
    this.#restarts = new Restarts(plan.restarts, r);
    this.#fresh = r?.fresh ?? engine.getPenaltyState();
    const { restarts, epochs, seed } = plan;
    const trial = Math.min(plan.restartEpochs, epochs);
    const shotsAll = o.onSnapshot ? [...(o.snapshotAt ?? [])].sort((a, b) => a - b) : [];
    let run: Stretch;
    let from: number;
    if (r && r.candidate < 0) {
      run = this.#resumed(r, shotsAll, o.onSnapshot);
      from = r.epoch;
    } else if (restarts > 1) {
      // Each candidate trains `trial` epochs from its own start; its snapshots wait in a buffer
      // until it is known whether it is the one that goes on.
      const first: TreeParams | null = r ? null : engine.getParams();
      let winnerShots: [TreeParams, number][] = [];
      yield* this.#restarts.run(
        r ? r.candidate : 0,
        (k) => this.#candidate(k, trial, first, shotsAll, (shots) => (winnerShots = shots)),
        o.onCandidate,
      );
      for (const [p, seen] of winnerShots) o.onSnapshot?.(p, seen);
      const w = this.#restarts.winner!;
      run = {
        ...this.#stretch(-1, Rng.fromState(w.rng), [], o.onSnapshot),
        history: [...w.history],
        best: w.best,
        samplesSeen: w.samplesSeen,
        trainSeconds: w.trainSeconds,
      };
      run.snapshots = shotsAll.filter((p) => p > run.samplesSeen);
      engine.setParams(w.last.params);
      engine.setPenaltyState(w.last.penalty);
      from = trial + 1;
    } else {
      run = this.#stretch(-1, new Rng(seed), [...shotsAll], o.onSnapshot);
      from = 1;
    }
    // With restarts the chosen candidate goes on after its `trial` epochs (if any are left).
    const stoppedEarly = yield* this.#epochs(run, from, epochs, plan.patience);
    const best = run.best!;
    if (best.epoch !== run.history.length) {
      engine.setParams(best.params);
      engine.setPenaltyState(best.penalty);
    }
    engine.setLearningRate(this.#baseLr);
    return {
      history: run.history,
      bestEpoch: best.epoch,
      bestValAccuracy: best.acc,
      epochsRun: run.history.length,
      seconds: this.#seconds(),
      samplesPerSecond: (run.history.length * this.#train.n) / Math.max(run.trainSeconds, 1e-9),
      stoppedEarly,
      candidates: this.#restarts.candidates,
      chosenCandidate: restarts > 1 ? this.#restarts.winner!.index : 0,
    };
  }

  /**
   * Candidate `k` of the restarts: `trial` epochs from its own start, or on from the saved
   * state; its snapshots wait in a buffer handed to `won` if it becomes the winner.
   */
  *#candidate(
    k: number,
    trial: number,
    first: TreeParams | null,
    shotsAll: number[],
    won: (shots: [TreeParams, number][]) => void,
  ): Steps<CandidateResult<WinnerState>> {
    const engine = this.#engine, r = this.#o.resume, seed = this.#plan.seed;
    const shots: [TreeParams, number][] = [];
    const buffer = this.#o.onSnapshot
      ? (p: TreeParams, seen: number) => shots.push([p, seen])
      : undefined;
    let cand: Stretch;
    let start = 1;
    if (r && k === r.candidate) {
      cand = this.#resumed(r, shotsAll, buffer);
      start = r.epoch;
    } else {
      engine.setParams(k === 0 ? first! : initParams(engine.config, seed + k));
      engine.setPenaltyState(this.#fresh!);
      cand = this.#stretch(k, new Rng(seed + k), [...shotsAll], buffer);
    }
    yield* this.#epochs(cand, start, trial, 0);
    return {
      acc: cand.best!.acc,
      keep: () => {
        won(shots);
        return {
          index: k,
          best: cand.best!,
          last: { params: engine.getParams(), penalty: engine.getPenaltyState() },
          history: cand.history,
          rng: cand.rng.state,
          samplesSeen: cand.samplesSeen,
          trainSeconds: cand.trainSeconds,
        };
      },
    };
  }

  #seconds(): number {
    return this.#secondsBefore + (performance.now() - this.#t0) / 1000;
  }

  #stretch(
    candidate: number,
    rng: Rng,
    snapshots: number[],
    onSnapshot: Stretch["onSnapshot"],
  ): Stretch {
    return {
      candidate,
      rng,
      history: [],
      best: null,
      trainSeconds: 0,
      samplesSeen: 0,
      sinceBest: 0,
      snapshots,
      onSnapshot,
    };
  }

  /** The stretch a saved state was in, with the engine restored to it. */
  #resumed(r: FitState, shots: number[], onSnapshot: Stretch["onSnapshot"]): Stretch {
    if (!r.engine) {
      throw new RangeError("Cannot resume from a state saved when training diverged");
    }
    const e = this.#engine;
    e.setParams(r.engine.params);
    e.setAdamState(r.engine.adam);
    e.setPenaltyState(r.engine.penalty);
    return {
      candidate: r.candidate,
      rng: Rng.fromState(r.rng),
      history: [...r.history],
      best: r.best,
      trainSeconds: r.trainSeconds,
      samplesSeen: r.samplesSeen,
      sinceBest: r.sinceBest,
      snapshots: shots.filter((p) => p > r.samplesSeen),
      onSnapshot,
      partial: { ...r.partial, done: r.done, rng: r.rng },
    };
  }

  #engineState(): EngineState {
    const e = this.#engine;
    return { params: e.getParams(), adam: e.getAdamState(), penalty: e.getPenaltyState() };
  }

  #state(
    s: Stretch,
    reason: FitState["reason"],
    at: { epoch: number; done: number; rng: number; partial: FitState["partial"] },
    engine: EngineState | null,
  ): FitState {
    this.#lastSave = performance.now();
    return {
      plan: this.#plan,
      reason,
      candidate: s.candidate,
      epoch: at.epoch,
      done: at.done,
      rng: at.rng,
      partial: at.partial,
      samplesSeen: s.samplesSeen,
      trainSeconds: s.trainSeconds,
      sinceBest: s.sinceBest,
      seconds: this.#seconds(),
      history: [...s.history],
      best: s.best,
      engine,
      candidates: [...this.#restarts.candidates],
      winner: this.#restarts.winner,
      fresh: this.#fresh!,
    };
  }

  /** The best validation accuracy of the run so far, over candidates too. */
  #bestAcc(s: Stretch): number | null {
    const accs = [s.best?.acc, s.candidate >= 0 ? this.#restarts.winner?.best.acc : undefined]
      .filter((a): a is number => a !== undefined);
    return accs.length ? Math.max(...accs) : null;
  }

  /** Leave the engine holding the best weights of the run so far (if any). */
  #restoreBest(s: Stretch): void {
    const w = s.candidate >= 0 ? this.#restarts.winner?.best : undefined;
    const best = w && (!s.best || w.acc >= s.best.acc) ? w : s.best;
    if (best) {
      this.#engine.setParams(best.params);
      this.#engine.setPenaltyState(best.penalty);
    }
  }

  /** Hand out the state (`reason: "interrupted"`) and throw where it stopped. */
  *#interrupt(
    s: Stretch,
    at: { epoch: number; done: number; rng: number; partial: FitState["partial"] },
    shown: { epoch: number; batch: number },
  ): Steps<never> {
    const batches = Math.ceil(this.#train.n / this.#plan.batchSize);
    if (this.#o.onState) yield this.#state(s, "interrupted", at, this.#engineState());
    const best = this.#bestAcc(s);
    this.#restoreBest(s);
    this.#engine.setLearningRate(this.#baseLr);
    throw interruptedError("Training", { ...shown, batches }, best, this.#o.signal?.reason);
  }

  /**
   * Train epochs `from..to` of a stretch, validating after each and keeping the best weights
   * in `s.best`; with `patience > 0` stop after that many epochs without a better validation
   * accuracy. Returns whether it stopped early.
   */
  *#epochs(s: Stretch, from: number, to: number, patience: number): Steps<boolean> {
    const engine = this.#engine;
    const batches = Math.ceil(this.#train.n / this.#plan.batchSize);
    if (from === 1 && !s.partial?.done && passSnapshots(s, 0)) {
      s.onSnapshot?.(engine.getParams(), 0);
    }
    for (let epoch = from; epoch <= to; epoch++) {
      const lr = this.#startEpoch(epoch);
      const sums = yield* this.#trainEpoch(s, epoch, lr);
      const record = this.#endEpoch(s, epoch, lr, sums);
      if (!s.best || record.valAccuracy > s.best.acc) {
        const params = engine.getParams(), penalty = engine.getPenaltyState();
        s.best = { acc: record.valAccuracy, epoch, params, penalty };
        s.sinceBest = 0;
      } else if (patience > 0 && ++s.sinceBest >= patience) {
        return epoch < to;
      }
      const next = { epoch: epoch + 1, done: 0, rng: s.rng.state, partial: { ...NO_PARTIAL } };
      if (yield null) yield* this.#interrupt(s, next, { epoch, batch: batches });
      if (this.#o.onState && performance.now() - this.#lastSave >= this.#stateEvery) {
        yield this.#state(s, "epoch", next, this.#engineState());
      }
    }
    return false;
  }

  /** Set the epoch's learning rate (the schedule) and beta (its annealing); returns the rate. */
  #startEpoch(epoch: number): number {
    const engine = this.#engine, o = this.#o, cfg = engine.config;
    const { epochs } = this.#plan;
    const lr = o.schedule === "cosine"
      ? this.#baseLr * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * (epoch - 1) / epochs)))
      : this.#baseLr;
    engine.setLearningRate(lr);
    if (o.betaTo !== undefined && !cfg.learnBeta) {
      const frac = epochs > 1 ? (epoch - 1) / (epochs - 1) : 1;
      engine.setBeta(cfg.invTemp * (o.betaTo / cfg.invTemp) ** frac);
    }
    return lr;
  }

  /**
   * One epoch's training, in chunks of batches (from where a resumed epoch stopped): progress,
   * snapshots, a stop at a batch boundary, a loss that stops being finite. Returns its sums.
   */
  *#trainEpoch(s: Stretch, epoch: number, lr: number): Steps<FitState["partial"]> {
    const engine = this.#engine, o = this.#o, train = this.#train;
    const { epochs, batchSize, chunk } = this.#plan;
    const batches = Math.ceil(train.n / batchSize);
    const resumed = s.partial;
    s.partial = undefined;
    const epochRng = resumed ? resumed.rng : s.rng.state;
    if (resumed) s.rng = Rng.fromState(resumed.rng);
    const order = s.rng.permutation(train.n);
    const e0 = performance.now() - 1000 * (resumed?.seconds ?? 0);
    let lossSum = resumed?.lossSum ?? 0;
    let penaltySum = resumed?.penaltySum ?? 0;
    let penaltyBatches = resumed?.penaltyBatches ?? 0;
    let done = resumed?.done ?? 0;
    // Where training can be replayed from to find the batch of a divergence.
    const anchor = { at: done, state: this.#engineState() };
    const here = () => ({
      epoch,
      done,
      rng: epochRng,
      partial: { lossSum, penaltySum, penaltyBatches, seconds: (performance.now() - e0) / 1000 },
    });
    if (done > 0 && done < train.n && o.signal?.aborted) {
      yield* this.#interrupt(s, here(), { epoch, batch: Math.ceil(done / batchSize) });
    }
    for (let start = done, end = done; start < order.length; start = end) {
      end = Math.min(order.length, start + chunk);
      if (s.snapshots.length && s.snapshots[0] - s.samplesSeen < end - start) {
        // End this chunk at the first whole batch at or after the next snapshot point.
        end = Math.min(
          end,
          start +
            Math.max(1, Math.ceil((s.snapshots[0] - s.samplesSeen) / batchSize)) * batchSize,
        );
      }
      const part = order.subarray(start, end);
      const r: LossReport = engine.trainSamples(part, batchSize);
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.penalty)) {
        yield* this.#diverged(s, order, anchor, start, end, { epoch, batches, lr });
      }
      lossSum += r.loss * r.samples;
      const chunkBatches = Math.ceil(part.length / batchSize);
      penaltySum += r.penalty * chunkBatches;
      penaltyBatches += chunkBatches;
      done += part.length;
      s.samplesSeen += part.length;
      const elapsed = (performance.now() - e0) / 1000;
      o.onBatch?.({
        epoch,
        epochs,
        samplesDone: done,
        samplesTotal: train.n,
        loss: lossSum / done,
        samplesPerSecond: done / Math.max(elapsed, 1e-9),
      });
      if (done < train.n && passSnapshots(s, s.samplesSeen)) {
        s.onSnapshot?.(engine.getParams(), s.samplesSeen);
      }
      if (done < train.n && (yield null)) {
        yield* this.#interrupt(s, here(), { epoch, batch: Math.ceil(done / batchSize) });
      }
    }
    const seconds = (performance.now() - e0) / 1000;
    s.trainSeconds += seconds;
    passSnapshots(s, s.samplesSeen);
    s.onSnapshot?.(engine.getParams(), s.samplesSeen);
    return { lossSum, penaltySum, penaltyBatches, seconds };
  }

  /** Validate after an epoch: its record, added to the history and told to `onEpoch`. */
  #endEpoch(s: Stretch, epoch: number, lr: number, sums: FitState["partial"]): EpochRecord {
    const engine = this.#engine, n = this.#train.n;
    const trainEval = scoreSplit(engine, this.#train, this.#scale, this.#evalN);
    const valEval = scoreSplit(engine, this.#val, this.#scale);
    const record: EpochRecord = {
      epoch,
      trainLoss: sums.lossSum / n,
      penalty: sums.penaltyBatches ? sums.penaltySum / sums.penaltyBatches : 0,
      trainAccuracy: trainEval.accuracy,
      valAccuracy: valEval.accuracy,
      valAccuracyMixture: valEval.accuracyMixture,
      learningRate: lr,
      seconds: sums.seconds,
      samplesPerSecond: n / Math.max(sums.seconds, 1e-9),
    };
    s.history.push(record);
    this.#o.onEpoch?.(record);
    return record;
  }

  /**
   * The loss of the chunk `order[start, end)` is not finite: replay from `anchor` batch by
   * batch to find the first batch whose loss is not, leave the engine holding the best
   * weights, hand out the best weights (`engine: null`) and throw.
   */
  *#diverged(
    s: Stretch,
    order: Int32Array,
    anchor: { at: number; state: EngineState },
    start: number,
    end: number,
    where: { epoch: number; batches: number; lr: number },
  ): Steps<never> {
    const engine = this.#engine;
    const { batchSize } = this.#plan;
    engine.setParams(anchor.state.params);
    engine.setAdamState(anchor.state.adam);
    engine.setPenaltyState(anchor.state.penalty);
    if (start > anchor.at) engine.trainSamples(order.subarray(anchor.at, start), batchSize);
    let batch = Math.ceil(end / batchSize);
    let value = NaN;
    for (let b = start; b < end; b += batchSize) {
      const r = engine.trainSamples(order.subarray(b, Math.min(end, b + batchSize)), batchSize);
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.penalty)) {
        batch = b / batchSize + 1;
        value = Number.isFinite(r.loss) ? r.penalty : r.loss;
        break;
      }
    }
    const best = this.#bestAcc(s);
    if (this.#o.onState) {
      yield this.#state(s, "diverged", {
        epoch: where.epoch,
        done: 0,
        rng: 0,
        partial: { lossSum: 0, penaltySum: 0, penaltyBatches: 0, seconds: 0 },
      }, null);
    }
    this.#restoreBest(s);
    this.#engine.setLearningRate(this.#baseLr);
    throw divergedError(
      { epoch: where.epoch, batch, batches: where.batches },
      value,
      best,
      where.lr,
    );
  }
}

/** Check the options and data, and say what fixes the run's course. */
function planOf(engine: TreeEngine, train: Dataset, val: Dataset, options: FitOptions): FitPlan {
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
  return {
    epochs,
    batchSize,
    patience,
    seed,
    schedule: options.schedule ?? "constant",
    betaTo: options.betaTo ?? null,
    restarts,
    restartEpochs,
    chunk: Math.max(1, Math.ceil((options.progressEvery ?? 5000) / batchSize)) * batchSize,
    trainEvalSamples: options.trainEvalSamples ?? 10000,
    trainSamples: train.n,
    valSamples: val.n,
  };
}

/** A resume state must come from a run with the same plan, and be where a run can go on. */
function checkResume(r: FitState, plan: FitPlan): void {
  checkSamePlan(r.plan, plan, "run");
  if (r.candidate >= plan.restarts || (r.candidate >= 0 && plan.restarts < 2)) {
    throw new RangeError(`Cannot resume: the saved run is at candidate ${r.candidate}`);
  }
  if (
    !(r.epoch >= 1 && r.epoch <= plan.epochs + 1) || !(r.done >= 0 && r.done < plan.trainSamples)
  ) {
    throw new RangeError(`Cannot resume: the saved run is at epoch ${r.epoch}, sample ${r.done}`);
  }
}
