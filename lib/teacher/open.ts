/**
 * Opening a teacher of any kind from a path, told apart by content (not only by name): an
 * ONNX model (protobuf), a TensorFlow.js `model.json` (layers or graph model; with softtree's
 * metadata it is the shipped ConvNet's kind), or a folder holding a `model.json`.
 *
 * @module
 */
import type { Dataset } from "../data/types.ts";
import { CheckpointError } from "../errors.ts";
import type { AnyTeacher, TeacherInputOptions } from "./any.ts";
import { isOnnxModel } from "./_onnx_proto.ts";
import { loadTeacher, teacherPaths } from "./io.ts";
import { openTfjsTeacher } from "./tfjs_model.ts";
import { SofttreeTeacher } from "./softtree_teacher.ts";

/** What a path holds, by content. */
export type TeacherFileKind = "onnx" | "tfjs" | "softtree" | "missing" | "unknown";

/** The file a teacher path names: itself when a file, else its folder's `model.json`. */
async function fileOf(path: string): Promise<string> {
  try {
    if ((await Deno.stat(path)).isDirectory) return teacherPaths(path).model;
  } catch {
    // Missing: a model file when named like one, else a teacher folder.
    if (!/\.(onnx|json)$/i.test(path)) return teacherPaths(path).model;
  }
  return path;
}

/**
 * Tells what `path` holds from its bytes: an ONNX model, a TensorFlow.js model (`tfjs`), one
 * of softtree's own teachers (a `model.json` with softtree's metadata), nothing (`missing`),
 * or something else (`unknown`).
 *
 * @param path A model file, or a folder holding `model.json`.
 * @returns The kind and the file looked at.
 * @example
 * ```ts
 * await teacherFileKind("assets/teacher"); // { kind: "softtree", file: "assets/teacher/model.json" }
 * ```
 */
export async function teacherFileKind(
  path: string,
): Promise<{ kind: TeacherFileKind; file: string; text?: string }> {
  const file = await fileOf(path);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { kind: "missing", file };
    throw new CheckpointError(
      `Cannot read the teacher "${file}": ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (isOnnxModel(bytes)) return { kind: "onnx", file };
  let i = 0;
  while (
    i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d ||
      bytes[i] === 0x09 || bytes[i] === 0xef || bytes[i] === 0xbb || bytes[i] === 0xbf)
  ) i++;
  if (bytes[i] === 0x7b) {
    const text = new TextDecoder().decode(bytes);
    try {
      const json = JSON.parse(text.replace(/^\uFEFF/, ""));
      if (json && typeof json === "object" && typeof json.modelTopology === "object") {
        const softtree = json.userDefinedMetadata?.softtree;
        return { kind: softtree ? "softtree" : "tfjs", file, text };
      }
    } catch {
      // Broken JSON: the loader of softtree's teachers says what is wrong with it.
      return { kind: "softtree", file, text };
    }
  }
  return { kind: "unknown", file };
}

/** The first preprocessing option given (its CLI name), or `null` when none is. */
export function inputOptionGiven(o: TeacherInputOptions): string | null {
  const names: [keyof TeacherInputOptions, string][] = [
    ["scale", "--teacher-scale"],
    ["mean", "--teacher-mean"],
    ["std", "--teacher-std"],
    ["channels", "--teacher-channels"],
    ["layout", "--teacher-layout"],
    ["output", "--teacher-output"],
  ];
  for (const [k, name] of names) if (o[k] !== undefined) return name;
  if (o.outputs !== undefined && o.outputs !== "auto") return "--teacher-outputs";
  return null;
}

/**
 * Opens the teacher at `path` for `data`, whatever its kind (see the module doc).
 *
 * @param path An `.onnx` file, a `model.json`, or a folder holding one.
 * @param data The data it will label (its training split: shape, scaling, classes).
 * @param options Preprocessing and outputs (ONNX and TensorFlow.js models only).
 * @returns The teacher (call `dispose` when done).
 * @throws {CheckpointError} When the path is missing, is neither ONNX nor TensorFlow.js, or
 *   the model does not fit the data.
 * @throws {RangeError} When preprocessing options are given for softtree's own teacher.
 * @example
 * ```ts
 * const t = await openTeacher("model.onnx", splits.train, { mean: [0.5], std: [0.5] });
 * ```
 */
export async function openTeacher(
  path: string,
  data: Dataset,
  options: TeacherInputOptions = {},
): Promise<AnyTeacher> {
  const found = await teacherFileKind(path);
  switch (found.kind) {
    case "onnx": {
      const { openOnnxTeacher } = await import("./onnx.ts");
      return await openOnnxTeacher(found.file, data, options);
    }
    case "tfjs":
      return await openTfjsTeacher(found.file, found.text!, data, options);
    case "softtree": {
      const given = inputOptionGiven(options);
      if (given) {
        throw new RangeError(
          `${given} applies to ONNX and TensorFlow.js teachers; "${found.file}" is softtree's ` +
            `own teacher, which takes softtree's inputs as they are`,
        );
      }
      return new SofttreeTeacher(await loadTeacher(found.file, data), found.file);
    }
    case "missing":
      throw new CheckpointError(`Cannot load teacher "${found.file}": no such file`);
    default:
      throw new CheckpointError(
        `Cannot load teacher "${found.file}": it is neither an ONNX model nor a ` +
          `TensorFlow.js model.json`,
      );
  }
}
