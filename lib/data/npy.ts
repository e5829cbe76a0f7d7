/**
 * NumPy's `.npy` array files (format versions 1-3): the header's `descr`, `fortran_order`
 * and `shape`, then the array's bytes.
 *
 * Read: little-endian (or byte-order-free) `bool`, `int8`-`int64`, `uint8`-`uint64`,
 * `float32`, `float64` and unicode strings (`<U`), in C order. Refused, with a message that
 * says so: big-endian data, Fortran order, `float16`, complex numbers, objects (pickles),
 * structured types, and 64-bit integers beyond 2^53.
 *
 * @module
 */
import { DatasetError } from "../errors.ts";
import { pathName, readDataFile, shapeText } from "./_common.ts";

/** The element types {@linkcode parseNpy} reads. */
export type NpyType =
  | "bool"
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "float32"
  | "float64"
  | "string";

/** A numeric array read from a `.npy` file. */
export interface NpyNumbers {
  /** The element type (64-bit integers are returned as float64 values). */
  dtype: Exclude<NpyType, "string">;
  /** The array's shape; `[]` for a scalar. */
  shape: number[];
  /** The elements in C order. */
  data:
    | Uint8Array
    | Int8Array
    | Int16Array
    | Uint16Array
    | Int32Array
    | Uint32Array
    | Float32Array
    | Float64Array;
}

/** An array of unicode strings read from a `.npy` file (`dtype('<U…')`). */
export interface NpyStrings {
  dtype: "string";
  /** The array's shape. */
  shape: number[];
  /** The elements in C order, trailing NULs removed. */
  data: string[];
}

/** An array read from a `.npy` file. */
export type NpyArray = NpyNumbers | NpyStrings;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** The typed array that holds each little-endian dtype as it is (64-bit integers are converted). */
const TYPED_ARRAYS: Record<
  Exclude<NpyType, "string" | "int64" | "uint64">,
  new (buffer: ArrayBuffer) => NpyNumbers["data"]
> = {
  bool: Uint8Array,
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

const NUMERIC: Record<string, { dtype: Exclude<NpyType, "string">; size: number }> = {
  b1: { dtype: "bool", size: 1 },
  i1: { dtype: "int8", size: 1 },
  u1: { dtype: "uint8", size: 1 },
  i2: { dtype: "int16", size: 2 },
  u2: { dtype: "uint16", size: 2 },
  i4: { dtype: "int32", size: 4 },
  u4: { dtype: "uint32", size: 4 },
  i8: { dtype: "int64", size: 8 },
  u8: { dtype: "uint64", size: 8 },
  f4: { dtype: "float32", size: 4 },
  f8: { dtype: "float64", size: 8 },
};

/**
 * Parses the bytes of a `.npy` file.
 *
 * @param bytes The file's content.
 * @param name The file's name, for messages.
 * @returns The array's type, shape and elements.
 * @throws {DatasetError} When the bytes are not a `.npy` file, its header is broken, the
 * file is shorter than the header says, or the array has a type or layout that softtree does
 * not read (the message names it).
 * @example
 * ```ts
 * const { dtype, shape, data } = parseNpy(await Deno.readFile("x.npy"), "x.npy");
 * shape; // [60000, 28, 28]
 * ```
 */
export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  const fail = (problem: string): never => {
    throw new DatasetError(`Cannot read NPY file "${name}": ${problem}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    fail("it is not a NumPy .npy file (it does not start with \\x93NUMPY)");
  }
  const major = bytes[6];
  if (major < 1 || major > 3) fail(`it has format version ${major}.${bytes[7]}, expected 1 to 3`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) fail("its header is cut short");
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lengthBytes + headerLength;
  if (start > bytes.length) fail("its header is cut short");
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(8 + lengthBytes, start),
  );

  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const dims = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || dims === undefined) {
    fail(`its header is not understood: ${JSON.stringify(header.trim())}`);
  }
  if (fortran === "True") {
    fail("its array is in Fortran order; save it in C order (numpy.ascontiguousarray)");
  }
  const shape = dims!.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    fail(`its header has a bad shape (${dims})`);
  }
  const count = shape.reduce((a, b) => a * b, 1);

  const order = descr![0];
  const code = descr!.slice(1);
  if (order === ">" && !/^[ub]1$|^[iu]1$/.test(code)) {
    fail(`its type "${descr}" is big-endian; save it little-endian (astype("<${code}"))`);
  }
  if (/^U\d+$/.test(code)) {
    const chars = Number(code.slice(1));
    const need = count * chars * 4;
    if (bytes.length - start < need) {
      fail(`it holds ${bytes.length - start} data bytes, its header declares ${need}`);
    }
    const codes = new DataView(bytes.buffer, bytes.byteOffset + start, need);
    const data: string[] = [];
    for (let i = 0; i < count; i++) {
      let s = "";
      for (let c = 0; c < chars; c++) {
        const cp = codes.getUint32((i * chars + c) * 4, true);
        if (cp === 0) break;
        s += String.fromCodePoint(cp);
      }
      data.push(s);
    }
    return { dtype: "string", shape, data };
  }
  const type = NUMERIC[code];
  if (type === undefined) {
    const what = code === "f2"
      ? "float16 (convert it to float32)"
      : code.startsWith("c")
      ? "complex numbers"
      : code === "O"
      ? "Python objects (a pickle)"
      : descr!.startsWith("[") || descr === ""
      ? "a structured type"
      : `"${descr}"`;
    fail(
      `it holds ${what}, which softtree does not read; expected bool, integers, float32, ` +
        `float64 or unicode strings`,
    );
  }
  const need = count * type.size;
  if (bytes.length - start < need) {
    fail(
      `its header declares shape ${shapeText(shape)} of ${type.dtype}, ${need} bytes, but ` +
        `it holds ${bytes.length - start}`,
    );
  }
  // A copy, so that the typed array starts aligned.
  const buffer = bytes.slice(start, start + need).buffer;
  switch (type.dtype) {
    case "int64":
    case "uint64": {
      // int64 / uint64 as float64, refused beyond 2^53 where they would lose digits.
      const big = type.dtype === "int64" ? new BigInt64Array(buffer) : new BigUint64Array(buffer);
      const data = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const v = Number(big[i]);
        if (!Number.isSafeInteger(v)) {
          fail(`element ${i} is ${big[i]}, beyond the integers a float64 holds exactly`);
        }
        data[i] = v;
      }
      return { dtype: type.dtype, shape, data };
    }
    default:
      return { dtype: type.dtype, shape, data: new TYPED_ARRAYS[type.dtype](buffer) };
  }
}

/**
 * Reads a `.npy` file.
 *
 * @param path The file's path or `file:` URL.
 * @returns The array (see {@linkcode parseNpy}).
 * @throws {DatasetError} When the file cannot be read or is not a `.npy` file softtree reads.
 * @example
 * ```ts
 * const x = await readNpy("features.npy");
 * x.shape; // [150, 4]
 * ```
 */
export async function readNpy(path: string | URL): Promise<NpyArray> {
  const name = pathName(path);
  const bytes = await readDataFile(path, "NPY");
  return parseNpy(bytes, name);
}
