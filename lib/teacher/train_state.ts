/**
 * The resumable state of a teacher's training and its file (`teacher-state.bin` in the
 * teacher's folder): the weights, Adam's moments and step, the shuffling and dropout
 * generator, the epoch and batch, the history and the best epoch so far. Written atomically
 * and durably; read with validation (a `CheckpointError` naming the file).
 *
 * @module
 */
import type { tf } from "../deps.ts";
import { CheckpointError } from "../errors.ts";
import { decodeBundle, encodeBundle, Reader } from "../io/_bundle.ts";
import {
  checkSamePlan,
  loadState,
  removeState,
  saveState,
  type StateFile,
} from "../run/state_file.ts";
import { progressOf, type RunKind } from "../run/folder.ts";
import type { AdamMoments } from "./_adam.ts";
import type { TeacherConfig, TeacherEpochInfo } from "./types.ts";

/** The state file's name inside a teacher's folder. */
export const TEACHER_STATE_FILE = "teacher-state.bin";
const MAGIC = "SDTTEACH";
const VERSION = 1;
const WHAT = "teacher training state";

/** The options that fix a teacher training's course: a resume must use the same. */
export interface TeacherPlan {
  /** Epochs. */
  epochs: number;
  /** Samples per optimizer step. */
  batchSize: number;
  /** Adam's learning rate. */
  learningRate: number;
  /** Learning-rate schedule over epochs. */
  schedule: "constant" | "cosine";
  /** Seed of initialisation, shuffling and dropout. */
  seed: number;
  /** Training samples, to catch a resume on other data. */
  trainSamples: number;
}

/** Everything needed to continue a teacher's training exactly. */
export interface TeacherTrainState {
  /** The options that fix the training's course. */
  plan: TeacherPlan;
  /** Why it was handed out. */
  reason: "epoch" | "interrupted";
  /** The epoch in progress or next (1-based). */
  epoch: number;
  /** Samples of `epoch` trained so far (0: not started). */
  done: number;
  /** The generator's state at the start of `epoch` (its shuffle is drawn from it). */
  rngEpoch: number;
  /** The generator's state now (dropout masks are drawn from it as training goes). */
  rng: number;
  /** Optimizer steps taken (for the cosine schedule). */
  step: number;
  /** Sum of the batch losses times their sizes in `epoch` so far. */
  lossSum: number;
  /** Seconds spent in `epoch` so far. */
  seconds: number;
  /** The records of the finished epochs. */
  history: TeacherEpochInfo[];
  /** The trainable weights, in the model's order. */
  weights: Float32Array[];
  /** Adam's moments of those weights. */
  adam: AdamMoments;
  /** The best epoch on validation so far (the latest without validation). */
  best: { epoch: number; valAccuracy: number } | null;
  /** Whether the current weights are the best epoch's (just after it ended). */
  bestIsCurrent: boolean;
}

/** A saved teacher training with what it belongs to. */
export interface SavedTeacherState {
  config: TeacherConfig;
  /** Free-form metadata (command line, options). */
  meta: Record<string, unknown>;
  /** The weights' names, in order. */
  names: string[];
  train: TeacherTrainState;
}

/** The trainable weights of variables, copied. */
export function readWeights(vars: tf.Variable[]): Float32Array[] {
  return vars.map((v) => (v.dataSync() as Float32Array).slice());
}

/**
 * A resume state must come from a run with the same plan and shapes.
 * @throws {RangeError} naming the first difference.
 */
export function checkTeacherResume(
  state: TeacherTrainState,
  plan: TeacherPlan,
  vars: tf.Variable[],
): void {
  checkSamePlan(state.plan, plan, "teacher training");
  if (state.weights.length !== vars.length) {
    throw new RangeError(
      `Cannot resume: the saved teacher has ${state.weights.length} weights, this one ${vars.length}`,
    );
  }
  vars.forEach((v, i) => {
    if (state.weights[i].length !== v.size) {
      throw new RangeError(
        `Cannot resume: the saved weight ${i} holds ${state.weights[i].length} values, ` +
          `"${v.name}" has ${v.size}`,
      );
    }
  });
}

/** Encode a saved teacher training. */
export function encodeTeacherState(state: SavedTeacherState): Uint8Array {
  return encodeBundle(MAGIC, { format: "softtree-teacher-state", version: VERSION, ...state });
}

/**
 * Decode and validate a saved teacher training; `name` is used in messages.
 * @throws {CheckpointError} naming the file for anything that is not a valid state.
 */
export function decodeTeacherState(bytes: Uint8Array, name: string): SavedTeacherState {
  const fail = (why: string): never => {
    throw new CheckpointError(`Cannot read ${WHAT} "${name}": ${why}`);
  };
  const rd = new Reader(fail);
  const h = rd.obj(decodeBundle(bytes, name, MAGIC, WHAT), "header");
  if (h.format !== "softtree-teacher-state") {
    fail(`its header names format ${JSON.stringify(h.format)}`);
  }
  if (h.version !== VERSION) {
    fail(`it has version ${JSON.stringify(h.version)}, this softtree reads ${VERSION}`);
  }
  const config = rd.obj(h.config, "config") as unknown as TeacherConfig;
  const meta = rd.obj(h.meta, "meta");
  const names = rd.list(h.names, "names", (x, p) => rd.str(x, p));
  const t = rd.obj(h.train, "train");
  const int = (x: unknown, p: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    rd.num(x, p, { int: true, min, max });
  const p = rd.obj(t.plan, "train.plan");
  const plan: TeacherPlan = {
    epochs: int(p.epochs, "train.plan.epochs", 1),
    batchSize: int(p.batchSize, "train.plan.batchSize", 1),
    learningRate: rd.num(p.learningRate, "train.plan.learningRate", { min: 0 }),
    schedule: p.schedule === "cosine"
      ? "cosine"
      : p.schedule === "constant"
      ? "constant"
      : fail(`"train.plan.schedule" is ${JSON.stringify(p.schedule)}`),
    seed: int(p.seed, "train.plan.seed", -Number.MAX_SAFE_INTEGER),
    trainSamples: int(p.trainSamples, "train.plan.trainSamples", 1),
  };
  const weights = rd.list(t.weights, "train.weights", (x, q) => rd.f32(x, q));
  if (weights.length !== names.length) {
    fail(`it holds ${weights.length} weights but names ${names.length}`);
  }
  const adam = rd.obj(t.adam, "train.adam");
  const moments = (x: unknown, q: string) => {
    const list = rd.list(x, q, (y, r) => rd.f32(y, r));
    if (list.length !== weights.length) {
      fail(`"${q}" holds ${list.length} arrays, not ${weights.length}`);
    }
    list.forEach((a, i) => {
      if (a.length !== weights[i].length) {
        fail(`"${q}[${i}]" holds ${a.length} values, its weight ${weights[i].length}`);
      }
    });
    return list;
  };
  const best = t.best === null ? null : rd.obj(t.best, "train.best");
  const history = rd.list(t.history, "train.history", (x, q): TeacherEpochInfo => {
    const o = rd.obj(x, q);
    const n = (k: string) => rd.num(o[k], `${q}.${k}`, { nonFinite: true });
    return {
      epoch: int(o.epoch, `${q}.epoch`, 1),
      epochs: int(o.epochs, `${q}.epochs`, 1),
      loss: n("loss"),
      valAccuracy: n("valAccuracy"),
      samplesPerSec: n("samplesPerSec"),
      seconds: n("seconds"),
    };
  });
  const train: TeacherTrainState = {
    plan,
    reason: t.reason === "epoch" || t.reason === "interrupted"
      ? t.reason
      : fail(`"train.reason" is ${JSON.stringify(t.reason)}`),
    epoch: int(t.epoch, "train.epoch", 1, plan.epochs + 1),
    done: int(t.done, "train.done", 0, plan.trainSamples - 1),
    rngEpoch: int(t.rngEpoch, "train.rngEpoch", 0, 0xffffffff),
    rng: int(t.rng, "train.rng", 0, 0xffffffff),
    step: int(t.step, "train.step"),
    lossSum: rd.num(t.lossSum, "train.lossSum"),
    seconds: rd.num(t.seconds, "train.seconds"),
    history,
    weights,
    adam: {
      step: int(adam.step, "train.adam.step"),
      m: moments(adam.m, "train.adam.m"),
      v: moments(adam.v, "train.adam.v"),
    },
    best: best === null ? null : {
      epoch: int(best.epoch, "train.best.epoch", 1),
      valAccuracy: rd.num(best.valAccuracy, "train.best.valAccuracy", { nonFinite: true }),
    },
    bestIsCurrent: t.bestIsCurrent === true,
  };
  if (train.history.length !== train.epoch - 1) {
    fail(`its history holds ${train.history.length} epochs but it is at epoch ${train.epoch}`);
  }
  return { config, meta, names, train };
}

/** The teacher's state file, for `lib/run/`. */
export const TEACHER_STATE: StateFile<SavedTeacherState> = {
  name: TEACHER_STATE_FILE,
  what: WHAT,
  encode: encodeTeacherState,
  decode: decodeTeacherState,
};

/** A teacher's training as its folder knows it, for `lib/run/`. */
export const TEACHER_RUN: RunKind<SavedTeacherState> = {
  names: ["teacher folder", "training"],
  state: TEACHER_STATE,
  progress: (saved) => progressOf(saved.train),
};

/** Write a teacher training's state into its folder, atomically and durably. */
export async function saveTeacherState(dir: string, state: SavedTeacherState): Promise<string> {
  return await saveState(dir, TEACHER_STATE, state);
}

/**
 * Read the teacher training state saved in a folder, or `null` when there is none.
 * @throws {CheckpointError} naming the file when it is there but invalid.
 */
export async function loadTeacherState(dir: string): Promise<SavedTeacherState | null> {
  return await loadState(dir, TEACHER_STATE);
}

/** Remove a teacher folder's state file (when its training has finished). */
export async function removeTeacherState(dir: string): Promise<void> {
  await removeState(dir, TEACHER_STATE);
}
