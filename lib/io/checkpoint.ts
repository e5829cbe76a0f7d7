/**
 * Tree checkpoints: the magic `SOFTTREE`, a little-endian uint32 header length, a UTF-8
 * JSON header (format version, configuration, data facts, free-form meta, array shapes),
 * zero padding to a multiple of 4 bytes, then the float32 little-endian arrays `w`, `b`,
 * `phi`, `beta` in that order. Written atomically; loaded with validation.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import { checkConfig, checkParams } from "../tree/params.ts";
import { type TreeConfig, type TreeParams, treeSizes } from "../tree/types.ts";
import { inDir, writeFileAtomic } from "./atomic.ts";
import type { DataInfo, TreeCheckpoint } from "./types.ts";

/** The version this code writes; it reads this version only. */
export const CHECKPOINT_VERSION = 1;
/** The checkpoint's file name inside a run directory. */
export const CHECKPOINT_FILE = "tree.sdt";
const MAGIC = "SOFTTREE";

/** `path` itself, or `path/tree.sdt` when `path` is a directory. */
export async function resolveCheckpointPath(path: string): Promise<string> {
  try {
    const info = await Deno.stat(path);
    return info.isDirectory ? inDir(path, CHECKPOINT_FILE) : path;
  } catch {
    return path;
  }
}

/** Encode a checkpoint to bytes. */
export function encodeCheckpoint(
  config: TreeConfig,
  params: TreeParams,
  data: DataInfo,
  meta: Record<string, unknown> = {},
): Uint8Array {
  checkParams(config, params);
  const header = {
    format: "softtree-tree",
    version: CHECKPOINT_VERSION,
    config,
    data,
    meta,
    arrays: [
      { name: "w", length: params.w.length },
      { name: "b", length: params.b.length },
      { name: "phi", length: params.phi.length },
      { name: "beta", length: 1 },
    ],
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerEnd = 12 + json.length;
  const start = Math.ceil(headerEnd / 4) * 4;
  const floats = params.w.length + params.b.length + params.phi.length + 1;
  const bytes = new Uint8Array(start + 4 * floats);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, json.length, true);
  bytes.set(json, 12);
  let offset = start;
  for (const arr of [params.w, params.b, params.phi, [params.beta]]) {
    for (let i = 0; i < arr.length; i++, offset += 4) view.setFloat32(offset, arr[i], true);
  }
  return bytes;
}

/**
 * Decode checkpoint bytes. `name` is used in error messages.
 * @throws {CheckpointError} on a wrong magic, version, header, or truncated or mismatched weights.
 */
export function decodeCheckpoint(bytes: Uint8Array, name: string): TreeCheckpoint {
  const fail = (why: string): never => {
    throw new CheckpointError(`Cannot read tree checkpoint "${name}": ${why}`);
  };
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    fail(`it does not start with "${MAGIC}" (not a softtree checkpoint)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = view.getUint32(8, true);
  if (12 + len > bytes.length) {
    fail(
      `the header declares ${len} bytes but the file holds ${bytes.length - 12} after the magic`,
    );
  }
  let header: {
    format?: string;
    version?: number;
    config?: TreeConfig;
    data?: DataInfo;
    meta?: Record<string, unknown>;
    arrays?: { name: string; length: number }[];
  } = {};
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len)));
  } catch (error) {
    fail(`its header is not valid JSON (${(error as Error).message})`);
  }
  if (header.format !== "softtree-tree") fail(`its header names format "${header.format}"`);
  if (header.version !== CHECKPOINT_VERSION) {
    fail(
      `it has format version ${header.version}, this softtree reads version ${CHECKPOINT_VERSION}`,
    );
  }
  const config = header.config as TreeConfig;
  try {
    checkConfig(config);
  } catch (error) {
    fail(`its configuration is invalid: ${(error as Error).message}`);
  }
  const { inner, leaves } = treeSizes(config.depth);
  const want = [inner * config.features, inner, leaves * config.classes, 1];
  const arrays = header.arrays ?? [];
  if (arrays.length !== 4 || arrays.some((a, i) => a.length !== want[i])) {
    fail(
      `its arrays [${
        arrays.map((a) => `${a.name}:${a.length}`).join(", ")
      }] do not match depth ${config.depth}, ${config.features} features, ${config.classes} classes`,
    );
  }
  const start = Math.ceil((12 + len) / 4) * 4;
  const floats = want.reduce((a, b) => a + b, 0);
  if (bytes.length !== start + 4 * floats) {
    fail(
      `it should hold ${floats} float32 weights (${
        start + 4 * floats
      } bytes) but has ${bytes.length} bytes`,
    );
  }
  const read = (from: number, n: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(start + 4 * (from + i), true);
    return out;
  };
  const params: TreeParams = {
    w: read(0, want[0]),
    b: read(want[0], want[1]),
    phi: read(want[0] + want[1], want[2]),
    beta: read(want[0] + want[1] + want[2], 1)[0],
  };
  for (const [k, arr] of Object.entries({ w: params.w, b: params.b, phi: params.phi })) {
    const bad = arr.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) fail(`weight "${k}"[${bad}] is not finite (${arr[bad]})`);
  }
  const data = header.data ??
    { source: "unknown", imageShape: null, featureNames: null, classNames: [] };
  if (!data.classNames?.length) {
    data.classNames = Array.from({ length: config.classes }, (_, i) => String(i));
  }
  return { version: CHECKPOINT_VERSION, config, params, data, meta: header.meta ?? {} };
}

/**
 * Save a tree atomically.
 *
 * @param path A file path, or a run directory (the file is then `tree.sdt` inside it).
 */
export async function saveTreeCheckpoint(
  path: string,
  checkpoint: Omit<TreeCheckpoint, "version">,
): Promise<string> {
  const file = await resolveCheckpointPath(path);
  await writeFileAtomic(
    file,
    encodeCheckpoint(checkpoint.config, checkpoint.params, checkpoint.data, checkpoint.meta),
  );
  return file;
}

/**
 * Load and validate a tree checkpoint.
 *
 * @param path A checkpoint file or a run directory holding `tree.sdt`.
 * @throws {CheckpointError} when the file is missing or invalid.
 * @example
 * ```ts
 * const { config, params, data } = await loadTreeCheckpoint("runs/distill-d4");
 * ```
 */
export async function loadTreeCheckpoint(path: string): Promise<TreeCheckpoint> {
  const file = await resolveCheckpointPath(path);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (error) {
    throw new CheckpointError(
      error instanceof Deno.errors.NotFound
        ? `Cannot read tree checkpoint "${file}": no such file`
        : `Cannot read tree checkpoint "${file}": ${(error as Error).message}`,
      { cause: error },
    );
  }
  return decodeCheckpoint(bytes, file);
}
