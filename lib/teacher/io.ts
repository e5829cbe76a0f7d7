/**
 * Saving and loading a teacher in TensorFlow.js's own format: a folder holding
 * `model.json` (topology, weights manifest, and softtree's metadata under
 * `userDefinedMetadata.softtree`) and `weights.bin` (little-endian float32), written
 * atomically through file handlers that work under Deno.
 *
 * @module
 */
import { tf, tfl } from "../deps.ts";
import { ensureTf } from "../backends/tf_setup.ts";
import type { Dataset } from "../data/types.ts";
import { CheckpointError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import {
  checkFits,
  createTeacher,
  Teacher,
  type TeacherConfig,
  type TeacherMeta,
} from "./model.ts";

/** Version of softtree's metadata block in `model.json`. */
export const TEACHER_FORMAT_VERSION = 1;
/** File names inside a teacher folder. */
export const TEACHER_FILES = { model: "model.json", weights: "weights.bin" } as const;

/** softtree's block in `model.json`'s `userDefinedMetadata`. */
interface SofttreeBlock {
  version: number;
  config: TeacherConfig;
  meta: TeacherMeta;
}

/** The folder and `model.json` path of `path` (a folder, or a `model.json` inside one). */
export function teacherPaths(path: string): { dir: string; model: string; weights: string } {
  const p = path.replace(/\/+$/, "") || ".";
  const dir = p.endsWith(".json") ? (p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : ".") : p;
  const model = p.endsWith(".json") ? p : `${dir}/${TEACHER_FILES.model}`;
  return { dir, model, weights: `${dir}/${TEACHER_FILES.weights}` };
}

/**
 * Saves a teacher to the folder `dir` (created if needed): `weights.bin` first, then
 * `model.json`, each written to a temporary file and renamed, so that a reader never sees
 * a `model.json` whose weights are incomplete.
 *
 * @param teacher The teacher; its `config` and `meta` are saved with it.
 * @param dir The folder.
 * @returns The path of `model.json`.
 * @example
 * ```ts
 * await saveTeacher(teacher, "runs/teacher");
 * ```
 */
export async function saveTeacher(teacher: Teacher, dir: string): Promise<string> {
  const paths = teacherPaths(dir);
  const block: SofttreeBlock = {
    version: TEACHER_FORMAT_VERSION,
    config: teacher.config,
    meta: teacher.meta,
  };
  await teacher.model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weights = new Uint8Array(
      tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0)),
    );
    const manifest: tf.io.WeightsManifestConfig = [{
      paths: [TEACHER_FILES.weights],
      weights: artifacts.weightSpecs ?? [],
    }];
    const json: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology as tf.io.ModelJSON["modelTopology"],
      weightsManifest: manifest,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      userDefinedMetadata: { softtree: block } as unknown as tf.io.ModelJSON["userDefinedMetadata"],
    };
    await writeFileAtomic(paths.weights, weights);
    await writeFileAtomic(paths.model, JSON.stringify(json, null, 1) + "\n");
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
  return paths.model;
}

function fail(file: string, why: string, cause?: unknown): never {
  throw new CheckpointError(`Cannot load teacher "${file}": ${why}`, { cause });
}

function readProblem(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "it is a folder";
  return error instanceof Error ? error.message : String(error);
}

/**
 * The shapes of the seed's ConvNet's weights for a configuration, in the model's order:
 * conv 3x3 (kernel, bias) twice, then dense and logits (kernel, bias), after a 2x2 pooling.
 */
function weightShapes(c: TeacherConfig): number[][] {
  const [h, w, ch] = c.inputShape;
  const [f1, f2] = c.filters;
  const flat = Math.floor((h - 4) / 2) * Math.floor((w - 4) / 2) * f2;
  return [[3, 3, ch, f1], [f1], [3, 3, f1, f2], [f2], [flat, c.dense], [c.dense], [
    c.dense,
    c.classes,
  ], [c.classes]];
}

/**
 * Loads a teacher saved by {@linkcode saveTeacher}, checking every file first.
 *
 * @param path The teacher folder, or its `model.json`.
 * @param data When given, the teacher must fit it (input shape and class count).
 * @returns The teacher (call `dispose` when done).
 * @throws {CheckpointError} When a file is missing, unreadable, corrupt or truncated, or the
 *   teacher does not fit `data`; the message names the file.
 * @example
 * ```ts
 * const teacher = await loadTeacher("assets/teacher", splits.test);
 * ```
 */
export async function loadTeacher(path: string, data?: Dataset): Promise<Teacher> {
  const paths = teacherPaths(path);
  let text: string;
  try {
    text = await Deno.readTextFile(paths.model);
  } catch (error) {
    fail(paths.model, readProblem(error), error);
  }
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text);
  } catch (error) {
    fail(paths.model, `it is not valid JSON (${(error as Error).message})`, error);
  }
  if (typeof json !== "object" || json === null || typeof json.modelTopology !== "object") {
    fail(paths.model, "it holds no model topology (not a TensorFlow.js model.json)");
  }
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) {
    fail(paths.model, "it holds no weights manifest");
  }
  const block = (json.userDefinedMetadata as { softtree?: SofttreeBlock } | undefined)?.softtree;
  if (!block || typeof block !== "object" || !block.config) {
    fail(paths.model, "it holds no softtree teacher metadata (userDefinedMetadata.softtree)");
  }
  if (block.version !== TEACHER_FORMAT_VERSION) {
    fail(
      paths.model,
      `format version ${block.version} is not supported (expected ${TEACHER_FORMAT_VERSION})`,
    );
  }
  const config = checkConfig(block.config, paths.model);

  // The weights the configuration needs, in the model's order: the manifest must list
  // exactly these, so that nothing is allocated on the word of a corrupt file.
  const needed = weightShapes(config);
  const specs: { name: string; shape: number[] }[] = [];
  const files: string[] = [];
  for (const [g, group] of (manifest as unknown[]).entries()) {
    const gr = group as { paths?: unknown; weights?: unknown } | null;
    if (!gr || typeof gr !== "object" || !Array.isArray(gr.paths) || !Array.isArray(gr.weights)) {
      fail(paths.model, `its weights manifest is malformed (group ${g})`);
    }
    for (const p of gr.paths) {
      if (typeof p !== "string" || p.includes("..") || p.startsWith("/")) {
        fail(paths.model, `its weights manifest names a bad file "${p}"`);
      }
      files.push(`${paths.dir}/${p}`);
    }
    for (const spec of gr.weights as unknown[]) {
      const sp = spec as tf.io.WeightsManifestEntry | null;
      if (
        !sp || typeof sp !== "object" || typeof sp.name !== "string" || !Array.isArray(sp.shape) ||
        !sp.shape.every((d) => Number.isSafeInteger(d) && d >= 0)
      ) {
        fail(paths.model, `weight ${specs.length} of its weights manifest is malformed`);
      }
      if (sp.dtype !== "float32" || sp.quantization) {
        fail(paths.model, `weight "${sp.name}" has an unsupported dtype or quantization`);
      }
      specs.push({ name: sp.name, shape: sp.shape });
    }
  }
  if (specs.length !== needed.length) {
    fail(
      paths.model,
      `its manifest lists ${specs.length} weights, the teacher its metadata describes has ${needed.length}`,
    );
  }
  specs.forEach((sp, i) => {
    if (sp.shape.join() !== needed[i].join()) {
      fail(
        paths.model,
        `weight "${sp.name}" has shape [${sp.shape}], the teacher its metadata describes needs [${
          needed[i]
        }]`,
      );
    }
  });
  const chunks: Uint8Array[] = [];
  for (const file of files) {
    try {
      chunks.push(await Deno.readFile(file));
    } catch (error) {
      fail(file, readProblem(error), error);
    }
  }
  const expected = 4 * needed.reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
  const got = chunks.reduce((a, c) => a + c.length, 0);
  if (got !== expected) {
    fail(
      paths.weights,
      `the weights hold ${got} bytes but ${paths.model} declares ${expected}` +
        (got < expected ? " (truncated file?)" : ""),
    );
  }
  const weightData = new Uint8Array(got);
  let off = 0;
  for (const c of chunks) {
    weightData.set(c, off);
    off += c.length;
  }
  const values = new Float32Array(weightData.buffer);
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) fail(paths.weights, `weight value ${bad} is not finite (${values[bad]})`);

  // The seed's network, built from the metadata, takes the weights.
  await ensureTf();
  let model: tfl.LayersModel;
  try {
    model = createTeacher(config.inputShape, config.classes, config).model;
  } catch (error) {
    fail(paths.model, `its teacher metadata cannot build a network: ${(error as Error).message}`);
  }
  tf.tidy(() => {
    let at = 0;
    model.setWeights(needed.map((shape) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const t = tf.tensor(values.subarray(at, at + size), shape, "float32");
      at += size;
      return t;
    }));
  });
  const teacher = new Teacher(model, config, block.meta ?? {});
  if (data) {
    try {
      checkFits(teacher, data, `The teacher in "${paths.model}"`);
    } catch (error) {
      teacher.dispose();
      throw error;
    }
  }
  return teacher;
}

function checkConfig(c: TeacherConfig, file: string): TeacherConfig {
  const ints = (a: unknown, n: number) =>
    Array.isArray(a) && a.length === n && a.every((v) => Number.isInteger(v) && v > 0);
  if (
    !ints(c.inputShape, 3) || !Number.isInteger(c.classes) || c.classes < 2 ||
    !ints(c.filters, 2) || !Number.isInteger(c.dense) || c.dense < 1
  ) {
    fail(file, "its teacher metadata (input shape, classes, filters, dense) is malformed");
  }
  return {
    inputShape: c.inputShape,
    classes: c.classes,
    filters: c.filters,
    dense: c.dense,
    dropout: Array.isArray(c.dropout) ? c.dropout : [0.25, 0.5],
  };
}

/**
 * Whether `path` holds a teacher (its `model.json` exists); says nothing of its validity.
 *
 * @param path The teacher folder, or its `model.json`.
 * @returns `true` when the `model.json` exists.
 */
export async function teacherExists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(teacherPaths(path).model)).isFile;
  } catch {
    return false;
  }
}
