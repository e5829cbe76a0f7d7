/**
 * The resumable state of a tree's training, as a file in its run directory
 * (`training-state.bin`): the tree's configuration and data facts, the run's metadata, and a
 * {@linkcode FitState} — weights, Adam's moments, the penalty's averages, the shuffling
 * generator, the epoch and batch, the history, the best weights and the candidates. Written
 * atomically and durably; read with validation (a `CheckpointError` naming the file for
 * anything wrong).
 *
 * @module
 */
import { adamSize } from "../backends/types.ts";
import { CheckpointError } from "../errors.ts";
import { decodeBundle, encodeBundle, Reader } from "../io/_bundle.ts";
import type { DataInfo } from "../io/types.ts";
import { readDataInfo } from "../io/checkpoint.ts";
import { progressOf, type RunKind } from "../run/folder.ts";
import { loadState, removeState, saveState, type StateFile } from "../run/state_file.ts";
import { checkConfig } from "../tree/params.ts";
import { type PenaltyState, type TreeConfig, type TreeParams, treeSizes } from "../tree/types.ts";
import type { BestWeights, EngineState, FitPlan, FitState, WinnerState } from "./fit.ts";
import type { EpochRecord } from "./types.ts";

/** The state file's name inside a run directory. */
export const STATE_FILE = "training-state.bin";
/** The version this code writes and reads. */
export const STATE_VERSION = 1;
const MAGIC = "SDTSTATE";
const WHAT = "training state";

/** A saved training state with what it belongs to. */
export interface SavedTreeState {
  /** The tree's configuration. */
  config: TreeConfig;
  /** Facts about the data. */
  data: DataInfo;
  /** The run's free-form metadata (command line, teacher, ...). */
  meta: Record<string, unknown>;
  /** Where the run was. */
  fit: FitState;
}

/** Encode a saved state to bytes. */
export function encodeTreeState(state: SavedTreeState): Uint8Array {
  return encodeBundle(MAGIC, { format: "softtree-state", version: STATE_VERSION, ...state });
}

/**
 * Decode and validate state bytes; `name` is used in messages.
 * @throws {CheckpointError} naming the file for anything that is not a valid state.
 */
export function decodeTreeState(bytes: Uint8Array, name: string): SavedTreeState {
  const fail = (why: string): never => {
    throw new CheckpointError(`Cannot read ${WHAT} "${name}": ${why}`);
  };
  const rd = new Reader(fail);
  const h = rd.obj(decodeBundle(bytes, name, MAGIC, WHAT), "header");
  if (h.format !== "softtree-state") fail(`its header names format ${JSON.stringify(h.format)}`);
  if (h.version !== STATE_VERSION) {
    fail(`it has version ${JSON.stringify(h.version)}, this softtree reads ${STATE_VERSION}`);
  }
  const config = rd.obj(h.config, "config") as unknown as TreeConfig;
  try {
    checkConfig(config);
  } catch (error) {
    fail(`its configuration is invalid: ${(error as Error).message}`);
  }
  if (typeof config.learnBeta !== "boolean") fail(`its "config.learnBeta" is not true or false`);
  const data = readDataInfo(rd, h.data, config.classes);
  const meta = rd.obj(h.meta, "meta");
  return { config, data, meta, fit: readFitState(rd, h.fit, config) };
}

/** Validate a decoded `FitState` against the tree's shape. */
function readFitState(rd: Reader, v: unknown, config: TreeConfig): FitState {
  const f = rd.obj(v, "fit");
  const { inner, leaves } = treeSizes(config.depth);
  const int = (x: unknown, p: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    rd.num(x, p, { int: true, min, max });
  const real = (x: unknown, p: string) => rd.num(x, p);
  const params = (x: unknown, p: string): TreeParams => {
    const o = rd.obj(x, p);
    return {
      w: rd.f32(o.w, `${p}.w`, inner * config.features),
      b: rd.f32(o.b, `${p}.b`, inner),
      phi: rd.f32(o.phi, `${p}.phi`, leaves * config.classes),
      beta: real(o.beta, `${p}.beta`),
    };
  };
  const penalty = (x: unknown, p: string): PenaltyState => {
    const o = rd.obj(x, p);
    return {
      num: rd.f32(o.num, `${p}.num`, inner),
      den: rd.f32(o.den, `${p}.den`, inner),
      steps: int(o.steps, `${p}.steps`),
    };
  };
  const best = (x: unknown, p: string): BestWeights => {
    const o = rd.obj(x, p);
    return {
      acc: rd.num(o.acc, `${p}.acc`, { min: 0, max: 1 }),
      epoch: int(o.epoch, `${p}.epoch`, 1),
      params: params(o.params, `${p}.params`),
      penalty: penalty(o.penalty, `${p}.penalty`),
    };
  };
  const record = (x: unknown, p: string): EpochRecord => {
    const o = rd.obj(x, p);
    const n = (k: string) => rd.num(o[k], `${p}.${k}`, { nonFinite: true });
    return {
      epoch: int(o.epoch, `${p}.epoch`, 1),
      trainLoss: n("trainLoss"),
      penalty: n("penalty"),
      trainAccuracy: n("trainAccuracy"),
      valAccuracy: n("valAccuracy"),
      valAccuracyMixture: n("valAccuracyMixture"),
      learningRate: n("learningRate"),
      seconds: n("seconds"),
      samplesPerSecond: n("samplesPerSecond"),
    };
  };
  const history = (x: unknown, p: string) => rd.list(x, p, record);
  const engine = (x: unknown, p: string): EngineState => {
    const o = rd.obj(x, p);
    const adam = rd.obj(o.adam, `${p}.adam`);
    const size = adamSize(config);
    return {
      params: params(o.params, `${p}.params`),
      adam: {
        m: rd.f32(adam.m, `${p}.adam.m`, size),
        v: rd.f32(adam.v, `${p}.adam.v`, size),
        step: int(adam.step, `${p}.adam.step`),
      },
      penalty: penalty(o.penalty, `${p}.penalty`),
    };
  };
  const winner = (x: unknown, p: string): WinnerState => {
    const o = rd.obj(x, p);
    const last = rd.obj(o.last, `${p}.last`);
    return {
      index: int(o.index, `${p}.index`),
      best: best(o.best, `${p}.best`),
      last: {
        params: params(last.params, `${p}.last.params`),
        penalty: penalty(last.penalty, `${p}.last.penalty`),
      },
      history: history(o.history, `${p}.history`),
      rng: int(o.rng, `${p}.rng`, 0, 0xffffffff),
      samplesSeen: int(o.samplesSeen, `${p}.samplesSeen`),
      trainSeconds: real(o.trainSeconds, `${p}.trainSeconds`),
    };
  };
  const p = rd.obj(f.plan, "fit.plan");
  const plan: FitPlan = {
    epochs: int(p.epochs, "fit.plan.epochs", 1),
    batchSize: int(p.batchSize, "fit.plan.batchSize", 1),
    patience: int(p.patience, "fit.plan.patience"),
    seed: int(p.seed, "fit.plan.seed", -Number.MAX_SAFE_INTEGER),
    schedule: p.schedule === "cosine" ? "cosine" : p.schedule === "constant" ? "constant" : rd.fail(
      `"fit.plan.schedule" is ${JSON.stringify(p.schedule)}`,
    ),
    betaTo: p.betaTo === null ? null : real(p.betaTo, "fit.plan.betaTo"),
    restarts: int(p.restarts, "fit.plan.restarts", 1),
    restartEpochs: int(p.restartEpochs, "fit.plan.restartEpochs", 1),
    chunk: int(p.chunk, "fit.plan.chunk", 1),
    trainEvalSamples: int(p.trainEvalSamples, "fit.plan.trainEvalSamples"),
    trainSamples: int(p.trainSamples, "fit.plan.trainSamples", 1),
    valSamples: int(p.valSamples, "fit.plan.valSamples", 1),
  };
  const partial = rd.obj(f.partial, "fit.partial");
  const reason = f.reason === "epoch" || f.reason === "interrupted" || f.reason === "diverged"
    ? f.reason
    : rd.fail(`"fit.reason" is ${JSON.stringify(f.reason)}`);
  const candidate = int(f.candidate, "fit.candidate", -1, plan.restarts - 1);
  const state: FitState = {
    plan,
    reason,
    candidate,
    epoch: int(f.epoch, "fit.epoch", 1, plan.epochs + 1),
    done: int(f.done, "fit.done", 0, plan.trainSamples - 1),
    rng: int(f.rng, "fit.rng", 0, 0xffffffff),
    partial: {
      lossSum: real(partial.lossSum, "fit.partial.lossSum"),
      penaltySum: real(partial.penaltySum, "fit.partial.penaltySum"),
      penaltyBatches: int(partial.penaltyBatches, "fit.partial.penaltyBatches"),
      seconds: real(partial.seconds, "fit.partial.seconds"),
    },
    samplesSeen: int(f.samplesSeen, "fit.samplesSeen"),
    trainSeconds: real(f.trainSeconds, "fit.trainSeconds"),
    sinceBest: int(f.sinceBest, "fit.sinceBest"),
    seconds: real(f.seconds, "fit.seconds"),
    history: history(f.history, "fit.history"),
    best: f.best === null ? null : best(f.best, "fit.best"),
    engine: f.engine === null ? null : engine(f.engine, "fit.engine"),
    candidates: rd.list(f.candidates, "fit.candidates", (x, q) => rd.num(x, q, { min: 0, max: 1 })),
    winner: f.winner === null ? null : winner(f.winner, "fit.winner"),
    fresh: penalty(f.fresh, "fit.fresh"),
  };
  if (state.history.length !== state.epoch - 1) {
    rd.fail(`its history holds ${state.history.length} epochs but it is at epoch ${state.epoch}`);
  }
  return state;
}

/** The tree's state file, for `lib/run/`. */
export const TREE_STATE: StateFile<SavedTreeState> = {
  name: STATE_FILE,
  what: WHAT,
  encode: encodeTreeState,
  decode: decodeTreeState,
};

/** A tree's training as its run directory knows it, for `lib/run/`. */
export const TREE_RUN: RunKind<SavedTreeState> = {
  names: ["run directory", "run"],
  state: TREE_STATE,
  progress: (saved) => progressOf(saved.fit),
};

/**
 * Write a run's state into its directory, atomically and durably.
 * @returns The file written.
 */
export async function saveTreeState(dir: string, state: SavedTreeState): Promise<string> {
  return await saveState(dir, TREE_STATE, state);
}

/**
 * Read the state saved in a run directory, or `null` when there is none.
 * @throws {CheckpointError} naming the file when it is there but cannot be read or is invalid.
 */
export async function loadTreeState(dir: string): Promise<SavedTreeState | null> {
  return await loadState(dir, TREE_STATE);
}

/** Remove a run directory's state file (when the run has finished). */
export async function removeTreeState(dir: string): Promise<void> {
  await removeState(dir, TREE_STATE);
}
