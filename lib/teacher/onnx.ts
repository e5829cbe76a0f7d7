/**
 * An ONNX model as the teacher, run by ONNX Runtime (`onnxruntime-node`, its CPU build, on
 * all cores). The batch axis may be dynamic or fixed (a fixed batch of `b` runs in chunks of
 * `b`, the last one padded); the input layout comes from the model's input shape (see
 * `resolveInput`); weights in external data files beside the model load too.
 *
 * @module
 */
import type { ort as Ort } from "../deps_onnx.ts";
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
import { modelInputDims, ModelTeacher, type ModelTeacherInit } from "./_model_teacher.ts";
import { onnxExternalFiles } from "./_onnx_proto.ts";

type Session = Awaited<ReturnType<typeof Ort.InferenceSession.create>>;

/** ONNX Runtime, loaded on first use (a native addon: only runs with an ONNX teacher load it). */
let runtime: Promise<typeof Ort> | null = null;
function loadRuntime(): Promise<typeof Ort> {
  runtime ??= import("../deps_onnx.ts").then((m) => m.ort);
  return runtime;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/** The model's declared shape of a value, symbolic sizes as -1 (`[]` when unknown). */
function declaredShape(
  meta: readonly { name: string; isTensor: boolean; shape?: readonly (number | string)[] }[],
  name: string,
): number[] {
  const m = meta.find((v) => v.name === name);
  return (m?.shape ?? []).map((d) => (typeof d === "number" && d > 0 ? d : -1));
}

/** An ONNX model teacher; made by {@linkcode openOnnxTeacher}. */
export class OnnxTeacher extends ModelTeacher {
  readonly kind = "onnx" as const;
  /** The model's batch size when fixed, else `null`. */
  readonly fixedBatch: number | null;
  #session: Session;
  #input: string;
  #ort: typeof Ort;

  /** @internal Use {@linkcode openOnnxTeacher}. */
  constructor(
    init: ModelTeacherInit & {
      session: Session;
      input: string;
      fixedBatch: number | null;
      ort: typeof Ort;
    },
  ) {
    super(init);
    this.#ort = init.ort;
    this.#session = init.session;
    this.#input = init.input;
    this.fixedBatch = init.fixedBatch;
  }

  describe(): string {
    return `ONNX model ${this.file} (input ${shapeText(this.inputShape)}${
      this.fixedBatch ? `, fixed batch ${this.fixedBatch}` : ""
    }; ${describePreprocessing(this.preprocessing)})`;
  }

  /** A multiple of a fixed batch; 1024 rows by default. */
  protected override batchRows(requested: number | undefined): number {
    const batch = requested ?? 1024;
    return this.fixedBatch
      ? Math.max(1, Math.floor(batch / this.fixedBatch)) * this.fixedBatch
      : batch;
  }

  /** Runs the model on `n` preprocessed rows (`[n, ...]`), in chunks of a fixed batch. */
  protected async run(input: Float32Array, n: number): Promise<Float32Array> {
    const dims = this.inputDims;
    const per = dims.reduce((a, b) => a * b, 1);
    const chunk = this.fixedBatch ?? n;
    const out = new Float32Array(n * this.classes);
    for (let s = 0; s < n; s += chunk) {
      const e = Math.min(n, s + chunk);
      let part = input.subarray(s * per, e * per);
      if (part.length < chunk * per) {
        const padded = new Float32Array(chunk * per);
        padded.set(part);
        part = padded;
      }
      const feeds = { [this.#input]: new this.#ort.Tensor("float32", part, [chunk, ...dims]) };
      const result = await this.#session.run(feeds, [this.prep.output]);
      const t = result[this.prep.output];
      const data = t.data as Float32Array;
      if (!(data instanceof Float32Array) || data.length !== chunk * this.classes) {
        throw new CheckpointError(
          `The teacher "${this.file}" output "${this.prep.output}" has shape [${t.dims}] ` +
            `(${t.type}), expected float32 [${chunk}, ${this.classes}]`,
        );
      }
      out.set(data.subarray(0, (e - s) * this.classes), s * this.classes);
      t.dispose?.();
    }
    return out;
  }

  dispose(): void {
    this.#session.release().catch(() => {});
  }
}

/**
 * Opens an ONNX model as a teacher for `data`: reads its input and output, resolves the
 * layout and preprocessing, and runs it once on a blank input to learn its class count.
 *
 * @param file The `.onnx` file (external data files are looked up beside it).
 * @param data The data it will label (shape, scaling).
 * @param options Preprocessing and output options.
 * @returns The teacher (call `dispose` when done).
 * @throws {CheckpointError} When the model cannot be loaded, does not fit the data, names no
 *   such output, or gives non-finite outputs.
 * @example
 * ```ts
 * const t = await openOnnxTeacher("model.onnx", splits.train, { mean: [0.5], std: [0.5] });
 * const logits = await t.logits(splits.test.x);
 * t.dispose();
 * ```
 */
export async function openOnnxTeacher(
  file: string,
  data: Pick<Dataset, "imageShape" | "features" | "scaling" | "classes">,
  options: TeacherInputOptions = {},
): Promise<OnnxTeacher> {
  const fail = (why: string, cause?: unknown): never => {
    throw new CheckpointError(`Cannot load the ONNX teacher "${file}": ${why}`, { cause });
  };
  const bytes = await Deno.readFile(file).catch((e) => fail(String(e?.message ?? e), e));
  const parts = [bytes];
  for (const loc of onnxExternalFiles(bytes)) {
    if (loc.startsWith("/") || loc.split("/").includes("..")) {
      fail(`it names the external data file "${loc}" outside its folder`);
    }
    const path = `${dirOf(file)}/${loc}`;
    parts.push(
      await Deno.readFile(path).catch((e) =>
        fail(`its external data file "${path}" cannot be read (${e?.message ?? e})`, e)
      ),
    );
  }
  const ort = await loadRuntime();
  let session: Session;
  try {
    session = await ort.InferenceSession.create(file, {
      intraOpNumThreads: navigator.hardwareConcurrency || 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
    });
  } catch (error) {
    fail((error as Error).message ?? String(error), error);
  }
  try {
    const inputs = session!.inputNames;
    if (inputs.length !== 1) {
      fail(`it takes ${inputs.length} inputs (${inputs.join(", ")}); a teacher takes one`);
    }
    const meta = session!.inputMetadata as unknown as {
      name: string;
      isTensor: boolean;
      type?: string;
      shape?: (number | string)[];
    }[];
    const inMeta = meta.find((m) => m.name === inputs[0]);
    if (inMeta?.isTensor && inMeta.type && inMeta.type !== "float32") {
      fail(`its input "${inputs[0]}" is ${inMeta.type}; a teacher takes float32`);
    }
    const full = declaredShape(meta, inputs[0]);
    const fixedBatch = full.length > 0 && full[0] > 0 ? full[0] : null;
    const inputShape = full.slice(1);
    const outputs = session!.outputNames;
    const output = options.output ?? (outputs.length === 1 ? outputs[0] : null);
    if (output === null) {
      fail(
        `it has ${outputs.length} outputs (${
          outputs.map((o) => `"${o}"`).join(", ")
        }): name one with --teacher-output`,
      );
    }
    if (!outputs.includes(output!)) {
      fail(
        `it has no output "${output}" (--teacher-output); its outputs are ${
          outputs.map((o) => `"${o}"`).join(", ")
        }`,
      );
    }
    const resolved = resolveInput(file, inputShape, data, options.layout, options.channels);
    const prep = resolvePreprocessing(options, resolved, data, output!);
    const outShape = declaredShape(
      session!.outputMetadata as unknown as { name: string; isTensor: boolean }[],
      output!,
    );
    let classes = outShape.length >= 2 && outShape.slice(1).every((d) => d > 0)
      ? outShape.slice(1).reduce((a, b) => a * b, 1)
      : -1;
    if (classes < 0) {
      // Learn K from one run on a blank input.
      const batch = fixedBatch ?? 1;
      const blank = preprocessRows(
        new Float32Array(batch * data.features),
        data,
        prep,
        resolved.modelChannels,
      );
      const feeds = {
        [inputs[0]]: new ort.Tensor("float32", blank, [
          batch,
          ...modelInputDims(inputShape, resolved, data),
        ]),
      };
      const r = await session!.run(feeds, [output!]).catch((e) =>
        fail(`it does not run on the data's shape: ${(e as Error).message}`, e)
      );
      classes = r[output!].data.length / batch;
    }
    if (classes !== data.classes) {
      fail(
        `it gives ${classes} outputs per input ("${output}"), the data has ${data.classes} classes`,
      );
    }
    return new OnnxTeacher({
      file,
      session: session!,
      input: inputs[0],
      inputShape,
      fixedBatch,
      resolved,
      prep,
      data,
      classes,
      bytes: parts,
      ort,
    });
  } catch (error) {
    await session!.release().catch(() => {});
    throw error;
  }
}
