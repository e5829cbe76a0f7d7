/**
 * A file of a teacher's outputs as the teacher (`--soft-labels FILE`), for teachers that
 * cannot run here: a model behind a service, another framework, a policy's action
 * distributions. One row per sample of the data's source, in the source's own order (all
 * of its rows, whichever split each lands in; rows of a transfer set may follow), each
 * holding `K` logits or probabilities (`outputs`, decided on the whole file by `auto`).
 *
 * Formats: CSV (comma, or tab for `.tsv`), with or without a header row; `.npy` of
 * little-endian float32 or float64, shape `(rows, K)`.
 *
 * @module
 */
import type { Dataset, Splits } from "../data/types.ts";
import { CheckpointError, DatasetError } from "../errors.ts";
import { parseCsv } from "../data/csv.ts";
import {
  type AnyTeacher,
  looksLikeProbabilities,
  sha256Hex,
  type TeacherLogitsOptions,
  type TeacherOutputs,
  toLogits,
} from "./any.ts";

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$/i;

/** Rows of numbers read from a CSV or `.npy` file. */
export interface OutputRows {
  /** `[rows, K]`. */
  values: Float32Array;
  rows: number;
  columns: number;
}

function fail(file: string, why: string, cause?: unknown): never {
  throw new DatasetError(`Cannot read the soft-labels file "${file}": ${why}`, { cause });
}

/** Parses a `.npy` file of float32 or float64 `(rows, K)` (or `(rows,)` as one column). */
export function parseNpy(bytes: Uint8Array, file: string): OutputRows {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) {
    fail(file, "it is not a NumPy .npy file (no \\x93NUMPY magic)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 + headerLen : 12 + headerLen;
  const header = new TextDecoder().decode(bytes.subarray(major === 1 ? 10 : 12, start));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) fail(file, `its header is malformed`);
  const shape = shapeText!.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  if (fortran === "True") fail(file, "it is in Fortran order; save it in C order");
  if (shape.length < 1 || shape.length > 2) {
    fail(file, `it holds an array of shape (${shape.join(", ")}), expected (rows, classes)`);
  }
  const rows = shape[0], columns = shape[1] ?? 1;
  const size = descr === "<f4" ? 4 : descr === "<f8" ? 8 : 0;
  if (!size) fail(file, `it holds dtype "${descr}", expected float32 (<f4) or float64 (<f8)`);
  if (bytes.length - start < rows * columns * size) {
    fail(
      file,
      `it holds ${bytes.length - start} data bytes, its header declares ${rows * columns * size}`,
    );
  }
  const values = new Float32Array(rows * columns);
  for (let i = 0; i < values.length; i++) {
    values[i] = size === 4
      ? view.getFloat32(start + 4 * i, true)
      : view.getFloat64(start + 8 * i, true);
  }
  return { values, rows, columns };
}

/** Parses a CSV of numbers, with or without a header row (a first row with a non-number). */
export function parseOutputsCsv(text: string, file: string): OutputRows {
  const delimiter = file.toLowerCase().endsWith(".tsv") ? "\t" : ",";
  const rows = parseCsv(text, delimiter, (why) => fail(file, why));
  if (rows.length === 0) fail(file, "it is empty");
  const isNumber = (c: string) => NUMBER.test(c.trim());
  const data = rows[0].cells.some((c) => !isNumber(c)) ? rows.slice(1) : rows;
  if (data.length === 0) fail(file, "it holds a header row but no data rows");
  const columns = data[0].cells.length;
  const values = new Float32Array(data.length * columns);
  data.forEach((row, r) => {
    if (row.cells.length !== columns) {
      fail(file, `line ${row.line} has ${row.cells.length} cells, expected ${columns}`);
    }
    row.cells.forEach((cell, c) => {
      if (!isNumber(cell)) {
        fail(file, `line ${row.line}, column ${c + 1} holds "${cell}", not a number`);
      }
      values[r * columns + c] = Number(cell.trim().replace(/^([+-]?)inf(inity)?$/i, "$1Infinity"));
    });
  });
  return { values, rows: data.length, columns };
}

/**
 * How many rows the data's source has, when the splits cover all of it (every row of
 * `0..M-1` exactly once, as a CSV without `--limit`); `null` when they cover part of it or
 * do not say (no `sourceRows`).
 */
export function sourceRowCount(splits: Splits): number | null {
  const parts = [splits.train, splits.val, splits.test].filter((d) =>
    d.source === splits.train.source
  );
  if (parts.some((d) => !d.sourceRows)) return null;
  const total = parts.reduce((a, d) => a + d.n, 0);
  const seen = new Uint8Array(total);
  for (const d of parts) {
    for (const r of d.sourceRows!) {
      if (r < 0 || r >= total || seen[r]) return null;
      seen[r] = 1;
    }
  }
  return total;
}

/** A teacher that is a file of its outputs; made by {@linkcode openSoftLabelsTeacher}. */
export class SoftLabelsTeacher implements AnyTeacher {
  readonly kind = "soft-labels" as const;
  readonly file: string;
  readonly classes: number;
  readonly features: number;
  readonly inputShape: readonly number[] = [];
  readonly preprocessing = null;
  /** The file's rows. */
  readonly rows: number;
  /** Whether the rows held probabilities (turned into log-probabilities). */
  readonly probabilities: boolean;
  #logits: Float32Array;
  #bytes: Uint8Array;

  /** @internal Use {@linkcode openSoftLabelsTeacher}. */
  constructor(
    file: string,
    bytes: Uint8Array,
    logits: Float32Array,
    rows: number,
    classes: number,
    features: number,
    probabilities: boolean,
  ) {
    this.file = file;
    this.#bytes = bytes;
    this.#logits = logits;
    this.rows = rows;
    this.classes = classes;
    this.features = features;
    this.probabilities = probabilities;
  }

  describe(): string {
    return `outputs file ${this.file} (${this.rows} rows of ${this.classes} ${
      this.probabilities ? "probabilities" : "logits"
    })`;
  }

  async fingerprint(): Promise<string> {
    return await sha256Hex([new TextEncoder().encode("soft-labels;"), this.#bytes]);
  }

  /** The rows `options.rows` of the file, `[N, K]` logits. */
  logits(x: Float32Array, options: TeacherLogitsOptions = {}): Promise<Float32Array> {
    const n = x.length / this.features;
    const rows = options.rows;
    if (!rows || rows.length !== n) {
      return Promise.reject(
        new DatasetError(
          `The soft-labels file "${this.file}" gives outputs by row of the data's source, but ` +
            `the data does not say which source row each of its ${n} samples is`,
        ),
      );
    }
    const k = this.classes;
    const out = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      if (r < 0 || r >= this.rows) {
        return Promise.reject(
          new DatasetError(
            `The soft-labels file "${this.file}" holds ${this.rows} rows, but sample ${i} is ` +
              `row ${r} of the data's source`,
          ),
        );
      }
      out.set(this.#logits.subarray(r * k, r * k + k), i * k);
    }
    options.onProgress?.(n, n);
    return Promise.resolve(out);
  }

  dispose(): void {}
}

/** Options of {@linkcode openSoftLabelsTeacher}. */
export interface SoftLabelsOptions {
  /** Whether rows are logits or probabilities. @default "auto" */
  outputs?: TeacherOutputs;
  /** Rows of a transfer set that follow the data's rows in the file. @default 0 */
  transferRows?: number;
}

/**
 * Reads a file of a teacher's outputs for `splits` and checks it: `K` columns, one row per
 * row of the data's source (see the module doc), finite values.
 *
 * @param file A `.csv`, `.tsv` or `.npy` file.
 * @param splits The data it labels.
 * @param options Logits or probabilities; transfer rows.
 * @returns The teacher.
 * @throws {DatasetError} When the file cannot be read, its row count differs from the data's
 *   (both are named), or its column count from the class count.
 * @throws {CheckpointError} On NaN or infinite values.
 * @example
 * ```ts
 * const t = await openSoftLabelsTeacher("probs.csv", splits);
 * ```
 */
export async function openSoftLabelsTeacher(
  file: string,
  splits: Splits,
  options: SoftLabelsOptions = {},
): Promise<SoftLabelsTeacher> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (error) {
    fail(file, error instanceof Deno.errors.NotFound ? "no such file" : String(error), error);
  }
  const parsed = file.toLowerCase().endsWith(".npy") || bytes![0] === 0x93
    ? parseNpy(bytes!, file)
    : parseOutputsCsv(new TextDecoder().decode(bytes!), file);
  const train = splits.train;
  const k = train.classes;
  if (parsed.columns !== k) {
    throw new DatasetError(
      `The soft-labels file "${file}" has ${parsed.columns} columns, the data "${train.source}" ` +
        `has ${k} classes`,
    );
  }
  const transfer = options.transferRows ?? 0;
  const known = sourceRowCount(splits);
  const maxRow = Math.max(
    -1,
    ...[train, splits.val, splits.test].filter((d) => d.source === train.source)
      .map((d) => d.sourceRows ? d.sourceRows.reduce((a, b) => Math.max(a, b), -1) : -1),
  );
  if (known !== null && parsed.rows !== known + transfer) {
    throw new DatasetError(
      `The soft-labels file "${file}" holds ${parsed.rows} rows, the data "${train.source}" has ` +
        `${known}${transfer ? ` (+ ${transfer} transfer rows)` : ""}: it needs one row per ` +
        `sample, in the data's own order`,
    );
  }
  if (known === null && parsed.rows <= maxRow) {
    throw new DatasetError(
      `The soft-labels file "${file}" holds ${parsed.rows} rows, the data "${train.source}" has ` +
        `at least ${maxRow + 1}: it needs one row per sample, in the data's own order`,
    );
  }
  const wanted = options.outputs ?? "auto";
  const probabilities = wanted === "auto"
    ? looksLikeProbabilities(parsed.values, k)
    : wanted === "probabilities";
  try {
    toLogits(parsed.values, k, probabilities, file, 0);
  } catch (error) {
    throw new CheckpointError(
      (error as Error).message.replace("The teacher", "The soft-labels file"),
    );
  }
  return new SoftLabelsTeacher(
    file,
    bytes!,
    parsed.values,
    parsed.rows,
    k,
    train.features,
    probabilities,
  );
}

/** The source rows of a transfer set `[M]` whose row `r` is a copy of training row `r % N`. */
export function transferRows(train: Dataset, m: number): Int32Array | undefined {
  const rows = train.sourceRows;
  if (!rows) return undefined;
  const out = new Int32Array(m);
  for (let r = 0; r < m; r++) out[r] = rows[r % train.n];
  return out;
}
