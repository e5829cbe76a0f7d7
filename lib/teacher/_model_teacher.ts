/**
 * What an ONNX teacher and a TensorFlow.js teacher share: a network run on softtree's rows
 * after the teacher's preprocessing, in batches, with its outputs turned into logits and a
 * cache key of its file's bytes and the preprocessing. Each kind says how to run one
 * preprocessed batch (`run`), how to describe itself and how to free its network.
 *
 * @module
 */
import type { Dataset } from "../data/types.ts";
import {
  type AnyTeacher,
  batchedLogits,
  preprocessingKey,
  preprocessRows,
  type ResolvedInput,
  sha256Hex,
  type TeacherKind,
  type TeacherLogitsOptions,
  type TeacherPreprocessing,
} from "./any.ts";

/** The data facts a model teacher reads its inputs by. */
export type ModelTeacherData = Pick<Dataset, "imageShape" | "features" | "scaling">;

/** What every model teacher is made from. */
export interface ModelTeacherInit {
  /** The model file. */
  file: string;
  /** The model's input shape without the batch axis (symbolic sizes -1). */
  inputShape: number[];
  /** Its layout and channels. */
  resolved: ResolvedInput;
  /** The preprocessing of softtree's rows for it. */
  prep: TeacherPreprocessing;
  /** The data it labels. */
  data: ModelTeacherData;
  /** `K`. */
  classes: number;
  /** The bytes of its files (the cache key). */
  bytes: Uint8Array[];
}

/**
 * The model input's dims without the batch axis, symbolic sizes filled from the data: the
 * image in the model's layout and channels, or the features as they come.
 */
export function modelInputDims(
  shape: readonly number[],
  resolved: ResolvedInput,
  data: Pick<Dataset, "imageShape" | "features">,
): number[] {
  const img = data.imageShape;
  if (!img) return shape.length > 1 ? shape.map((d) => (d > 0 ? d : 1)) : [data.features];
  const [h, w] = img;
  const c = resolved.modelChannels;
  if (resolved.layout === "nchw") return [c, h, w];
  if (resolved.layout === "nhwc") return [h, w, c];
  return shape.length === 2 ? [h, w] : [h * w * c];
}

/** A network teacher: everything but running a batch, describing itself and freeing it. */
export abstract class ModelTeacher implements AnyTeacher {
  abstract readonly kind: TeacherKind;
  readonly file: string;
  readonly classes: number;
  readonly features: number;
  readonly inputShape: readonly number[];
  protected readonly resolved: ResolvedInput;
  protected readonly prep: TeacherPreprocessing;
  protected readonly data: ModelTeacherData;
  #bytes: Uint8Array[];
  #state: { probabilities: boolean | null; file: string };

  constructor(init: ModelTeacherInit) {
    this.file = init.file;
    this.inputShape = init.inputShape;
    this.resolved = init.resolved;
    this.prep = init.prep;
    this.data = init.data;
    this.features = init.data.features;
    this.classes = init.classes;
    this.#bytes = init.bytes;
    this.#state = {
      probabilities: init.prep.outputs === "auto" ? null : init.prep.outputs === "probabilities",
      file: init.file,
    };
  }

  /** The preprocessing, with `outputs` as decided once the first batch has run. */
  get preprocessing(): TeacherPreprocessing {
    const p = this.#state.probabilities;
    return {
      ...this.prep,
      outputs: p === null ? this.prep.outputs : p ? "probabilities" : "logits",
    };
  }

  /** The model input's dims without the batch axis. */
  protected get inputDims(): number[] {
    return modelInputDims(this.inputShape, this.resolved, this.data);
  }

  abstract describe(): string;

  abstract dispose(): void;

  /** The model's outputs `[n, K]` for `n` preprocessed rows. */
  protected abstract run(input: Float32Array, n: number): Promise<Float32Array>;

  /** Rows per batch when `requested` are asked for. */
  protected batchRows(requested: number | undefined): number {
    return requested ?? 256;
  }

  async fingerprint(): Promise<string> {
    return await sha256Hex([
      new TextEncoder().encode(`${this.kind};${preprocessingKey(this.prep, this.data)};`),
      ...this.#bytes,
    ]);
  }

  async logits(x: Float32Array, options: TeacherLogitsOptions = {}): Promise<Float32Array> {
    const f = this.features;
    if (x.length % f !== 0) {
      throw new RangeError(
        `Invalid input of ${x.length} values: not a multiple of the teacher's ${f} features`,
      );
    }
    return await batchedLogits(
      x.length / f,
      this.batchRows(options.batchSize),
      this.classes,
      this.#state,
      async (s, e) =>
        await this.run(
          preprocessRows(
            x.subarray(s * f, e * f),
            this.data,
            this.prep,
            this.resolved.modelChannels,
          ),
          e - s,
        ),
      options.onProgress,
    );
  }
}
