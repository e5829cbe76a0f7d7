/**
 * Soft labels: the teacher's `softmax(logits / temperature)`, with the logits cached on
 * disk so that a second `distill` does not run the teacher again.
 *
 * The cache holds logits, not probabilities, so one entry serves every temperature. Its key
 * is a SHA-256 of the teacher's fingerprint (softtree's ConvNet: its weights' bytes, as they
 * are in memory; a model file: its bytes, external data included, and the preprocessing) and
 * of the inputs' bytes: a retrained or edited teacher, other preprocessing, or other data,
 * gets a new entry. A file of outputs is not cached (it is its own cache).
 *
 * Cache file `<cacheDir>/teacher-logits-<key>.bin`: the 8 ASCII bytes `STLOGIT1`, `N` and
 * `K` as little-endian uint32, then `N*K` little-endian float32 logits.
 *
 * @module
 */
import { writeFileAtomic } from "../io/atomic.ts";
import type { Teacher } from "./model.ts";
import { type AnyTeacher, sha256Hex, type TeacherLogitsOptions } from "./any.ts";
import { asAnyTeacher } from "./softtree_teacher.ts";

export { teacherFingerprint } from "./softtree_teacher.ts";

const MAGIC = "STLOGIT1";
const HEADER = 16;

/**
 * `softmax(logits / temperature)` of each row of `logits [N, K]`, computed stably in
 * float64 and returned as float32 `[N, K]`; every row sums to 1.
 *
 * @param logits `[N, K]`.
 * @param classes `K`.
 * @param temperature `tau > 0`; 1 is the plain softmax, larger is softer.
 * @returns Probabilities `[N, K]`.
 * @throws {RangeError} When `temperature` is not positive or `logits` is not `[N, K]`.
 * @example
 * ```ts
 * softmaxT(new Float32Array([0, Math.log(3)]), 2, 1); // [0.25, 0.75]
 * ```
 */
export function softmaxT(logits: Float32Array, classes: number, temperature = 1): Float32Array {
  if (!(temperature > 0 && Number.isFinite(temperature))) {
    throw new RangeError(`Invalid temperature "${temperature}": expected a positive number`);
  }
  if (!Number.isInteger(classes) || classes < 1 || logits.length % classes !== 0) {
    throw new RangeError(
      `Invalid logits: ${logits.length} values do not form rows of ${classes} classes`,
    );
  }
  const out = new Float32Array(logits.length);
  const row = new Float64Array(classes);
  for (let r = 0; r < logits.length; r += classes) {
    let max = -Infinity;
    for (let k = 0; k < classes; k++) max = Math.max(max, logits[r + k]);
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      row[k] = Math.exp((logits[r + k] - max) / temperature);
      sum += row[k];
    }
    for (let k = 0; k < classes; k++) out[r + k] = row[k] / sum;
  }
  return out;
}

/** What happened with the cache, for {@linkcode SoftLabelOptions.onCache}. */
export interface CacheEvent {
  /** `true` when the logits came from the file. */
  hit: boolean;
  /** The cache file read or written. */
  file: string;
}

/** Options of {@linkcode softLabels} and {@linkcode cachedTeacherLogits}. */
export interface SoftLabelOptions extends TeacherLogitsOptions {
  /** `tau`: soft labels are `softmax(logits / tau)`. @default 1 (the seed) */
  temperature?: number;
  /**
   * Folder of the logits cache; without it nothing is cached.
   * @default undefined
   */
  cacheDir?: string;
  /** Told whether the cache was hit, and which file. */
  onCache?: (event: CacheEvent) => void;
}

function readCache(bytes: Uint8Array, n: number, k: number): Float32Array | null {
  if (bytes.length !== HEADER + n * k * 4) return null;
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(8, true) !== n || view.getUint32(12, true) !== k) return null;
  const out = new Float32Array(n * k);
  for (let i = 0; i < n * k; i++) out[i] = view.getFloat32(HEADER + 4 * i, true);
  return out;
}

function encodeCache(logits: Float32Array, n: number, k: number): Uint8Array {
  const bytes = new Uint8Array(HEADER + n * k * 4);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, n, true);
  view.setUint32(12, k, true);
  for (let i = 0; i < n * k; i++) view.setFloat32(HEADER + 4 * i, logits[i], true);
  return bytes;
}

/**
 * The teacher's logits for `x [N, F]`, `[N, K]`, read from the cache in `options.cacheDir`
 * when an entry for these weights and inputs exists, else computed (and stored there).
 * A missing, unreadable or corrupt cache file is recomputed, never an error.
 *
 * @param teacher The teacher.
 * @param x Inputs `[N, F]`.
 * @param options Cache folder, batch size, progress.
 * @returns Logits `[N, K]`.
 * @example
 * ```ts
 * const logits = await cachedTeacherLogits(teacher, train.x, { cacheDir: ".cache" });
 * ```
 */
export async function cachedTeacherLogits(
  teacher: Teacher | AnyTeacher,
  x: Float32Array,
  options: SoftLabelOptions = {},
): Promise<Float32Array> {
  const t = asAnyTeacher(teacher);
  const k = t.classes;
  if (!options.cacheDir || t.kind === "soft-labels") return await t.logits(x, options);
  const n = Math.floor(x.length / t.features);
  const key = await sha256Hex([
    new TextEncoder().encode(`${await t.fingerprint()};${n}x${t.features};`),
    x,
  ]);
  const file = `${options.cacheDir.replace(/\/+$/, "")}/teacher-logits-${key.slice(0, 32)}.bin`;
  try {
    const cached = readCache(await Deno.readFile(file), n, k);
    if (cached) {
      options.onCache?.({ hit: true, file });
      return cached;
    }
  } catch {
    // no usable cache entry: compute below
  }
  const logits = await t.logits(x, options);
  await writeFileAtomic(file, encodeCache(logits, n, k));
  options.onCache?.({ hit: false, file });
  return logits;
}

/**
 * Soft labels `softmax(logits / temperature)` of the teacher for `x [N, F]`, `[N, K]`; rows
 * sum to 1. With `cacheDir`, the teacher's logits are cached on disk (see the module doc).
 *
 * @param teacher The teacher.
 * @param x Inputs `[N, F]`.
 * @param options Temperature (default 1), cache folder, batch size, progress.
 * @returns Soft labels `[N, K]`.
 * @throws {RangeError} When the temperature is not positive or `x` does not fit the teacher.
 * @example
 * ```ts
 * const targets = await softLabels(teacher, splits.train.x, { temperature: 2, cacheDir: ".cache" });
 * ```
 */
export async function softLabels(
  teacher: Teacher | AnyTeacher,
  x: Float32Array,
  options: SoftLabelOptions = {},
): Promise<Float32Array> {
  const temperature = options.temperature ?? 1;
  softmaxT(new Float32Array(0), 1, temperature); // checks the temperature before any work
  const logits = await cachedTeacherLogits(teacher, x, options);
  return softmaxT(logits, asAnyTeacher(teacher).classes, temperature);
}

/** How much soft labels say beyond the hard labels: see {@linkcode softLabelStats}. */
export interface SoftLabelStats {
  /** Rows labelled. */
  samples: number;
  /** Mean of each row's largest probability, in [1/K, 1]. */
  meanTopProbability: number;
  /** Mean entropy of a row, in nats (0 for one-hot rows, log K for uniform ones). */
  meanEntropy: number;
  /** Fraction of rows whose largest probability exceeds 0.99 (nearly one-hot). */
  nearlyOneHot: number;
  /** Fraction of rows whose most probable class is their label: the teacher's accuracy. */
  agreement: number;
}

/**
 * Diagnostics of soft labels `[N, K]` against the labels `[N]` of the same rows: a teacher
 * that has memorised its training images gives nearly one-hot labels there (mean top
 * probability near 1, entropy near 0), which carry little beyond the hard labels.
 *
 * @param targets Probabilities `[N, K]`, rows summing to 1.
 * @param labels The rows' labels `[N]`.
 * @param classes `K`.
 * @returns Mean top probability, mean entropy (nats), share nearly one-hot, agreement.
 * @throws {RangeError} When the shapes do not match.
 * @example
 * ```ts
 * softLabelStats(new Float32Array([0.9, 0.1, 0.5, 0.5]), new Int32Array([0, 1]), 2);
 * // { samples: 2, meanTopProbability: 0.7, meanEntropy: 0.52..., nearlyOneHot: 0, agreement: 0.5 }
 * ```
 */
export function softLabelStats(
  targets: Float32Array,
  labels: Int32Array,
  classes: number,
): SoftLabelStats {
  const n = labels.length;
  if (targets.length !== n * classes) {
    throw new RangeError(
      `Soft labels hold ${targets.length} values, expected ${n} rows of ${classes} classes`,
    );
  }
  let top = 0, entropy = 0, sharp = 0, agree = 0;
  for (let i = 0; i < n; i++) {
    let best = 0, h = 0;
    for (let k = 0; k < classes; k++) {
      const p = targets[i * classes + k];
      if (p > targets[i * classes + best]) best = k;
      if (p > 0) h -= p * Math.log(p);
    }
    const pTop = targets[i * classes + best];
    top += pTop;
    entropy += h;
    if (pTop > 0.99) sharp++;
    if (best === labels[i]) agree++;
  }
  const d = Math.max(n, 1);
  return {
    samples: n,
    meanTopProbability: top / d,
    meanEntropy: entropy / d,
    nearlyOneHot: sharp / d,
    agreement: agree / d,
  };
}
