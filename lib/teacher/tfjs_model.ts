/**
 * Any TensorFlow.js model as the teacher: a layers model (Keras through
 * `tensorflowjs_converter`, or `model.save` in TensorFlow.js) or a graph model (a SavedModel
 * or frozen graph through the converter). softtree's own metadata is not needed; the input
 * layout comes from the model's input shape (TensorFlow.js models are usually NHWC).
 *
 * @module
 */
import { tf, tfc, tfl } from "../deps.ts";
import { ensureTf } from "../backends/tf_setup.ts";
import type { Dataset } from "../data/types.ts";
import { CheckpointError } from "../errors.ts";
import {
  describePreprocessing,
  preprocessRows,
  resolveInput,
  resolvePreprocessing,
  shapeText,
  type TeacherInputOptions,
} from "./any.ts";
import { ModelTeacher, type ModelTeacherInit } from "./_model_teacher.ts";

/** A parsed `model.json` with the bytes of its weight files. */
export interface TfjsArtifacts {
  /** The `model.json` file. */
  file: string;
  /** Its parsed content. */
  json: tf.io.ModelJSON;
  /** `model.json`'s bytes, then each weight file's, in manifest order. */
  bytes: Uint8Array[];
  /** For `tf.io.fromMemory`. */
  artifacts: tf.io.ModelArtifacts;
}

/**
 * Reads a TensorFlow.js `model.json` and its weight files.
 *
 * @throws {CheckpointError} When a file is missing or the JSON is not a TensorFlow.js model.
 */
export async function readTfjsArtifacts(file: string, text: string): Promise<TfjsArtifacts> {
  const fail = (why: string, cause?: unknown): never => {
    throw new CheckpointError(`Cannot load the TensorFlow.js teacher "${file}": ${why}`, {
      cause,
    });
  };
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text);
  } catch (error) {
    fail(`it is not valid JSON (${(error as Error).message})`, error);
  }
  if (typeof json! !== "object" || json === null || typeof json.modelTopology !== "object") {
    fail("it holds no model topology (not a TensorFlow.js model.json)");
  }
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
  const specs: tf.io.WeightsManifestEntry[] = [];
  const bytes: Uint8Array[] = [new TextEncoder().encode(text)];
  for (const group of json!.weightsManifest ?? []) {
    for (const p of group.paths ?? []) {
      if (p.startsWith("/") || p.split("/").includes("..")) {
        fail(`its weights manifest names the file "${p}" outside its folder`);
      }
      bytes.push(
        await Deno.readFile(`${dir}/${p}`).catch((e) =>
          fail(`its weight file "${dir}/${p}" cannot be read (${e?.message ?? e})`, e)
        ),
      );
    }
    specs.push(...group.weights);
  }
  const weights = bytes.slice(1);
  const total = weights.reduce((a, b) => a + b.length, 0);
  const weightData = new Uint8Array(total);
  let off = 0;
  for (const w of weights) {
    weightData.set(w, off);
    off += w.length;
  }
  return {
    file,
    json: json!,
    bytes,
    artifacts: {
      modelTopology: json!.modelTopology,
      format: json!.format,
      generatedBy: json!.generatedBy,
      convertedBy: json!.convertedBy,
      weightSpecs: specs,
      weightData: weightData.buffer,
      signature: json!.signature,
      modelInitializer: json!.modelInitializer,
      userDefinedMetadata: json!.userDefinedMetadata,
    },
  };
}

/** Whether a parsed `model.json` is a graph model (else a layers model). */
export function isGraphModel(json: tf.io.ModelJSON): boolean {
  if (json.format === "graph-model") return true;
  if (json.format === "layers-model") return false;
  const topo = json.modelTopology as Record<string, unknown>;
  return Array.isArray(topo?.node);
}

type AnyModel =
  | { kind: "tfjs-layers"; model: tfl.LayersModel }
  | { kind: "tfjs-graph"; model: tfc.GraphModel };

/** A TensorFlow.js model teacher; made by {@linkcode openTfjsTeacher}. */
export class TfjsTeacher extends ModelTeacher {
  readonly kind: "tfjs-layers" | "tfjs-graph";
  #model: AnyModel;

  /** @internal Use {@linkcode openTfjsTeacher}. */
  constructor(init: ModelTeacherInit & { model: AnyModel }) {
    super(init);
    this.kind = init.model.kind;
    this.#model = init.model;
  }

  describe(): string {
    return `TensorFlow.js ${this.kind === "tfjs-graph" ? "graph" : "layers"} model ${this.file} ` +
      `(input ${shapeText(this.inputShape)}; ${describePreprocessing(this.preprocessing)})`;
  }

  /** The model's output for a preprocessed batch, `[b, K]` values. */
  async forward(input: Float32Array, n: number): Promise<Float32Array> {
    const dims = this.inputDims;
    const out = tf.tidy(() => {
      const x = tf.tensor(input, [n, ...dims], "float32");
      const y = runModel(this.#model, x, this.prep.output);
      return tf.reshape(y, [n, -1]);
    });
    const values = await out.data() as Float32Array;
    out.dispose();
    return values;
  }

  protected async run(input: Float32Array, n: number): Promise<Float32Array> {
    return await this.forward(input, n);
  }

  dispose(): void {
    this.#model.model.dispose();
  }
}

function runModel(m: AnyModel, x: tf.Tensor, output: string): tf.Tensor {
  if (m.kind === "tfjs-layers") {
    const y = m.model.predict(x);
    if (!Array.isArray(y)) return y;
    const i = outputNames(m).indexOf(output);
    return y[Math.max(i, 0)];
  }
  return m.model.execute(x, output) as tf.Tensor;
}

function outputNames(m: AnyModel): string[] {
  // A layers model's outputs are named by the layers that make them.
  return m.kind === "tfjs-layers"
    ? m.model.outputs.map((o) => o.sourceLayer.name)
    : [...m.model.outputNodes];
}

/**
 * Opens a TensorFlow.js layers or graph model as a teacher for `data`.
 *
 * @param file The `model.json`.
 * @param text Its text (already read to tell its kind).
 * @param data The data it will label (shape, scaling, classes).
 * @param options Preprocessing and output options.
 * @returns The teacher (call `dispose` when done).
 * @throws {CheckpointError} When the model cannot be loaded, does not fit the data, names no
 *   such output, or gives non-finite outputs.
 * @example
 * ```ts
 * const t = await openTfjsTeacher("keras/model.json", await Deno.readTextFile("keras/model.json"), splits.train);
 * ```
 */
export async function openTfjsTeacher(
  file: string,
  text: string,
  data: Pick<Dataset, "imageShape" | "features" | "scaling" | "classes">,
  options: TeacherInputOptions = {},
): Promise<TfjsTeacher> {
  const fail = (why: string, cause?: unknown): never => {
    throw new CheckpointError(`Cannot load the TensorFlow.js teacher "${file}": ${why}`, {
      cause,
    });
  };
  const read = await readTfjsArtifacts(file, text);
  await ensureTf();
  let model: AnyModel;
  try {
    model = isGraphModel(read.json)
      ? {
        kind: "tfjs-graph",
        model: await tfc.loadGraphModel(tf.io.fromMemory(read.artifacts)),
      }
      : {
        kind: "tfjs-layers",
        model: await tfl.loadLayersModel(tf.io.fromMemory(read.artifacts)),
      };
  } catch (error) {
    fail((error as Error).message ?? String(error), error);
  }
  try {
    const inputs = model!.model.inputs;
    if (inputs.length !== 1) fail(`it takes ${inputs.length} inputs; a teacher takes one`);
    const full = (inputs[0].shape ?? []).map((d) => (typeof d === "number" && d > 0 ? d : -1));
    const inputShape = full.slice(1);
    const outs = outputNames(model!);
    const output = options.output ?? (outs.length === 1 ? outs[0] : null);
    if (output === null) {
      fail(
        `it has ${outs.length} outputs (${
          outs.map((o) => `"${o}"`).join(", ")
        }): name one with --teacher-output`,
      );
    }
    if (!outs.includes(output!)) {
      fail(
        `it has no output "${output}" (--teacher-output); its outputs are ${
          outs.map((o) => `"${o}"`).join(", ")
        }`,
      );
    }
    const resolved = resolveInput(file, inputShape, data, options.layout, options.channels);
    const prep = resolvePreprocessing(options, resolved, data, output!);
    const probe = new TfjsTeacher({
      file,
      model: model!,
      inputShape,
      resolved,
      prep,
      data,
      classes: 1,
      bytes: read.bytes,
    });
    const blank = preprocessRows(
      new Float32Array(data.features),
      data,
      prep,
      resolved.modelChannels,
    );
    const classes = (await probe.forward(blank, 1).catch((e) =>
      fail(`it does not run on the data's shape: ${(e as Error).message}`, e)
    )).length;
    if (classes !== data.classes) {
      fail(
        `it gives ${classes} outputs per input ("${output}"), the data has ${data.classes} classes`,
      );
    }
    return new TfjsTeacher({
      file,
      model: model!,
      inputShape,
      resolved,
      prep,
      data,
      classes,
      bytes: read.bytes,
    });
  } catch (error) {
    model!.model.dispose();
    throw error;
  }
}
