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
import { isRegression, type TreeConfig, type TreeParams, treeSizes } from "../tree/types.ts";
import { Reader, readFloats, writeFloats } from "./_bundle.ts";
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
    writeFloats(bytes, offset, arr);
    offset += 4 * arr.length;
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
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len)));
  } catch (error) {
    fail(`its header is not valid JSON (${(error as Error).message})`);
  }
  const rd = new Reader(fail);
  const header = rd.obj(parsed, "header");
  if (header.format !== "softtree-tree") fail(`its header names format "${header.format}"`);
  if (header.version !== CHECKPOINT_VERSION) {
    fail(
      `it has format version ${header.version}, this softtree reads version ${CHECKPOINT_VERSION}`,
    );
  }
  const config = rd.obj(header.config, "config") as unknown as TreeConfig;
  try {
    checkConfig(config);
  } catch (error) {
    fail(`its configuration is invalid: ${(error as Error).message}`);
  }
  if (typeof config.learnBeta !== "boolean") fail(`its "config.learnBeta" is not true or false`);
  const { inner, leaves } = treeSizes(config.depth);
  const want = [inner * config.features, inner, leaves * config.classes, 1];
  const arrays = rd.list(header.arrays ?? [], "arrays", (a, p) => {
    const o = rd.obj(a, p);
    return { name: String(o.name), length: o.length };
  });
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
  const read = (from: number, n: number) => readFloats(bytes, start + 4 * from, n);
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
  if (!Number.isFinite(params.beta)) fail(`weight "beta" is not finite (${params.beta})`);
  const data = readDataInfo(rd, header.data, config.classes);
  if (isRegression(config) !== (data.target !== undefined)) {
    fail(
      isRegression(config)
        ? `it is a regression tree without "data.target" (the target's name and scaling)`
        : `it is a classification tree with a "data.target"`,
    );
  }
  const meta = header.meta === undefined ? {} : rd.obj(header.meta, "meta");
  return { version: CHECKPOINT_VERSION, config, params, data, meta };
}

/** The data facts of a checkpoint's header, checked (defaults for an absent block). */
export function readDataInfo(rd: Reader, v: unknown, classes: number): DataInfo {
  const defaultNames = () => Array.from({ length: classes }, (_, i) => String(i));
  if (v === undefined || v === null) {
    return { source: "unknown", imageShape: null, featureNames: null, classNames: defaultNames() };
  }
  const d = rd.obj(v, "data");
  const strings = (x: unknown, p: string) => rd.list(x, p, (s, q) => rd.str(s, q));
  const shape = d.imageShape === null || d.imageShape === undefined
    ? null
    : rd.list(d.imageShape, "data.imageShape", (x, p) => rd.num(x, p, { int: true, min: 1 }));
  if (shape !== null && shape.length !== 3) rd.fail(`"data.imageShape" is not [H, W, C]`);
  const names = d.classNames === undefined || d.classNames === null ||
      (Array.isArray(d.classNames) && d.classNames.length === 0)
    ? defaultNames()
    : strings(d.classNames, "data.classNames");
  if (names.length !== classes) {
    rd.fail(`it names ${names.length} classes in "data.classNames" but has ${classes}`);
  }
  const info: DataInfo = {
    source: d.source === undefined ? "unknown" : rd.str(d.source, "data.source"),
    imageShape: shape as [number, number, number] | null,
    featureNames: d.featureNames === null || d.featureNames === undefined
      ? null
      : strings(d.featureNames, "data.featureNames"),
    classNames: names,
  };
  if (d.scaling !== undefined && d.scaling !== null) {
    const sc = rd.obj(d.scaling, "data.scaling");
    const nums = (x: unknown, p: string) => rd.list(x, p, (n, q) => rd.num(n, q));
    info.scaling = { min: nums(sc.min, "data.scaling.min"), max: nums(sc.max, "data.scaling.max") };
  }
  if (typeof d.lightOnDark === "boolean") info.lightOnDark = d.lightOnDark;
  if (d.target !== undefined && d.target !== null) {
    const t = rd.obj(d.target, "data.target");
    const std = rd.num(t.std, "data.target.std");
    if (!(std > 0)) rd.fail(`"data.target.std" must be positive, got ${std}`);
    info.target = {
      name: rd.str(t.name, "data.target.name"),
      mean: rd.num(t.mean, "data.target.mean"),
      std,
    };
    if (t.leaves !== undefined && t.leaves !== null) {
      const lv = rd.obj(t.leaves, "data.target.leaves");
      info.target.leaves = {
        share: rd.list(lv.share, "data.target.leaves.share", (n, q) => rd.num(n, q)),
        std: rd.list(
          lv.std,
          "data.target.leaves.std",
          (n, q) => (n === null ? null : rd.num(n, q)),
        ),
      };
    }
  }
  if (d.teacher !== undefined && d.teacher !== null) {
    info.teacher = rd.list(d.teacher, "data.teacher", (t, p) => rd.obj(t, p));
  }
  return info;
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
