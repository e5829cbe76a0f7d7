/**
 * A reader for IDX files, the format of MNIST, Fashion-MNIST, KMNIST and EMNIST.
 *
 * An IDX file is a 4-byte magic number (`0x00 0x00 type ndims`), `ndims` big-endian
 * uint32 dimensions, then the data in row-major order, big-endian. The file may be
 * gzipped; the reader detects that by the gzip magic bytes `1f 8b`, not by the name.
 *
 * @module
 */
import { gunzipSync } from "node:zlib";
import { DatasetError } from "../errors.ts";
import { pathName, readDataFile } from "./_common.ts";

/** The element types an IDX file can hold, by their IDX type code. */
export const IDX_TYPES = {
  0x08: "uint8",
  0x09: "int8",
  0x0b: "int16",
  0x0c: "int32",
  0x0d: "float32",
  0x0e: "float64",
} as const;

/** An IDX element type: `"uint8"`, `"int8"`, `"int16"`, `"int32"`, `"float32"` or `"float64"`. */
export type IdxType = (typeof IDX_TYPES)[keyof typeof IDX_TYPES];

/** The typed array that holds each {@linkcode IdxType}. */
export type IdxData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** The content of one IDX file. */
export interface IdxArray {
  /** The element type the header declares. */
  type: IdxType;
  /** The dimensions, outermost first, e.g. `[60000, 28, 28]`. */
  shape: number[];
  /** The elements, row-major, in the platform's byte order. */
  data: IdxData;
}

const BYTES: Record<IdxType, number> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  int32: 4,
  float32: 4,
  float64: 8,
};

/**
 * Parses the bytes of an IDX file, gunzipping them first when they start with the gzip
 * magic `1f 8b`.
 *
 * For `uint8` data the result is a view into `bytes` (or into the gunzipped copy), not a copy.
 *
 * @param bytes The file's content, raw or gzipped.
 * @param name The file's name, for error messages.
 * @returns The element type, shape and data.
 * @throws {DatasetError} When the gzip stream is corrupt, the magic number is not an IDX
 * one, the header or the data is truncated, or bytes follow the data.
 * @example
 * ```ts
 * const bytes = new Uint8Array([0, 0, 0x08, 1, 0, 0, 0, 2, 7, 9]);
 * const { type, shape, data } = parseIdx(bytes, "labels.idx");
 * // type "uint8", shape [2], data Uint8Array [7, 9]
 * ```
 */
export function parseIdx(bytes: Uint8Array, name: string): IdxArray {
  const fail = (problem: string, cause?: unknown): never => {
    throw new DatasetError(`Cannot read IDX file "${name}": ${problem}`, { cause });
  };
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      const out = gunzipSync(bytes);
      bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (error) {
      fail(`the gzip data is corrupt (${error instanceof Error ? error.message : error})`, error);
    }
  }
  if (bytes.length < 4) {
    fail(`the file holds ${bytes.length} bytes, too few for the 4-byte magic number`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(
      `magic number "0x${hex(magic, 8)}" does not start with two zero bytes, so this is not ` +
        `an IDX file`,
    );
  }
  const type = IDX_TYPES[bytes[2] as keyof typeof IDX_TYPES];
  if (type === undefined) {
    fail(
      `magic number "0x${hex(magic, 8)}" declares type code "0x${hex(bytes[2], 2)}", expected ` +
        `one of 0x08 (uint8), 0x09 (int8), 0x0b (int16), 0x0c (int32), 0x0d (float32), ` +
        `0x0e (float64)`,
    );
  }
  const ndims = bytes[3];
  if (ndims === 0) fail(`magic number "0x${hex(magic, 8)}" declares 0 dimensions`);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    fail(
      `header declares ${ndims} dimensions (${headerBytes} bytes of header) but the file ` +
        `holds ${bytes.length} bytes`,
    );
  }
  const shape: number[] = [];
  for (let d = 0; d < ndims; d++) shape.push(view.getUint32(4 + 4 * d));

  const size = BYTES[type];
  const itemBytes = shape.slice(1).reduce((a, b) => a * b, size);
  const items = shape[0];
  const dataBytes = bytes.length - headerBytes;
  const expected = items * itemBytes;
  if (dataBytes < expected) {
    const held = Math.floor(dataBytes / itemBytes);
    const rest = dataBytes - held * itemBytes;
    fail(
      `header declares ${items} items but the file holds ${held}` +
        (rest > 0 ? ` and ${rest} bytes of another` : ""),
    );
  }
  if (dataBytes > expected) {
    fail(
      `the file holds ${dataBytes - expected} bytes after the ${items} items its header ` +
        `declares (shape [${shape.join(", ")}], ${type})`,
    );
  }
  return { type, shape, data: decode(bytes.subarray(headerBytes), type) };
}

/**
 * Reads an IDX file, raw or gzipped.
 *
 * @param path The file's path or `file:` URL.
 * @returns The element type, shape and data.
 * @throws {DatasetError} When the file cannot be read or does not hold valid IDX data
 * (see {@linkcode parseIdx}).
 * @example
 * ```ts
 * const images = await readIdx("data/train-images-idx3-ubyte.gz");
 * images.shape; // [60000, 28, 28]
 * ```
 */
export async function readIdx(path: string | URL): Promise<IdxArray> {
  const name = pathName(path);
  const bytes = await readDataFile(path, "IDX");
  return parseIdx(bytes, name);
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, "0");
}

/** The array and the big-endian read of each multi-byte IDX type. */
const BIG_ENDIAN: Record<
  Exclude<IdxType, "uint8" | "int8">,
  [
    new (n: number) => Int16Array | Int32Array | Float32Array | Float64Array,
    (
      view: DataView,
      offset: number,
    ) => number,
  ]
> = {
  int16: [Int16Array, (view, offset) => view.getInt16(offset)],
  int32: [Int32Array, (view, offset) => view.getInt32(offset)],
  float32: [Float32Array, (view, offset) => view.getFloat32(offset)],
  float64: [Float64Array, (view, offset) => view.getFloat64(offset)],
};

/** Turns big-endian IDX elements into a typed array in the platform's byte order. */
function decode(raw: Uint8Array, type: IdxType): IdxData {
  if (type === "uint8") return raw;
  if (type === "int8") return new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  const [Out, get] = BIG_ENDIAN[type];
  const size = BYTES[type];
  const n = raw.byteLength / size;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Out(n);
  for (let i = 0; i < n; i++) out[i] = get(view, size * i);
  return out;
}
