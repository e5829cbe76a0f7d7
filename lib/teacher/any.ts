/**
 * The one interface every teacher implements — the shipped softtree ConvNet, an ONNX model, a
 * TensorFlow.js layers or graph model, a file of a teacher's outputs — and what the model
 * kinds share: the preprocessing that turns softtree's inputs into what a model was trained
 * on, and the conversion of its outputs to logits.
 *
 * Preprocessing of one sample (softtree holds images channels-last with pixels in [0, 1],
 * tabular rows min-max scaled): tabular rows are first given back their source's values
 * (`raw = x * (max - min) + min`, the data's `scaling`); colour is converted to the model's
 * channels (gray to RGB by copying, RGB to gray by ITU-R 601 luma, `bgr` reverses the
 * order); then `v * scale`, then `(v - mean[c]) / std[c]` (torchvision's `Normalize`, per
 * channel, or per feature for tabular rows); last, the values are laid out as the model
 * takes them (`nchw`, `nhwc` or `flat`).
 *
 * Outputs: `logits` are used as they are; `probabilities` become log-probabilities, so that
 * `softmax(logits / T)` gives the probabilities back at `T = 1`; `auto` decides on the first
 * batch (rows non-negative and summing to 1 are probabilities).
 *
 * Shapes: `N` samples, `F` features, `K` classes, `[H, W, C]` an image, channels last.
 *
 * @module
 */
import type { Dataset } from "../data/types.ts";
import { CheckpointError } from "../errors.ts";
import type { PredictOptions } from "./model.ts";

/** What a teacher is. */
export type TeacherKind = "softtree" | "onnx" | "tfjs-layers" | "tfjs-graph" | "soft-labels";
/** How a model lays out an image batch. */
export type TeacherLayout = "nchw" | "nhwc" | "flat";
/** The colour channels a model was trained on. */
export type TeacherChannels = "rgb" | "bgr" | "gray";
/** What a model's output holds. */
export type TeacherOutputs = "auto" | "logits" | "probabilities";

/** Choices of `--teacher-layout`, `--teacher-channels` and `--teacher-outputs`. */
export const TEACHER_LAYOUTS = ["nchw", "nhwc", "flat"] as const;
/** @see TEACHER_LAYOUTS */
export const TEACHER_CHANNELS = ["rgb", "bgr", "gray"] as const;
/** @see TEACHER_LAYOUTS */
export const TEACHER_OUTPUTS = ["auto", "logits", "probabilities"] as const;

/** How a user describes the inputs and outputs of their model (all optional). */
export interface TeacherInputOptions {
  /** Multiply softtree's inputs by this first (255 for models trained on raw bytes). @default 1 */
  scale?: number;
  /** Subtracted after scaling: one value, or one per channel (per feature for tabular data). @default [0] */
  mean?: number[];
  /** Divided by after the mean: one value, or one per channel. @default [1] */
  std?: number[];
  /** The model's colour channels. @default "rgb" (as the data, for gray data a gray model) */
  channels?: TeacherChannels;
  /** The model's input layout. @default from the model's input shape */
  layout?: TeacherLayout;
  /** What the model outputs. @default "auto" */
  outputs?: TeacherOutputs;
  /** The output to use, for models with several. @default the only one */
  output?: string;
}

/** The preprocessing a model teacher applies, as resolved for one data set (recorded in runs). */
export interface TeacherPreprocessing {
  /** Factor applied first. */
  scale: number;
  /** Per-channel means (one value means every channel). */
  mean: number[];
  /** Per-channel standard deviations. */
  std: number[];
  /** The model's channels. */
  channels: TeacherChannels;
  /** The model's input layout. */
  layout: TeacherLayout;
  /** What its output holds, as asked (`auto` until decided) and as decided. */
  outputs: TeacherOutputs;
  /** The output used. */
  output: string;
  /** Whether tabular rows were given back their source's values before scaling. */
  unscaled: boolean;
}

/** Options of {@linkcode AnyTeacher.logits}. */
export interface TeacherLogitsOptions extends PredictOptions {
  /**
   * Each input's row in the data's source (`Dataset.sourceRows`): needed by a teacher that is
   * a file of outputs, ignored by models.
   */
  rows?: Int32Array;
}

/**
 * A teacher of any kind: it gives logits `[N, K]` for inputs `[N, F]`. Call
 * {@linkcode AnyTeacher.dispose} when done.
 */
export interface AnyTeacher {
  /** What it is. */
  readonly kind: TeacherKind;
  /** The file it was read from. */
  readonly file: string;
  /** `K`. */
  readonly classes: number;
  /** `F`, the features of one of softtree's inputs. */
  readonly features: number;
  /** The model's input shape without the batch axis, as it declares it (`[]` for a file). */
  readonly inputShape: readonly number[];
  /** Its preprocessing (`null` for the softtree ConvNet and for a file of outputs). */
  readonly preprocessing: TeacherPreprocessing | null;
  /** One line for people: kind, file, preprocessing. */
  describe(): string;
  /**
   * The cache key of its logits: a hex SHA-256 of the model (file bytes, external data
   * included, or weights) and the preprocessing.
   */
  fingerprint(): Promise<string>;
  /** Logits `[N, K]` of `x [N, F]`, batched, with progress. */
  logits(x: Float32Array, options?: TeacherLogitsOptions): Promise<Float32Array>;
  /** Frees what it holds. */
  dispose(): void;
}

/** What is recorded about a teacher in a run (metrics.json, the checkpoint's data facts). */
export interface TeacherRecord {
  /** What kind of teacher it is. */
  kind: TeacherKind;
  /** The model file (or outputs file) it was read from. */
  file: string;
  /** The input shape it takes, without the batch axis. */
  inputShape: number[];
  /** `K`, its classes. */
  classes: number;
  /** How softtree's inputs were prepared for it; `null` for none. */
  preprocessing: TeacherPreprocessing | null;
}

/** The record of a teacher, for metrics.json and the checkpoint. */
export function teacherRecord(t: AnyTeacher): TeacherRecord {
  return {
    kind: t.kind,
    file: t.file,
    inputShape: [...t.inputShape],
    classes: t.classes,
    preprocessing: t.preprocessing ? { ...t.preprocessing } : null,
  };
}

/** A short text of a preprocessing, e.g. `scale 1, mean 0.5, std 0.5, rgb, nchw, logits`. */
export function describePreprocessing(p: TeacherPreprocessing): string {
  const parts = [
    `scale ${p.scale}`,
    `mean ${p.mean.join(",")}`,
    `std ${p.std.join(",")}`,
    p.channels,
    p.layout,
    `${p.outputs} output "${p.output}"`,
  ];
  if (p.unscaled) parts.push("raw tabular values");
  return parts.join(", ");
}

/** `1×28×28`. */
export function shapeText(shape: readonly number[]): string {
  return shape.map((d) => (d < 0 ? "?" : String(d))).join("×");
}

/** How the data looks, said in an error: `the data has 30 features` or `28×28×1 images`. */
export function dataShapeText(data: Pick<Dataset, "imageShape" | "features">): string {
  return data.imageShape
    ? `the data has ${shapeText(data.imageShape)} images (H×W×C, ${data.features} features)`
    : `the data has ${data.features} features`;
}

function checkList(values: number[], what: string, positive: boolean): number[] {
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || (positive && v <= 0))) {
    throw new RangeError(
      `Invalid ${what} "${values.join(",")}": expected ${
        positive ? "positive" : "finite"
      } numbers separated by commas`,
    );
  }
  return values;
}

/** A model's input, resolved against the data: layout, channels and sizes. */
export interface ResolvedInput {
  layout: TeacherLayout;
  /** The model's channels `Cm` (1 for tabular data). */
  modelChannels: number;
}

/**
 * Decides how a model with input shape `shape` (without the batch axis; symbolic sizes as
 * -1) takes `data`, or throws naming both shapes.
 *
 * @param file The model's file, for messages.
 * @param shape The model's input shape without the batch axis.
 * @param data The data (its image shape or feature count).
 * @param layout The user's layout, when given.
 * @param channels The user's channels, when given.
 * @returns The layout and the model's channel count.
 * @throws {CheckpointError} When the model's input does not fit the data.
 */
export function resolveInput(
  file: string,
  shape: readonly number[],
  data: Pick<Dataset, "imageShape" | "features">,
  layout?: TeacherLayout,
  channels?: TeacherChannels,
): ResolvedInput {
  const misfit = (why = ""): never => {
    throw new CheckpointError(
      `The teacher "${file}" does not fit the data: the teacher takes ${
        shape.length ? shapeText(shape) : "inputs of unknown shape"
      }, ${dataShapeText(data)}${why}`,
    );
  };
  const fits = (d: number, want: number) => d < 0 || d === want;
  const product = shape.every((d) => d > 0) ? shape.reduce((a, b) => a * b, 1) : -1;
  const img = data.imageShape;
  if (!img) {
    // Tabular: the model must take F values per row, whatever its rank.
    if (layout && layout !== "flat") misfit(` (--teacher-layout ${layout} needs image data)`);
    if (!fits(product, data.features) && !(shape.length === 1 && shape[0] < 0)) misfit();
    return { layout: "flat", modelChannels: 1 };
  }
  const [h, w, c] = img;
  const channelOk = (cm: number) =>
    cm < 0 ? true : cm === c || (cm === 1 && c === 3) || (cm === 3 && c === 1);
  const want = (cm: number) => (channels === "gray" ? 1 : cm < 0 ? c : cm);
  const asNchw = shape.length === 3 && channelOk(shape[0]) && fits(shape[1], h) &&
    fits(shape[2], w);
  const asNhwc = shape.length === 3 && channelOk(shape[2]) && fits(shape[0], h) &&
    fits(shape[1], w);
  const cFlat = channels === "gray" ? 1 : c;
  const asFlat = shape.length === 1
    ? fits(shape[0], h * w * cFlat)
    : shape.length === 2
    ? fits(shape[0], h) && fits(shape[1], w) && cFlat === 1
    : shape.length === 0;
  const chosen = layout ??
    (asNchw && asNhwc
      ? (shape[0] === 1 || shape[0] === 3 ? "nchw" : "nhwc")
      : asNchw
      ? "nchw"
      : asNhwc
      ? "nhwc"
      : asFlat
      ? "flat"
      : misfit());
  if (chosen === "nchw") {
    if (!asNchw) misfit(` (as --teacher-layout nchw)`);
    return { layout: chosen, modelChannels: want(shape[0]) };
  }
  if (chosen === "nhwc") {
    if (!asNhwc) misfit(` (as --teacher-layout nhwc)`);
    return { layout: chosen, modelChannels: want(shape[2]) };
  }
  if (!asFlat && !(shape.length === 1 && fits(shape[0], h * w * c))) {
    misfit(` (as --teacher-layout flat)`);
  }
  return { layout: "flat", modelChannels: channels === "gray" ? 1 : c };
}

/**
 * Resolves the user's options into a preprocessing for `data` and a model input.
 *
 * @throws {RangeError} When a number is invalid or the means or deviations are not one per
 *   channel.
 */
export function resolvePreprocessing(
  options: TeacherInputOptions,
  input: ResolvedInput,
  data: Pick<Dataset, "imageShape" | "features" | "scaling">,
  output: string,
): TeacherPreprocessing {
  const scale = options.scale ?? 1;
  if (!(Number.isFinite(scale) && scale !== 0)) {
    throw new RangeError(`Invalid --teacher-scale "${scale}": expected a non-zero number`);
  }
  const mean = checkList(options.mean ?? [0], "--teacher-mean", false);
  const std = checkList(options.std ?? [1], "--teacher-std", true);
  const per = data.imageShape ? input.modelChannels : data.features;
  for (const [list, name] of [[mean, "--teacher-mean"], [std, "--teacher-std"]] as const) {
    if (list.length !== 1 && list.length !== per) {
      throw new RangeError(
        `Invalid ${name} "${list.join(",")}": expected one value or ${per} (one per ${
          data.imageShape ? "channel of the teacher's input" : "feature"
        })`,
      );
    }
  }
  const channels = options.channels ?? (input.modelChannels === 1 ? "gray" : "rgb");
  return {
    scale,
    mean,
    std,
    channels,
    layout: input.layout,
    outputs: options.outputs ?? "auto",
    output,
    unscaled: !data.imageShape && data.scaling !== undefined,
  };
}

/**
 * Turns `n` of softtree's inputs `x [n, F]` into a model's input: values (see the module
 * doc), then layout. Tabular rows become `[n, F]`; images `[n, Cm, H, W]` or `[n, H, W, Cm]`.
 *
 * @param x Inputs `[n, F]`.
 * @param data The data's shape and scaling.
 * @param p The preprocessing.
 * @param modelChannels `Cm`.
 * @returns The model's input, `n * H * W * Cm` (or `n * F`) values.
 */
export function preprocessRows(
  x: Float32Array,
  data: Pick<Dataset, "imageShape" | "features" | "scaling">,
  p: TeacherPreprocessing,
  modelChannels: number,
): Float32Array {
  const f = data.features;
  const n = x.length / f;
  const at = (list: number[], i: number) => (list.length === 1 ? list[0] : list[i]);
  if (!data.imageShape) {
    const out = new Float32Array(x.length);
    const s = data.scaling;
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < f; j++) {
        let v = x[r * f + j];
        if (s) v = v * (s.max[j] - s.min[j]) + s.min[j];
        out[r * f + j] = (v * p.scale - at(p.mean, j)) / at(p.std, j);
      }
    }
    return out;
  }
  const [h, w, c] = data.imageShape;
  const cm = modelChannels;
  const hw = h * w;
  const out = new Float32Array(n * hw * cm);
  const px = new Float32Array(cm);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < hw; i++) {
      const src = r * f + i * c;
      if (cm === c) {
        for (let k = 0; k < cm; k++) px[k] = x[src + k];
      } else if (cm === 1) {
        px[0] = 0.299 * x[src] + 0.587 * x[src + 1] + 0.114 * x[src + 2];
      } else {
        for (let k = 0; k < cm; k++) px[k] = x[src];
      }
      if (p.channels === "bgr" && cm === 3) {
        const t = px[0];
        px[0] = px[2];
        px[2] = t;
      }
      for (let k = 0; k < cm; k++) {
        const v = (px[k] * p.scale - at(p.mean, k)) / at(p.std, k);
        if (p.layout === "nchw") out[r * hw * cm + k * hw + i] = v;
        else out[(r * hw + i) * cm + k] = v;
      }
    }
  }
  return out;
}

/**
 * Whether every row of `values [N, K]` is non-negative and sums to 1 (within 1e-3): the
 * output of a softmax.
 */
export function looksLikeProbabilities(values: Float32Array, classes: number): boolean {
  if (values.length === 0) return false;
  for (let r = 0; r < values.length; r += classes) {
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      const v = values[r + k];
      if (!(v >= 0)) return false;
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) return false;
  }
  return true;
}

/**
 * Checks a model's outputs `[N, K]` for NaN or infinite values and, for probabilities, turns
 * them into log-probabilities in place (`log(max(p, 1e-30))`).
 *
 * @param values Outputs `[N, K]`.
 * @param classes `K`.
 * @param probabilities Whether they are probabilities.
 * @param file The model, for the message.
 * @param firstRow The first row's index among all inputs, for the message.
 * @throws {CheckpointError} On a NaN or infinite value.
 */
export function toLogits(
  values: Float32Array,
  classes: number,
  probabilities: boolean,
  file: string,
  firstRow: number,
): Float32Array {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      throw new CheckpointError(
        `The teacher "${file}" gave ${v} for input ${firstRow + Math.floor(i / classes)} ` +
          `(class ${i % classes}): its outputs must be finite (check the model and its ` +
          `preprocessing)`,
      );
    }
    if (probabilities) values[i] = Math.log(Math.max(v, 1e-30));
  }
  return values;
}

/** Hex SHA-256 of some byte arrays, in order. */
export async function sha256Hex(parts: ArrayBufferView[]): Promise<string> {
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const all = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    all.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), off);
    off += p.byteLength;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The text of what a model teacher's logits depend on besides its files. */
export function preprocessingKey(
  p: TeacherPreprocessing,
  data: Pick<Dataset, "imageShape" | "features" | "scaling">,
): string {
  return JSON.stringify({
    p,
    image: data.imageShape,
    features: data.features,
    scaling: p.unscaled ? data.scaling : null,
  });
}

/**
 * Runs `run` over `n` rows in batches and gathers logits `[n, K]`: the first batch decides
 * `auto` outputs; NaN or infinite outputs are errors.
 *
 * @internal Shared by the model teachers.
 */
export async function batchedLogits(
  n: number,
  batchSize: number,
  classes: number,
  state: { probabilities: boolean | null; file: string },
  run: (start: number, end: number) => Promise<Float32Array>,
  onProgress?: (done: number, total: number) => void,
): Promise<Float32Array> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`Invalid batch size "${batchSize}": expected a positive integer`);
  }
  const out = new Float32Array(n * classes);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const values = await run(start, end);
    if (values.length !== (end - start) * classes) {
      throw new CheckpointError(
        `The teacher "${state.file}" gave ${values.length} values for ${end - start} inputs, ` +
          `expected ${classes} per input`,
      );
    }
    if (state.probabilities === null) {
      state.probabilities = looksLikeProbabilities(values, classes);
    }
    out.set(toLogits(values, classes, state.probabilities, state.file, start), start * classes);
    onProgress?.(end, n);
  }
  return out;
}

/**
 * One line for a recorded teacher (from a checkpoint's data facts or metrics.json), e.g.
 * `onnx model.onnx (input 1×28×28; scale 1, mean 0.5, std 0.5, gray, nchw, logits output "y")`.
 *
 * @param r A {@linkcode TeacherRecord} as read back from JSON.
 */
export function describeTeacherRecord(r: Record<string, unknown>): string {
  const shape = Array.isArray(r.inputShape) && r.inputShape.length
    ? `input ${shapeText(r.inputShape as number[])}`
    : "";
  const p = r.preprocessing as TeacherPreprocessing | null | undefined;
  const details = [shape, p ? describePreprocessing(p) : ""].filter(Boolean).join("; ");
  return `${r.kind ?? "teacher"} ${r.file ?? "(unknown file)"}${details ? ` (${details})` : ""}`;
}

/**
 * The options that open a recorded teacher again with the preprocessing it was used with.
 *
 * @param r A {@linkcode TeacherRecord} as read back from JSON.
 */
export function inputOptionsOf(r: Record<string, unknown>): TeacherInputOptions {
  const p = r.preprocessing as TeacherPreprocessing | null | undefined;
  if (!p) return {};
  return {
    scale: p.scale,
    mean: p.mean,
    std: p.std,
    channels: p.channels,
    layout: p.layout,
    outputs: p.outputs,
    output: p.output,
  };
}
