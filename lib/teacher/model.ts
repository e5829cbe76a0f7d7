/**
 * The teacher: the seed's ConvNet in TensorFlow.js layers, and its training loop.
 *
 * Architecture (the seed's, sizes adjustable): Conv2D `f1` 3x3 relu, Conv2D `f2` 3x3 relu,
 * MaxPool 2x2, Dropout 0.25, Flatten, Dense `dense` relu, Dropout 0.5, Dense `K` (logits).
 * Trained with softmax cross-entropy on the logits and Adam.
 *
 * Shapes: `N` samples, `B` batch, `F = H*W*C` features, `K` classes; images are row-major
 * channels-last `[N, H, W, C]`, stored flat as `[N, F]`.
 *
 * @module
 */
import { tf, tfl } from "../deps.ts";
import { ensureTf } from "../backends/tf_setup.ts";
import type { Dataset } from "../data/types.ts";
import { CheckpointError } from "../errors.ts";
import { divergedError, interruptedError } from "../run/stop.ts";
import type { TrainingHooks } from "../run/hooks.ts";
import { type AsyncStepLoop, driveSteps } from "../run/steps.ts";
import { Rng } from "../util/random.ts";
import { ensureTeacherKernels, type TeacherKernels } from "./kernels_select.ts";
import {
  nativeDropoutMask,
  nativeSoftmaxCrossEntropy,
  nativeTrainingLayer,
} from "./kernels_native.ts";
import { FusedAdam } from "./_adam.ts";
import {
  checkTeacherResume,
  readWeights,
  type TeacherPlan,
  type TeacherTrainState,
} from "./train_state.ts";
import type { TeacherConfig, TeacherEpochInfo } from "./types.ts";

export type { TeacherConfig, TeacherEpochInfo };

/** The seed's sizes. */
export const SEED_TEACHER: Pick<TeacherConfig, "filters" | "dense" | "dropout"> = {
  filters: [32, 64],
  dense: 128,
  dropout: [0.25, 0.5],
};

/** What a teacher remembers about how it was made (saved with it). */
export interface TeacherMeta {
  /** Where its training data came from, e.g. `"mnist"`. */
  source?: string;
  /** Fraction of the test split it classifies correctly. */
  testAccuracy?: number;
  /** Fraction of the validation split it classifies correctly. */
  valAccuracy?: number;
  /** The command line that trained it. */
  command?: string;
  /** The seed it was trained with. */
  seed?: number;
  /** Training options and timings. */
  [key: string]: unknown;
}

/** TensorFlow.js's layers model, the type of {@linkcode Teacher.model}. */
export type LayersModel = tfl.LayersModel;

/**
 * A teacher network: a tfjs `LayersModel` that outputs logits, its configuration and its
 * metadata. Call {@linkcode Teacher.dispose} when done with it.
 */
export class Teacher {
  /** The network; its output is logits `[B, K]`. */
  readonly model: LayersModel;
  /** Its shape. */
  readonly config: TeacherConfig;
  /** Facts about its training (source, accuracy, command, seed). */
  meta: TeacherMeta;

  /**
   * Wraps a network as a teacher.
   *
   * @param model A network built by {@linkcode createTeacher} or loaded by `loadTeacher`.
   * @param config Its shape.
   * @param meta Facts about its training.
   */
  constructor(model: LayersModel, config: TeacherConfig, meta: TeacherMeta = {}) {
    this.model = model;
    this.config = config;
    this.meta = meta;
  }

  /** `F = H*W*C`, the features of one input. */
  get features(): number {
    const [h, w, c] = this.config.inputShape;
    return h * w * c;
  }

  /** Free the network's weights. */
  dispose(): void {
    this.model.dispose();
  }
}

/** Options of {@linkcode createTeacher}. */
export interface CreateTeacherOptions {
  /** Filters of the two convolutions. @default [32, 64] */
  filters?: [number, number];
  /** Units of the hidden dense layer. @default 128 */
  dense?: number;
  /** Dropout rates. @default [0.25, 0.5] */
  dropout?: [number, number];
  /** Seed of the weight initialisation. @default 0 */
  seed?: number;
}

function checkPositiveInt(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`Invalid ${what} "${value}": expected a positive integer`);
  }
}

/**
 * Builds an untrained teacher for images of `inputShape` and `classes` classes, with
 * seeded Glorot-uniform weights and zero biases.
 *
 * @param inputShape `[H, W, C]`; both convolutions are 3x3 "valid", so `H` and `W` must be
 *   at least 6.
 * @param classes `K`, at least 2.
 * @param options Sizes and seed.
 * @returns The teacher.
 * @throws {RangeError} When a size is not a positive integer or the image is too small.
 * @example
 * ```ts
 * const t = createTeacher([28, 28, 1], 10, { filters: [8, 16], dense: 32, seed: 1 });
 * t.model.countParams();
 * t.dispose();
 * ```
 */
export function createTeacher(
  inputShape: [number, number, number],
  classes: number,
  options: CreateTeacherOptions = {},
): Teacher {
  const filters = options.filters ?? SEED_TEACHER.filters;
  const dense = options.dense ?? SEED_TEACHER.dense;
  const dropout = options.dropout ?? SEED_TEACHER.dropout;
  const seed = options.seed ?? 0;
  inputShape.forEach((d, i) => checkPositiveInt(d, `input shape [${i}]`));
  if (inputShape[0] < 6 || inputShape[1] < 6) {
    throw new RangeError(
      `Invalid input shape [${inputShape}]: the teacher needs images of at least 6x6 pixels`,
    );
  }
  if (!Number.isInteger(classes) || classes < 2) {
    throw new RangeError(`Invalid class count "${classes}": expected an integer of at least 2`);
  }
  filters.forEach((f, i) => checkPositiveInt(f, `filters [${i}]`));
  checkPositiveInt(dense, "dense units");
  for (const r of dropout) {
    if (!(r >= 0 && r < 1)) throw new RangeError(`Invalid dropout rate "${r}": expected [0, 1)`);
  }
  // One seed per initialised layer, so layers do not share a random stream.
  const init = (i: number) => tfl.initializers.glorotUniform({ seed: seed * 8 + i });
  const model = tfl.sequential({
    name: "teacher",
    layers: [
      tfl.layers.conv2d({
        inputShape,
        filters: filters[0],
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: init(1),
        name: "conv1",
      }),
      tfl.layers.conv2d({
        filters: filters[1],
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: init(2),
        name: "conv2",
      }),
      tfl.layers.maxPooling2d({ poolSize: 2, name: "pool" }),
      tfl.layers.dropout({ rate: dropout[0], name: "dropout1" }),
      tfl.layers.flatten({ name: "flatten" }),
      tfl.layers.dense({
        units: dense,
        activation: "relu",
        kernelInitializer: init(3),
        name: "dense1",
      }),
      tfl.layers.dropout({ rate: dropout[1], name: "dropout2" }),
      tfl.layers.dense({ units: classes, kernelInitializer: init(4), name: "logits" }),
    ],
  });
  return new Teacher(model, { inputShape, classes, filters, dense, dropout }, { seed });
}

/**
 * The logits of a batch, `[B, K]`. With `rng`, dropout is applied as in training, with
 * masks drawn from `rng` (seeded and fast); without it, the network runs in inference mode.
 * Call inside `tf.tidy`.
 */
export function teacherForward(teacher: Teacher, x: tf.Tensor4D, rng?: Rng): tf.Tensor2D {
  if (!rng) return teacher.model.apply(x, { training: false }) as tf.Tensor2D;
  let h: tf.Tensor = x;
  for (const layer of teacher.model.layers) {
    if (layer.getClassName() === "Dropout") {
      const rate = (layer.getConfig() as { rate: number }).rate;
      if (rate > 0) h = tf.mul(h, dropoutMask(h.shape, rate, rng));
    } else {
      // With the native kernels, a relu layer runs as one fused kernel (the same maths).
      h = nativeTrainingLayer(layer, h) ?? layer.apply(h, { training: true }) as tf.Tensor;
    }
  }
  return h as tf.Tensor2D;
}

/** The mean softmax cross-entropy of logits [B, K] against labels [B] (one native kernel when
 * the native kernels are registered). */
function crossEntropy(labels: tf.Tensor1D, logits: tf.Tensor2D, classes: number): tf.Scalar {
  return nativeSoftmaxCrossEntropy(labels, logits) ??
    tf.losses.softmaxCrossEntropy(tf.oneHot(labels, classes), logits) as tf.Scalar;
}

/** An inverted-dropout mask: `1 / (1 - rate)` with probability `1 - rate`, else 0 (drawn by
 * the native kernels when they are registered: the same values). */
function dropoutMask(shape: number[], rate: number, rng: Rng): tf.Tensor {
  const native = nativeDropoutMask(shape, rate, rng);
  if (native) return native;
  const n = shape.reduce((a, b) => a * b, 1);
  const m = new Float32Array(n);
  const keep = 1 / (1 - rate);
  for (let i = 0; i < n; i++) m[i] = rng.next() >= rate ? keep : 0;
  return tf.tensor(m, shape);
}

/** Progress of one optimizer step. */
export interface TeacherBatchInfo {
  /** 1-based epoch. */
  epoch: number;
  /** Samples done in this epoch. */
  done: number;
  /** Samples in an epoch. */
  total: number;
  /** Mean loss of this batch. */
  loss: number;
  /** Training throughput over this epoch so far. */
  samplesPerSec: number;
}

/** Options of {@linkcode trainTeacher}. */
export interface TrainTeacherOptions
  extends
    CreateTeacherOptions,
    TrainingHooks<TeacherBatchInfo, TeacherEpochInfo, TeacherTrainState> {
  /** Passes over the training split. @default 12 */
  epochs?: number;
  /** Samples per Adam step; the last batch of an epoch may be short. @default 16 */
  batchSize?: number;
  /** Adam's learning rate. @default 0.001 */
  learningRate?: number;
  /**
   * Learning-rate schedule: `"constant"` (the seed), or `"cosine"`, decaying from
   * `learningRate` to 0 over the training by a half cosine, step by step.
   * @default "constant"
   */
  schedule?: "constant" | "cosine";
  /** Seed of initialisation, shuffling and dropout. @default 0 */
  seed?: number;
  /** Validation split, evaluated after each epoch. @default undefined */
  val?: Dataset;
  /** Continue training this teacher instead of building a new one. @default undefined */
  teacher?: Teacher;
}

/** What {@linkcode trainTeacher} returns. */
export interface TrainTeacherResult {
  /** The trained teacher (its `meta` records the training). */
  teacher: Teacher;
  /** One entry per epoch. */
  history: TeacherEpochInfo[];
  /** The TensorFlow.js backend that trained it (`"wasm"` or `"cpu"`). */
  backend: string;
  /** The kernels that trained it (native, cuda, wasm or cpu), with a one-line description. */
  kernels: TeacherKernels;
  /** Wall time of the whole training. */
  seconds: number;
}

/** The `[H, W, C]` of a data set, checked to be an image of `F` features. */
export function imageShapeOf(ds: Dataset): [number, number, number] {
  if (!ds.imageShape) {
    throw new TypeError(
      `Cannot train a ConvNet teacher on "${ds.source}": it is not image data (no image shape)`,
    );
  }
  const [h, w, c] = ds.imageShape;
  if (h * w * c !== ds.features) {
    throw new RangeError(
      `Invalid image shape [${ds.imageShape}] for "${ds.source}": it has ${ds.features} features`,
    );
  }
  return [h, w, c];
}

/** Copies rows `order[start..end)` of `x [N, F]` into `out`. */
export function gatherRows(
  x: Float32Array,
  features: number,
  order: Int32Array,
  start: number,
  end: number,
  out: Float32Array,
): void {
  for (let i = start; i < end; i++) {
    const r = order[i] * features;
    out.set(x.subarray(r, r + features), (i - start) * features);
  }
}

/**
 * Trains a teacher on `train` (a new one, or `options.teacher` further): softmax
 * cross-entropy on the logits, Adam, shuffled batches, dropout; validation accuracy after
 * every epoch. Runs on the kernels chosen by `prepareTeacherKernels` (`kernels_select.ts`;
 * by default the native ones, else the wasm backend's).
 *
 * @param train The training split (image data).
 * @param options Sizes, schedule, seed, validation split and progress callbacks.
 * @returns The trained teacher and the per-epoch history.
 * @throws {TypeError} When the data is not image data.
 * @throws {RangeError} When an option is out of range, or `resume` is another run's.
 * @throws {TrainingInterruptedError} When `signal` is aborted (after `onState` got the state).
 * @throws {TrainingDivergedError} When a batch's loss is not finite.
 * @example
 * ```ts
 * const { train, val } = await loadData("mnist", { limit: { train: 2000, val: 500 } });
 * const { teacher, history } = await trainTeacher(train, { val, epochs: 1, seed: 1 });
 * history[0].valAccuracy; // about 0.9
 * ```
 */
export async function trainTeacher(
  train: Dataset,
  options: TrainTeacherOptions = {},
): Promise<TrainTeacherResult> {
  const epochs = options.epochs ?? 12;
  const batchSize = options.batchSize ?? 16;
  const learningRate = options.learningRate ?? 1e-3;
  const seed = options.seed ?? 0;
  checkPositiveInt(epochs, "epoch count");
  checkPositiveInt(batchSize, "batch size");
  if (!(learningRate > 0 && Number.isFinite(learningRate))) {
    throw new RangeError(`Invalid learning rate "${learningRate}": expected a positive number`);
  }
  if (train.n === 0) {
    throw new RangeError(`Cannot train a teacher on "${train.source}": no samples`);
  }
  const shape = imageShapeOf(train);
  const backend = await ensureTf();
  const kernels = await ensureTeacherKernels();
  const teacher = options.teacher ?? createTeacher(shape, train.classes, { ...options, seed });
  checkFits(teacher, train);
  if (options.val) checkFits(teacher, options.val);

  let rng = new Rng(seed);
  const schedule = options.schedule ?? "constant";
  if (schedule !== "constant" && schedule !== "cosine") {
    throw new RangeError(`Invalid schedule "${schedule}": expected "constant" or "cosine"`);
  }
  const optimizer = new FusedAdam(learningRate);
  const stepsPerEpoch = Math.ceil(train.n / batchSize);
  let step = 0;
  const vars = teacher.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const F = train.features, K = teacher.config.classes;
  const xBuf = new Float32Array(batchSize * F);
  const yBuf = new Int32Array(batchSize);
  const history: TeacherEpochInfo[] = [];
  const t0 = performance.now();
  // Resuming: the weights, Adam, the generator and the history go on from the saved state.
  const plan: TeacherPlan = {
    epochs,
    batchSize,
    learningRate,
    schedule,
    seed,
    trainSamples: train.n,
  };
  const resume = options.resume;
  let best = resume?.best ?? null;
  if (resume) {
    checkTeacherResume(resume, plan, vars);
    vars.forEach((v, i) => v.assign(tf.tensor(resume.weights[i], v.shape, "float32")));
    optimizer.setState(vars, resume.adam);
    rng = Rng.fromState(resume.rngEpoch);
    step = resume.step;
    history.push(...resume.history);
  }
  /** One Adam step on the rows `order[start, end)` of the training split; its mean loss. */
  const adamStep = async (order: Int32Array, start: number, end: number): Promise<number> => {
    const b = end - start;
    gatherRows(train.x, F, order, start, end, xBuf);
    for (let i = start; i < end; i++) yBuf[i - start] = train.y[order[i]];
    const { value: loss, grads } = tf.tidy(() => {
      const xs = tf.tensor4d(xBuf.subarray(0, b * F), [b, ...shape]);
      const ys = tf.tensor1d(yBuf.subarray(0, b), "int32");
      return tf.variableGrads(() => crossEntropy(ys, teacherForward(teacher, xs, rng), K), vars);
    });
    if (schedule === "cosine") {
      optimizer.learningRate = learningRate * 0.5 *
        (1 + Math.cos(Math.PI * step / (epochs * stepsPerEpoch)));
    }
    step++;
    optimizer.apply(vars, vars.map((v) => grads[v.name]));
    const value = (await loss.data())[0];
    tf.dispose([loss, ...Object.values(grads)]);
    return value;
  };
  // The loop: plain maths and bookkeeping; lib/run drives it (breathing, stops, saving).
  async function* loop(): AsyncStepLoop<TeacherTrainState, void> {
    for (let epoch = resume?.epoch ?? 1; epoch <= epochs; epoch++) {
      /** Where the run is after `end` samples of this epoch. */
      const at = (end: number) => ({
        epoch,
        batch: Math.ceil(end / batchSize),
        batches: stepsPerEpoch,
      });
      const part = resume && epoch === resume.epoch && resume.done > 0 ? resume : null;
      const rngEpoch = part ? part.rngEpoch : rng.state;
      const order = (part ? Rng.fromState(part.rngEpoch) : rng).permutation(train.n);
      if (part) rng = Rng.fromState(part.rng);
      const e0 = performance.now() - 1000 * (part?.seconds ?? 0);
      let lossSum = part?.lossSum ?? 0;
      const state = (reason: TeacherTrainState["reason"], at: Partial<TeacherTrainState>) => ({
        plan,
        reason,
        epoch,
        done: 0,
        rngEpoch,
        rng: rng.state,
        step,
        lossSum,
        seconds: (performance.now() - e0) / 1000,
        history: [...history],
        weights: readWeights(vars),
        adam: optimizer.getState(vars),
        best,
        bestIsCurrent: false,
        ...at,
      });
      for (let start = part?.done ?? 0; start < train.n; start += batchSize) {
        const end = Math.min(train.n, start + batchSize);
        const b = end - start;
        const value = await adamStep(order, start, end);
        if (!Number.isFinite(value)) {
          throw divergedError(at(end), value, bestAccuracy(best), learningRate);
        }
        lossSum += value * b;
        options.onBatch?.({
          epoch,
          done: end,
          total: train.n,
          loss: value,
          samplesPerSec: end / ((performance.now() - e0) / 1000),
        });
        // A batch boundary: the driver lets Ctrl-C in and says whether to stop.
        if ((yield null) && end < train.n) {
          yield state("interrupted", { done: end });
          throw interruptedError(WHAT, at(end), bestAccuracy(best), options.signal?.reason);
        }
      }
      const trainSeconds = (performance.now() - e0) / 1000;
      const valAccuracy = options.val ? await teacherAccuracy(teacher, options.val) : NaN;
      const info: TeacherEpochInfo = {
        epoch,
        epochs,
        loss: lossSum / train.n,
        valAccuracy,
        samplesPerSec: train.n / trainSeconds,
        seconds: (performance.now() - e0) / 1000,
      };
      history.push(info);
      options.onEpoch?.(info);
      // The best epoch on validation (without validation, the latest).
      const better = !best || !(valAccuracy <= best.valAccuracy);
      if (better) best = { epoch, valAccuracy };
      const stop = Boolean(options.signal?.aborted) && epoch < epochs;
      yield state(stop ? "interrupted" : "epoch", {
        epoch: epoch + 1,
        done: 0,
        rngEpoch: rng.state,
        lossSum: 0,
        seconds: 0,
        bestIsCurrent: better,
      });
      if (stop) {
        throw interruptedError(WHAT, at(train.n), bestAccuracy(best), options.signal!.reason);
      }
    }
  }
  await driveSteps(loop(), { onState: options.onState, signal: options.signal });
  const seconds = (performance.now() - t0) / 1000;
  const last = history[history.length - 1];
  teacher.meta = {
    ...teacher.meta,
    source: train.source,
    seed,
    valAccuracy: last.valAccuracy,
    training: {
      epochs,
      batchSize,
      learningRate,
      schedule,
      trainSamples: train.n,
      backend,
      kernels: kernels.name,
      seconds,
      samplesPerSec: history.reduce((a, h) => a + h.samplesPerSec, 0) / history.length,
    },
  };
  return { teacher, history, backend, kernels, seconds };
}

/** What stopped, starting the message of an interruption. */
const WHAT = "Teacher training";

/** The best validation accuracy so far for an error, or `null` (none, or no validation). */
function bestAccuracy(best: { valAccuracy: number } | null): number | null {
  return best && Number.isFinite(best.valAccuracy) ? best.valAccuracy : null;
}

/** Options of {@linkcode teacherLogits} and friends. */
export interface PredictOptions {
  /** Samples per forward pass. @default 256 */
  batchSize?: number;
  /** Called after each batch with the samples done. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * The teacher's logits for `x [N, F]`, `[N, K]`, in inference mode (no dropout), batched.
 *
 * @param teacher The teacher.
 * @param x Inputs `[N, F]`, `F` matching the teacher's input shape.
 * @param options Batch size and progress.
 * @returns Logits `[N, K]`.
 * @throws {RangeError} When `x` is not a whole number of inputs.
 * @example
 * ```ts
 * const logits = await teacherLogits(teacher, test.x); // [N, K]
 * ```
 */
export async function teacherLogits(
  teacher: Teacher,
  x: Float32Array,
  options: PredictOptions = {},
): Promise<Float32Array> {
  await ensureTeacherKernels();
  const F = teacher.features, K = teacher.config.classes;
  if (x.length % F !== 0) {
    throw new RangeError(
      `Invalid input of ${x.length} values: not a multiple of the teacher's ${F} features`,
    );
  }
  const n = x.length / F;
  const batchSize = options.batchSize ?? 256;
  checkPositiveInt(batchSize, "batch size");
  const out = new Float32Array(n * K);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const logits = tf.tidy(() =>
      teacherForward(
        teacher,
        tf.tensor4d(x.subarray(start * F, end * F), [end - start, ...teacher.config.inputShape]),
      )
    );
    out.set(await logits.data() as Float32Array, start * K);
    logits.dispose();
    options.onProgress?.(end, n);
  }
  return out;
}

/** The index of the largest value of each row of `[N, K]`. */
export function argmaxRows(values: Float32Array, k: number): Int32Array {
  const n = values.length / k;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (values[i * k + j] > values[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

/**
 * The teacher's predicted class for each row of `x [N, F]`.
 *
 * @param teacher The teacher.
 * @param x Inputs `[N, F]`.
 * @param options Batch size and progress.
 * @returns Classes `[N]`.
 * @example
 * ```ts
 * const pred = await teacherPredict(teacher, test.x);
 * ```
 */
export async function teacherPredict(
  teacher: Teacher,
  x: Float32Array,
  options: PredictOptions = {},
): Promise<Int32Array> {
  return argmaxRows(await teacherLogits(teacher, x, options), teacher.config.classes);
}

/**
 * The fraction of `data` that the teacher classifies correctly, in [0, 1].
 *
 * @param teacher The teacher.
 * @param data A labelled split whose shape fits the teacher.
 * @param options Batch size and progress.
 * @returns Accuracy in [0, 1] (`NaN` for an empty split).
 * @throws {CheckpointError} When the data does not fit the teacher.
 * @example
 * ```ts
 * const acc = await teacherAccuracy(teacher, splits.test); // 0.99
 * ```
 */
export async function teacherAccuracy(
  teacher: Teacher,
  data: Dataset,
  options: PredictOptions = {},
): Promise<number> {
  checkFits(teacher, data);
  if (data.n === 0) return NaN;
  const pred = await teacherPredict(teacher, data.x, options);
  let right = 0;
  for (let i = 0; i < data.n; i++) if (pred[i] === data.y[i]) right++;
  return right / data.n;
}

/**
 * Throws unless `data` has the teacher's input shape and class count.
 *
 * @param teacher The teacher.
 * @param data A split to use with it.
 * @param where Where the teacher came from, for the message. @default "the teacher"
 * @throws {CheckpointError} When the shape or the class count differ.
 */
export function checkFits(teacher: Teacher, data: Dataset, where = "the teacher"): void {
  const { inputShape, classes } = teacher.config;
  const shape = data.imageShape;
  const same = shape !== null && shape.every((d, i) => d === inputShape[i]);
  if (!same) {
    throw new CheckpointError(
      `${where} expects images of shape [${inputShape}], but "${data.source}" has ${
        shape ? `shape [${shape}]` : `${data.features} non-image features`
      }`,
    );
  }
  if (classes !== data.classes) {
    throw new CheckpointError(
      `${where} has ${classes} classes, but "${data.source}" has ${data.classes}`,
    );
  }
}
