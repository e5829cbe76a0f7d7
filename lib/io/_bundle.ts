/**
 * A small container for saved training states: 8 magic bytes, a little-endian uint32 header
 * length, a UTF-8 JSON header, zero padding to a multiple of 4 bytes, then float32
 * little-endian arrays one after another. Inside the header a `Float32Array` is written as
 * `{"$f32": i}` (the `i`-th array) so that a nested object of numbers and arrays round-trips
 * exactly (numbers as JSON, which keeps every float64 bit).
 *
 * Every failure to read is a `CheckpointError` whose message names the file.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";

/** Bytes of a bundle holding `header` (with its `Float32Array`s moved out). */
export function encodeBundle(magic: string, header: unknown): Uint8Array {
  const arrays: Float32Array[] = [];
  const json = JSON.stringify(header, (_key, value) => {
    if (value instanceof Float32Array) {
      arrays.push(value);
      return { $f32: arrays.length - 1, length: value.length };
    }
    if (typeof value === "number" && !Number.isFinite(value)) return { $num: String(value) };
    return value;
  });
  const text = new TextEncoder().encode(json);
  const start = Math.ceil((12 + text.length) / 4) * 4;
  const floats = arrays.reduce((n, a) => n + a.length, 0);
  const bytes = new Uint8Array(start + 4 * floats);
  bytes.set(new TextEncoder().encode(magic.padEnd(8).slice(0, 8)), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, text.length, true);
  bytes.set(text, 12);
  let offset = start;
  for (const a of arrays) {
    writeFloats(bytes, offset, a);
    offset += 4 * a.length;
  }
  return bytes;
}

/** Whether this machine stores numbers little-endian (then arrays are copied, not converted). */
const LITTLE = new Uint8Array(new Float32Array([1]).buffer)[3] === 0x3f;

/** Write `a` as little-endian float32 at `offset` (a multiple of 4) of `bytes`. */
export function writeFloats(bytes: Uint8Array, offset: number, a: ArrayLike<number>): void {
  if (LITTLE && (bytes.byteOffset + offset) % 4 === 0) {
    new Float32Array(bytes.buffer, bytes.byteOffset + offset, a.length).set(a);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < a.length; i++) view.setFloat32(offset + 4 * i, a[i], true);
}

/** Read `n` little-endian float32 values at `offset` of `bytes`. */
export function readFloats(bytes: Uint8Array, offset: number, n: number): Float32Array {
  if (LITTLE && (bytes.byteOffset + offset) % 4 === 0) {
    return new Float32Array(
      bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + 4 * n),
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(offset + 4 * i, true);
  return out;
}

/**
 * The header of a bundle, its arrays back in place.
 * @param what What the file is, for messages (`"training state"`).
 * @throws {CheckpointError} naming the file, for a wrong magic, a truncated or corrupt header,
 *   array references that do not fit, or bytes missing or left over.
 */
export function decodeBundle(
  bytes: Uint8Array,
  name: string,
  magic: string,
  what: string,
): unknown {
  const fail = (why: string): never => {
    throw new CheckpointError(`Cannot read ${what} "${name}": ${why}`);
  };
  const want = magic.padEnd(8).slice(0, 8);
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== want) {
    fail(`it does not start with "${want.trim()}"`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = view.getUint32(8, true);
  if (12 + len > bytes.length) {
    fail(`the header declares ${len} bytes but the file holds ${bytes.length - 12} after them`);
  }
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(12, 12 + len));
  } catch {
    fail("its header is not UTF-8 text");
  }
  const start = Math.ceil((12 + len) / 4) * 4;
  const refs: { index: number; length: number }[] = [];
  let header: unknown;
  try {
    header = JSON.parse(text, (_key, value) => {
      if (value && typeof value === "object" && !Array.isArray(value)) {
        if ("$num" in value) {
          const n = Number(value.$num);
          if (Number.isNaN(n) && value.$num !== "NaN") fail(`a number "${value.$num}" is invalid`);
          return n;
        }
        if ("$f32" in value) {
          const { $f32: index, length } = value;
          if (
            !Number.isSafeInteger(index) || index < 0 || !Number.isSafeInteger(length) || length < 0
          ) {
            fail(`an array reference ${JSON.stringify(value)} is invalid`);
          }
          const ref = { index, length };
          refs.push(ref);
          return ref;
        }
      }
      return value;
    });
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    fail(`its header is not valid JSON (${(error as Error).message})`);
  }
  // Arrays are stored in the order of their indices.
  const byIndex = [...refs].sort((a, b) => a.index - b.index);
  const offsets = new Map<number, number>();
  let at = 0;
  for (let i = 0; i < byIndex.length; i++) {
    const r = byIndex[i];
    if (r.index !== i) fail(`its arrays are numbered ${byIndex.map((x) => x.index).join(", ")}`);
    offsets.set(r.index, at);
    at += r.length;
  }
  if (bytes.length !== start + 4 * at) {
    fail(
      `it should hold ${at} float32 values (${start + 4 * at} bytes) but has ${bytes.length} bytes`,
    );
  }
  const arrays = new Map<object, Float32Array>();
  for (const r of refs) {
    arrays.set(r, readFloats(bytes, start + 4 * offsets.get(r.index)!, r.length));
  }
  const place = (v: unknown): unknown => {
    if (v && typeof v === "object") {
      if (arrays.has(v)) return arrays.get(v);
      if (Array.isArray(v)) return v.map(place);
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) o[k] = place(o[k]);
    }
    return v;
  };
  return place(header);
}

/** Reads fields of an untrusted decoded header, failing with a message that names the file. */
export class Reader {
  readonly #fail: (why: string) => never;

  /** @param fail Throws the error for a problem (a sentence fragment). */
  constructor(fail: (why: string) => never) {
    this.#fail = fail;
  }

  /** Fail with `why`. */
  fail(why: string): never {
    return this.#fail(why);
  }

  /** A plain object. */
  obj(v: unknown, path: string): Record<string, unknown> {
    if (!v || typeof v !== "object" || Array.isArray(v) || v instanceof Float32Array) {
      this.#fail(`"${path}" is not an object`);
    }
    return v as Record<string, unknown>;
  }

  /** A number (finite unless `nonFinite`), optionally an integer within `[min, max]`. */
  num(
    v: unknown,
    path: string,
    { int = false, min = -Infinity, max = Infinity, nonFinite = false } = {},
  ): number {
    if (typeof v !== "number" || (!nonFinite && !Number.isFinite(v))) {
      this.#fail(`"${path}" is not a number (${JSON.stringify(v) ?? String(v)})`);
    }
    const n = v as number;
    if (int && !Number.isSafeInteger(n)) this.#fail(`"${path}" is not a whole number (${n})`);
    if (n < min || n > max) this.#fail(`"${path}" is ${n}, outside [${min}, ${max}]`);
    return n;
  }

  /** A string. */
  str(v: unknown, path: string): string {
    if (typeof v !== "string") this.#fail(`"${path}" is not a string`);
    return v as string;
  }

  /** A float32 array of `length` values (any length when omitted), all finite unless `nonFinite`. */
  f32(v: unknown, path: string, length?: number, nonFinite = false): Float32Array {
    if (!(v instanceof Float32Array)) this.#fail(`"${path}" is not an array of numbers`);
    const a = v as Float32Array;
    if (length !== undefined && a.length !== length) {
      this.#fail(`"${path}" holds ${a.length} values, expected ${length}`);
    }
    if (!nonFinite) {
      const bad = a.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) this.#fail(`"${path}"[${bad}] is not finite (${a[bad]})`);
    }
    return a;
  }

  /** An array, each item read by `item`. */
  list<T>(v: unknown, path: string, item: (x: unknown, path: string) => T): T[] {
    if (!Array.isArray(v)) this.#fail(`"${path}" is not a list`);
    return (v as unknown[]).map((x, i) => item(x, `${path}[${i}]`));
  }
}
