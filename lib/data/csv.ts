/**
 * Tabular data from a CSV file: one row per sample, numeric feature columns and one label
 * column.
 *
 * @module
 */
import { DatasetError } from "../errors.ts";
import { Rng } from "../util/random.ts";
import { MAX_CLASSES, pathName, readDataText } from "./_common.ts";
import type { Dataset, DataTask, Splits } from "./types.ts";
import { targetScale } from "../tree/regression.ts";

/** Options of {@linkcode loadCsv} and {@linkcode parseCsvDataset}. */
export interface CsvOptions {
  /**
   * The label column: its name in the header row, or its 0-based index (negative counts
   * from the end, `-1` is the last column).
   * @default -1 (the last column)
   */
  labelColumn?: string | number;
  /**
   * Whether the first row names the columns. `"auto"` takes it as a header when some cell
   * of it is not a number while the cell below it is (or there is no row below).
   * @default "auto"
   */
  header?: boolean | "auto";
  /**
   * The cell separator.
   * @default "\t" for files ending in ".tsv", else ","
   */
  delimiter?: string;
  /**
   * The number of classes `K`; integer labels must then be in `[0, K)`, and text labels may
   * be at most `K` distinct values.
   * @default the number the labels imply (see {@linkcode loadCsv})
   */
  classes?: number;
  /**
   * What the label column holds: class labels, or a regression target (numbers; the splits
   * then carry `values` and `targetScaling`). `"auto"` takes a column of numbers that are not
   * all whole numbers as a regression target.
   * @default "auto"
   */
  task?: DataTask;
  /**
   * Seed of the shuffle that splits the rows.
   * @default 0
   */
  seed?: number;
  /**
   * Fraction of the rows for the validation split.
   * @default 0.15
   */
  valFraction?: number;
  /**
   * Fraction of the rows for the test split; the training split gets the rest.
   * @default 0.15
   */
  testFraction?: number;
  /**
   * The `source` recorded in each split.
   * @default `csv:${path}`
   */
  source?: string;
}

/**
 * Loads a CSV file and splits its rows into train / validation / test by a seeded shuffle.
 *
 * Labels: when every label is a non-negative integer, it is the class index as it is
 * (`K` = largest + 1, class names `"0" .. "K-1"`); otherwise the distinct labels are sorted
 * (numerically when all are numbers, else as text) and numbered from 0, and `classNames`
 * keeps them. Features: min-max scaled to [0, 1] by each column's range over the training
 * split only (so the validation and test splits may fall slightly outside [0, 1]; a
 * constant column becomes 0); `scaling` records the ranges. Cells may be quoted (`"a,b"`,
 * `""` for a quote); blank lines are skipped.
 *
 * @param path The file's path or `file:` URL.
 * @param options Label column, header, delimiter, classes, seed, split fractions.
 * @returns The three splits.
 * @throws {DatasetError} When the file cannot be read or is empty, a row has the wrong
 * number of cells, a feature cell is not a number, the label column does not exist, a label
 * is outside `[0, classes)`, or there are too few rows to split.
 * @throws {RangeError} When a fraction or `classes` is out of range.
 * @example
 * ```ts
 * const { train, val, test } = await loadCsv("iris.csv", { labelColumn: "species", seed: 1 });
 * train.classNames; // ["setosa", "versicolor", "virginica"]
 * ```
 */
export async function loadCsv(path: string | URL, options: CsvOptions = {}): Promise<Splits> {
  const text = await readDataText(path, "CSV");
  return parseCsvDataset(text, pathName(path), options);
}

/**
 * Parses CSV text into train / validation / test splits, as {@linkcode loadCsv} does for a
 * file.
 *
 * @param text The CSV text.
 * @param name The file's name, for messages and the default `source`.
 * @param options As for {@linkcode loadCsv}.
 * @returns The three splits.
 * @throws {DatasetError} As {@linkcode loadCsv}, for bad data.
 * @throws {RangeError} When a fraction or `classes` is out of range.
 * @example
 * ```ts
 * const csv = "a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n";
 * const splits = parseCsvDataset(csv, "tiny.csv", { valFraction: 0.25, testFraction: 0.25 });
 * splits.train.n; // 2
 * ```
 */
export function parseCsvDataset(text: string, name: string, options: CsvOptions = {}): Splits {
  const valFraction = fraction(options.valFraction ?? 0.15, "valFraction");
  const testFraction = fraction(options.testFraction ?? 0.15, "testFraction");
  if (valFraction + testFraction >= 1) {
    throw new RangeError(
      `Invalid split fractions: valFraction "${valFraction}" + testFraction "${testFraction}" ` +
        `leaves nothing for training`,
    );
  }
  if (
    options.classes !== undefined &&
    (!Number.isSafeInteger(options.classes) || options.classes < 1 ||
      options.classes > MAX_CLASSES)
  ) {
    throw new RangeError(
      `Invalid number of classes "${options.classes}": expected an integer from 1 to ${MAX_CLASSES}`,
    );
  }
  const fail = (problem: string): never => {
    throw new DatasetError(`Cannot read CSV file "${name}": ${problem}`);
  };
  const delimiter = options.delimiter ?? (name.toLowerCase().endsWith(".tsv") ? "\t" : ",");
  const rows = parseCsv(text, delimiter, fail);
  if (rows.length === 0) fail("the file is empty");

  const width = rows[0].cells.length;
  const header = options.header ?? "auto";
  const hasHeader = header === "auto" ? looksLikeHeader(rows) : header;
  const columns = hasHeader
    ? rows[0].cells.map((c) => c.trim())
    : Array.from({ length: width }, (_, i) => `x${i}`);
  const columnName = (c: number) =>
    hasHeader ? `column "${columns[c]}"` : `column ${c} (counting from 0)`;
  const data = hasHeader ? rows.slice(1) : rows;
  for (const row of data) {
    if (row.cells.length !== width) {
      fail(`line ${row.line} has ${row.cells.length} cells, expected ${width}`);
    }
  }
  if (data.length === 0) fail("the file holds a header row but no data rows");

  // The label column.
  const wanted = options.labelColumn ?? -1;
  let label: number;
  if (typeof wanted === "string") {
    if (!hasHeader) {
      fail(`it has no header row, so the label column "${wanted}" cannot be found by name`);
    }
    label = columns.indexOf(wanted);
    if (label < 0) {
      fail(
        `it has no column "${wanted}"; its columns are ` +
          columns.map((c) => `"${c}"`).join(", "),
      );
    }
  } else {
    if (!Number.isSafeInteger(wanted)) {
      throw new RangeError(`Invalid label column "${wanted}": expected an integer or a name`);
    }
    label = wanted < 0 ? width + wanted : wanted;
    if (label < 0 || label >= width) {
      fail(`it has ${width} columns, so label column "${wanted}" does not exist`);
    }
  }
  if (width < 2) fail(`it has ${width} column, so no feature columns besides the label`);

  // Features, as raw numbers.  [N, F]
  const n = data.length;
  const features = width - 1;
  const featureColumns = Array.from({ length: width }, (_, i) => i).filter((i) => i !== label);
  const raw = new Float64Array(n * features);
  for (let r = 0; r < n; r++) {
    const { cells, line } = data[r];
    for (let f = 0; f < features; f++) {
      const c = featureColumns[f];
      const cell = cells[c].trim();
      if (cell === "") fail(`line ${line}, ${columnName(c)} is empty`);
      if (!NUMBER.test(cell)) {
        fail(`line ${line}, ${columnName(c)} holds "${cells[c]}", which is not a number`);
      }
      const value = Number(cell);
      if (!Number.isFinite(value)) {
        fail(`line ${line}, ${columnName(c)} holds "${cells[c]}", which is not a finite number`);
      }
      raw[r * features + f] = value;
    }
  }

  // Labels.
  const labels = data.map((row) => row.cells[label].trim());
  const blank = labels.indexOf("");
  if (blank >= 0) fail(`line ${data[blank].line}, ${columnName(label)} (the label) is empty`);
  const y = new Int32Array(n);
  let classNames: string[];
  const task = options.task ?? "auto";
  const allNumbers = labels.every((l) => NUMBER.test(l));
  const regression = task === "regression" ||
    (task === "auto" && allNumbers && labels.some((l) => !Number.isInteger(Number(l))));
  let values: Float32Array | null = null;
  if (regression) {
    const bad = labels.findIndex((l) => !NUMBER.test(l));
    if (bad >= 0) {
      fail(
        `line ${data[bad].line}, ${columnName(label)} holds "${labels[bad]}", not a number ` +
          `(a regression target must be numbers; pass --task classification for class labels)`,
      );
    }
    values = Float32Array.from(labels, Number);
    const huge = values.findIndex((v) => !Number.isFinite(v));
    if (huge >= 0) {
      fail(
        `line ${data[huge].line}, ${columnName(label)} holds "${labels[huge]}", too large for ` +
          `a target value (beyond float32's ±3.4e38)`,
      );
    }
    classNames = [hasHeader ? columns[label] : "value"];
  } else if (
    labels.every((l) => NUMBER.test(l) && Number.isInteger(Number(l)) && Number(l) >= 0)
  ) {
    let max = 0;
    for (let r = 0; r < n; r++) {
      const v = Number(labels[r]);
      if (options.classes !== undefined && v >= options.classes) {
        fail(
          `line ${data[r].line}, ${columnName(label)} holds "${labels[r]}", a label outside ` +
            `[0, ${options.classes}) for ${options.classes} classes`,
        );
      }
      if (v >= MAX_CLASSES) {
        fail(
          `line ${data[r].line}, ${columnName(label)} holds "${labels[r]}": as a class index ` +
            `it implies more than ${MAX_CLASSES} classes (pass the number of classes, or ` +
            `check the label column)`,
        );
      }
      y[r] = v;
      max = Math.max(max, v);
    }
    classNames = Array.from({ length: options.classes ?? max + 1 }, (_, i) => String(i));
  } else {
    const numeric = labels.every((l) => NUMBER.test(l));
    classNames = [...new Set(labels)].sort(
      numeric ? (a, b) => Number(a) - Number(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0),
    );
    if (options.classes !== undefined && classNames.length > options.classes) {
      fail(
        `${columnName(label)} holds ${classNames.length} distinct labels, more than the ` +
          `${options.classes} classes asked for`,
      );
    }
    const index = new Map(classNames.map((c, i) => [c, i]));
    for (let r = 0; r < n; r++) y[r] = index.get(labels[r])!;
    for (let k = classNames.length; k < (options.classes ?? 0); k++) classNames.push(String(k));
  }
  const classes = classNames.length;

  // Split by a seeded shuffle.
  const nVal = Math.round(n * valFraction);
  const nTest = Math.round(n * testFraction);
  const nTrain = n - nVal - nTest;
  if (nTrain < 1) {
    fail(`it holds ${n} data rows, too few to split into train, validation and test`);
  }
  const order = new Rng(options.seed ?? 0).permutation(n);

  // A regression target is standardised by the training rows' mean and deviation.
  const targetScaling = values
    ? targetScale(Array.from(order.subarray(0, nTrain), (r) => values![r]))
    : undefined;

  // Min-max ranges over the training rows only.
  const min = new Array<number>(features).fill(Infinity);
  const max = new Array<number>(features).fill(-Infinity);
  for (let i = 0; i < nTrain; i++) {
    const base = order[i] * features;
    for (let f = 0; f < features; f++) {
      const v = raw[base + f];
      if (v < min[f]) min[f] = v;
      if (v > max[f]) max[f] = v;
    }
  }
  const source = options.source ?? `csv:${name}`;
  const featureNames = featureColumns.map((c) => columns[c]);
  const take = (start: number, end: number): Dataset => {
    const m = end - start;
    const x = new Float32Array(m * features);
    const ys = new Int32Array(m);
    const sourceRows = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      const r = order[start + i];
      ys[i] = y[r];
      sourceRows[i] = r;
      for (let f = 0; f < features; f++) {
        const span = max[f] - min[f];
        x[i * features + f] = span > 0 ? (raw[r * features + f] - min[f]) / span : 0;
      }
    }
    return {
      x,
      y: ys,
      n: m,
      features,
      classes,
      imageShape: null,
      featureNames: [...featureNames],
      source,
      classNames: [...classNames],
      scaling: { min: [...min], max: [...max] },
      sourceRows,
      ...(values
        ? { values: Float32Array.from(sourceRows, (r) => values![r]), targetScaling }
        : {}),
    };
  };
  return {
    train: take(0, nTrain),
    val: take(nTrain, nTrain + nVal),
    test: take(nTrain + nVal, n),
    rows: {
      train: order.slice(0, nTrain),
      val: order.slice(nTrain, nTrain + nVal),
      test: order.slice(nTrain + nVal, n),
    },
  };
}

/** A decimal number: `12`, `-3.5`, `.5`, `1e-3`. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** One CSV row. */
export interface Row {
  cells: string[];
  /** 1-based line where the row starts. */
  line: number;
}

/** Splits CSV text into rows of cells (RFC 4180 quoting), skipping blank lines. */
export function parseCsv(text: string, delimiter: string, fail: (problem: string) => never): Row[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: Row[] = [];
  let cells: string[] = [];
  let cell = "";
  let line = 1;
  let start = 1;
  let quoted = false; // the current cell was quoted
  let i = 0;
  const endRow = () => {
    cells.push(cell);
    if (cells.length > 1 || cells[0].trim() !== "" || quoted) rows.push({ cells, line: start });
    cells = [];
    cell = "";
    quoted = false;
  };
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"' && cell.trim() === "" && !quoted) {
      // A quoted cell: read to the closing quote.
      const open = line;
      cell = "";
      quoted = true;
      i++;
      for (;;) {
        if (i >= text.length) fail(`the quote opened on line ${open} is never closed`);
        const c = text[i];
        if (c === '"') {
          if (text[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === "\n") line++;
        cell += c;
        i++;
      }
    } else if (text.startsWith(delimiter, i)) {
      cells.push(cell);
      cell = "";
      quoted = false;
      i += delimiter.length;
    } else if (ch === "\n" || ch === "\r") {
      endRow();
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
      start = line;
    } else {
      cell += ch;
      i++;
    }
  }
  if (cell !== "" || cells.length > 0 || quoted) endRow();
  return rows;
}

/** Whether the first row names columns rather than holding data. */
function looksLikeHeader(rows: Row[]): boolean {
  const [first, second] = rows;
  return first.cells.some((cell, c) =>
    !NUMBER.test(cell.trim()) &&
    (second === undefined || NUMBER.test((second.cells[c] ?? "").trim()))
  );
}

function fraction(value: number, what: string): number {
  if (!(value >= 0 && value < 1)) {
    throw new RangeError(`Invalid ${what} "${value}": expected a number in [0, 1)`);
  }
  return value;
}
