/**
 * What the array loaders (`.npz`, `.npy`) and the image-folder loader share: samples and
 * labels from arrays, carving validation and test rows with a seed, scaling, and making one
 * data set fit another's shape, features and classes. Private to `lib/data/`.
 *
 * Shapes: `N` samples, `F` features, `K` classes.
 *
 * @module
 */
import { DatasetError } from "../errors.ts";
import { Rng } from "../util/random.ts";
import { resize, toChannels } from "../image/pixels.js";
import { checkCount, MAX_CLASSES, shapeText } from "./_common.ts";
import { targetScale } from "../tree/regression.ts";
import type { NpyArray } from "./npy.ts";
import type { Dataset, DataTask, Splits } from "./types.ts";

/** Throws a `DatasetError` naming the source. */
export type Fail = (problem: string, cause?: unknown) => never;

/** Samples before scaling, rows of `F` values (images channels-last). */
export interface RawSamples {
  /** `[N, F]`. */
  values: ArrayLike<number>;
  n: number;
  features: number;
  /** `[height, width, channels]` for images, else `null` (tabular). */
  imageShape: [number, number, number] | null;
  /** The values are pixels already in [0, 1] (decoded images): no scaling. */
  unit?: boolean;
  /** The array held integers. */
  integer?: boolean;
}

/** Samples with their labels. */
export interface Part {
  x: RawSamples;
  /** `[N]` class indices, or `-1` (no label). */
  y: Int32Array;
  /** `[N]` regression targets (then `y` is all 0). */
  values?: Float32Array;
}

/** The splits a source comes in, before carving and scaling. */
export interface SourceParts {
  train: Part;
  val?: Part;
  test?: Part;
  classNames: string[];
  featureNames: string[] | null;
  source: string;
}

/** How rows are carved and classes counted (see `loadData`'s options). */
export interface CarveOptions {
  valSize?: number;
  valFraction?: number;
  testFraction?: number;
  seed?: number;
  classes?: number;
  /** Carve a test split when the source has none. @default true */
  carveTest?: boolean;
  /** Whether the labels are classes or a regression target (see `DataTask`). @default "auto" */
  task?: DataTask;
}

export { shapeText } from "./_common.ts";

/** Samples from an array `(N, F)` (tabular) or `(N, H, W[, C])` / `(N, C, H, W)` (images). */
export function samplesFromArray(array: NpyArray, what: string, fail: Fail): RawSamples {
  if (array.dtype === "string") fail(`${what} holds strings, expected numbers`);
  const { shape } = array;
  const data = array.data as Exclude<NpyArray["data"], string[]>;
  const n = shape[0];
  const integer = !(array.dtype === "float32" || array.dtype === "float64");
  if (!integer) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        fail(`${what} holds ${data[i]} at element ${i}; every value must be a finite number`);
      }
    }
  }
  if (shape.length === 2) {
    return { values: data, n, features: shape[1], imageShape: null, integer };
  }
  if (shape.length === 3) {
    return {
      values: data,
      n,
      features: shape[1] * shape[2],
      imageShape: [shape[1], shape[2], 1],
      integer,
    };
  }
  if (shape.length === 4) {
    const [, a, b, c] = shape;
    if (c === 1 || c === 3) {
      return { values: data, n, features: a * b * c, imageShape: [a, b, c], integer };
    }
    if (a === 1 || a === 3) {
      // Channels first (PyTorch's layout): to channels last.
      const [h, w] = [b, c];
      const out = new Float32Array(n * a * h * w);
      for (let i = 0; i < n; i++) {
        const base = i * a * h * w;
        for (let ch = 0; ch < a; ch++) {
          for (let p = 0; p < h * w; p++) out[base + p * a + ch] = data[base + ch * h * w + p];
        }
      }
      return { values: out, n, features: a * h * w, imageShape: [h, w, a], integer };
    }
    fail(
      `${what} has shape ${shapeText(shape)}: images need 1 or 3 channels, last ` +
        `(N, H, W, C) or first (N, C, H, W)`,
    );
  }
  return fail(
    `${what} has shape ${shapeText(shape)}: expected rows of features (N, F) or images ` +
      `(N, H, W) or (N, H, W, C)`,
  );
}

/** Labels from an array `(N,)`, `(N, 1)` or one-hot `(N, K)`; strings become class names. */
export function labelsFromArray(
  array: NpyArray,
  what: string,
  n: number,
  samples: string,
  fail: Fail,
  task: DataTask = "auto",
): { y: Int32Array; names: string[] | null; values?: Float32Array } {
  const { shape } = array;
  if (shape.length === 0 || shape[0] !== n) {
    fail(
      `${what} has shape ${shapeText(shape)}: ${shape.length ? shape[0] : 0} labels for the ` +
        `${n} samples of ${samples}`,
    );
  }
  const y = new Int32Array(n);
  // A regression target: numbers, one per sample ("auto": some of them not whole).
  const column = array.dtype !== "string" && shape.length <= 2 &&
    (shape.length === 1 || shape[1] === 1);
  const numbers = array.data as ArrayLike<number>;
  const notWhole = () => {
    for (let i = 0; i < numbers.length; i++) if (!Number.isInteger(numbers[i])) return true;
    return false;
  };
  if (task === "regression" || (task === "auto" && column && notWhole())) {
    if (!column) {
      fail(`${what} has shape ${shapeText(shape)}: a regression target is (${n},) numbers`);
    }
    const values = Float32Array.from(numbers);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) fail(`${what} holds ${numbers[bad]} at row ${bad}, not a finite target value`);
    return { y, names: null, values };
  }
  if (array.dtype === "string") {
    if (shape.length !== 1) fail(`${what} has shape ${shapeText(shape)}, expected (${n},)`);
    const numeric = array.data.every((s) => NUMBER.test(s));
    const names = [...new Set(array.data)].sort(
      numeric ? (a, b) => Number(a) - Number(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0),
    );
    const index = new Map(names.map((c, i) => [c, i]));
    for (let i = 0; i < n; i++) y[i] = index.get(array.data[i])!;
    return { y, names };
  }
  const data = array.data;
  const width = shape.length === 1 ? 1 : shape.length === 2 ? shape[1] : -1;
  if (width < 1) {
    fail(`${what} has shape ${shapeText(shape)}, expected (${n},) or (${n}, 1) class labels`);
  }
  if (width === 1) {
    for (let i = 0; i < n; i++) {
      const v = data[i];
      if (!Number.isInteger(v) || v < 0 || v >= MAX_CLASSES) {
        fail(
          `${what} holds ${v} at row ${i}; labels must be integers from 0 to ${
            MAX_CLASSES - 1
          } (for a regression target, pass --task regression)`,
        );
      }
      y[i] = v;
    }
    return { y, names: null };
  }
  // One-hot rows.
  for (let i = 0; i < n; i++) {
    let hot = -1;
    for (let k = 0; k < width; k++) {
      const v = data[i * width + k];
      if (v === 1 && hot < 0) hot = k;
      else if (v !== 0) hot = -2;
    }
    if (hot < 0) {
      fail(
        `${what} has shape ${shapeText(shape)} but row ${i} is not one-hot (one 1, the rest ` +
          `0); give class indices (N,) instead`,
      );
    }
    y[i] = hot;
  }
  return { y, names: null };
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The rows of each split: `test` and `val` drawn by a seeded shuffle, each sorted. */
export function carveRows(
  n: number,
  nVal: number,
  nTest: number,
  seed: number,
): { train: Int32Array; val: Int32Array; test: Int32Array } {
  const order = new Rng(seed).permutation(n);
  return {
    test: order.slice(0, nTest).sort(),
    val: order.slice(nTest, nTest + nVal).sort(),
    train: order.slice(nTest + nVal).sort(),
  };
}

/**
 * Splits a source's parts into train / validation / test: a split the source lacks is carved
 * from its training rows by a seeded shuffle (validation: `valSize`, else 1/6 of them when
 * the source has its own test split, as for MNIST, else `valFraction`; test: `testFraction`,
 * unless `carveTest` is false); images are scaled to [0, 1], tabular features min-max scaled
 * by the training rows' ranges.
 */
export function assembleSplits(parts: SourceParts, options: CarveOptions, fail: Fail): Splits {
  const train = parts.train;
  const n = train.x.n;
  if (n === 0) fail("it holds no training samples");
  if (options.valSize !== undefined) checkCount(options.valSize, "validation size");
  const valFraction = fraction(options.valFraction ?? 0.15, "valFraction");
  const testFraction = fraction(options.testFraction ?? 0.15, "testFraction");
  const carveTest = !parts.test && (options.carveTest ?? true);
  const nTest = carveTest ? Math.round(n * testFraction) : 0;
  const nVal = parts.val ? 0 : options.valSize ?? Math.round(parts.test ? n / 6 : n * valFraction);
  if (nVal + nTest >= n) {
    const what = options.valSize !== undefined && !parts.val
      ? `validation size "${options.valSize}"`
      : "the split fractions";
    throw new RangeError(
      `Invalid ${what}: ${parts.source} holds ${n} training samples, and ${nVal} for ` +
        `validation and ${nTest} for test leave none to train on`,
    );
  }
  const rows = carveRows(n, nVal, nTest, options.seed ?? 0);

  // A regression target: one "class" named after it, the training rows' scaling.
  const regression = train.values !== undefined;
  for (const [split, part] of [["validation", parts.val], ["test", parts.test]] as const) {
    if (part && (part.values !== undefined) !== regression) {
      fail(`its ${split} labels are ${regression ? "classes" : "values"}, its training labels not`);
    }
  }
  const targetScaling = regression
    ? targetScale(Array.from(rows.train, (r) => train.values![r]))
    : undefined;

  // Classes.
  const names = regression ? ["value"] : [...parts.classNames];
  let largest = -1;
  for (const part of [train, parts.val, parts.test]) {
    if (part) { for (const v of part.y) largest = Math.max(largest, v); }
  }
  if (options.classes !== undefined) {
    if (
      !Number.isSafeInteger(options.classes) || options.classes < 1 || options.classes > MAX_CLASSES
    ) {
      throw new RangeError(
        `Invalid number of classes "${options.classes}": expected 1 to ${MAX_CLASSES}`,
      );
    }
    if (largest >= options.classes) {
      fail(
        `it holds label ${largest}, outside [0, ${options.classes}) for ${options.classes} classes`,
      );
    }
  }
  const classes = regression ? 1 : options.classes ?? Math.max(names.length, largest + 1);
  for (let k = names.length; k < classes; k++) names.push(String(k));

  // Scaling.
  let pixelScale = 1;
  let scaling: { min: number[]; max: number[] } | undefined;
  const F = train.x.features;
  if (train.x.imageShape) {
    if (!train.x.unit) pixelScale = pixelDivisor([train, parts.val, parts.test], fail);
  } else {
    const min = new Array<number>(F).fill(Infinity);
    const max = new Array<number>(F).fill(-Infinity);
    const v = train.x.values;
    for (const r of rows.train) {
      for (let f = 0; f < F; f++) {
        const value = v[r * F + f];
        if (value < min[f]) min[f] = value;
        if (value > max[f]) max[f] = value;
      }
    }
    scaling = { min, max };
  }
  // Gray images: light on dark (as MNIST) when the training images' border is dark.
  const shape = train.x.imageShape;
  const lightOnDark = shape && shape[2] === 1
    ? borderLevel(train.x.values, shape, rows.train, pixelScale) < 0.5
    : undefined;
  const featureNames = train.x.imageShape
    ? null
    : parts.featureNames ?? Array.from({ length: F }, (_, i) => `x${i}`);
  const make = (part: Part, pick: Int32Array | null): Dataset => {
    const m = pick ? pick.length : part.x.n;
    const x = new Float32Array(m * F);
    const y = new Int32Array(m);
    const v = part.x.values;
    for (let i = 0; i < m; i++) {
      const r = pick ? pick[i] : i;
      y[i] = part.y[r];
      const base = r * F;
      if (scaling) {
        for (let f = 0; f < F; f++) {
          const span = scaling.max[f] - scaling.min[f];
          x[i * F + f] = span > 0 ? (v[base + f] - scaling.min[f]) / span : 0;
        }
      } else if (pixelScale === 1) {
        for (let f = 0; f < F; f++) x[i * F + f] = v[base + f];
      } else {
        for (let f = 0; f < F; f++) x[i * F + f] = v[base + f] / pixelScale;
      }
    }
    return {
      x,
      y,
      n: m,
      features: F,
      classes,
      imageShape: train.x.imageShape ? [...train.x.imageShape] : null,
      featureNames: featureNames ? [...featureNames] : null,
      source: parts.source,
      classNames: [...names],
      ...(scaling ? { scaling: { min: [...scaling.min], max: [...scaling.max] } } : {}),
      ...(lightOnDark !== undefined ? { lightOnDark } : {}),
      ...(part.values
        ? {
          values: Float32Array.from({ length: m }, (_, i) => part.values![pick ? pick[i] : i]),
          targetScaling,
        }
        : {}),
    };
  };
  const empty: Part = {
    x: { ...train.x, values: [], n: 0 },
    y: new Int32Array(0),
    ...(regression ? { values: new Float32Array(0) } : {}),
  };
  // Positions in the source's order: train part, then val part, then test part.
  const nOwnVal = parts.val?.x.n ?? 0;
  const range = (start: number, count: number) =>
    Int32Array.from({ length: count }, (_, i) => start + i);
  return {
    train: make(train, rows.train),
    val: parts.val ? make(parts.val, null) : make(train, rows.val),
    test: parts.test
      ? make(parts.test, null)
      : carveTest
      ? make(train, rows.test)
      : make(empty, null),
    rows: {
      train: rows.train,
      val: parts.val ? range(n, nOwnVal) : rows.val,
      test: parts.test
        ? range(n + nOwnVal, parts.test.x.n)
        : carveTest
        ? rows.test
        : new Int32Array(0),
    },
  };
}

/** The mean of the outermost ring of pixels of gray images `rows` (at most 1,000), in [0, 1]. */
function borderLevel(
  values: ArrayLike<number>,
  [h, w]: [number, number, number],
  rows: Int32Array,
  pixelScale: number,
): number {
  let sum = 0;
  let count = 0;
  for (const r of rows.subarray(0, 1000)) {
    const base = r * h * w;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (y === 0 || y === h - 1 || x === 0 || x === w - 1) {
          sum += values[base + y * w + x];
          count++;
        }
      }
    }
  }
  return count ? sum / count / pixelScale : 0;
}

/** 1 for pixels in [0, 1], 255 for pixels in [0, 255]; anything else is refused. */
function pixelDivisor(parts: (Part | undefined)[], fail: Fail): number {
  let min = Infinity;
  let max = -Infinity;
  let integer = true;
  for (const part of parts) {
    if (!part) continue;
    integer &&= Boolean(part.x.integer);
    const v = part.x.values;
    for (let i = 0; i < v.length; i++) {
      if (v[i] < min) min = v[i];
      if (v[i] > max) max = v[i];
    }
  }
  if (min >= 0 && max <= 1 && !integer) return 1;
  if (min >= 0 && max <= 255) return 255;
  return fail(
    `its images hold values from ${min} to ${max}; expected pixels in [0, 1] (floats) or ` +
      `[0, 255] (give other features as rows (N, F) to have them min-max scaled)`,
  );
}

function fraction(value: number, what: string): number {
  if (!(value >= 0 && value < 1)) {
    throw new RangeError(`Invalid ${what} "${value}": expected a number in [0, 1)`);
  }
  return value;
}

/** `"28x28x1 images"` or `"30 features"`. */
export function describeShape(ds: Pick<Dataset, "imageShape" | "features">): string {
  if (!ds.imageShape) return `${ds.features} features`;
  const [h, w, c] = ds.imageShape;
  return `${w}x${h} images with ${c} channel${c === 1 ? "" : "s"}`;
}

/** Options of {@linkcode conformTo}. */
export interface ConformOptions {
  /** Resize images (and convert channels) to `like`'s; otherwise a different shape fails. */
  resize?: boolean;
  /** Keep labels, mapped to `like`'s classes by name; otherwise every label becomes `-1`. */
  labels?: boolean;
}

/**
 * `ds` in the shape of `like`: the same image size and channels (or an error), the same
 * feature columns (by name when both have names, else by position) scaled by `like`'s ranges,
 * and labels numbered by `like`'s class names.
 *
 * @throws {DatasetError} When `ds` cannot take `like`'s shape; the message names both.
 */
export function conformTo(
  ds: Dataset,
  like: Dataset,
  what: string,
  options: ConformOptions = {},
): Dataset {
  const fail = (problem: string): never => {
    throw new DatasetError(
      `${what} does not fit the training data (${like.source}): ${problem}`,
    );
  };
  const shapes = () => `it has ${describeShape(ds)}, the training data has ${describeShape(like)}`;
  let x = ds.x;
  if (like.imageShape) {
    if (!ds.imageShape) fail(shapes());
    const [h, w, c] = like.imageShape;
    const [dh, dw, dc] = ds.imageShape!;
    if (h !== dh || w !== dw || c !== dc) {
      if (!options.resize) fail(shapes());
      x = new Float32Array(ds.n * like.features);
      for (let i = 0; i < ds.n; i++) {
        const raster = {
          width: dw,
          height: dh,
          channels: dc,
          data: ds.x.subarray(i * ds.features, (i + 1) * ds.features),
          maxValue: 1,
        };
        let plane = toChannels(raster, c).image;
        if (dh !== h || dw !== w) plane = resize(plane, { width: w, height: h });
        x.set(plane.values, i * like.features);
      }
    }
  } else {
    if (ds.imageShape && like.features !== ds.features) fail(shapes());
    const F = like.features;
    // Which of ds's columns feeds each of like's features.
    let columns: number[];
    const named = ds.featureNames && like.featureNames &&
      like.featureNames.every((f) => ds.featureNames!.includes(f));
    if (named) columns = like.featureNames!.map((f) => ds.featureNames!.indexOf(f));
    else if (ds.features === F) columns = Array.from({ length: F }, (_, i) => i);
    else {
      return fail(
        shapes() +
          (like.featureNames ? ` (${like.featureNames.map((f) => `"${f}"`).join(", ")})` : ""),
      );
    }
    x = new Float32Array(ds.n * F);
    const from = ds.scaling;
    const to = like.scaling;
    for (let i = 0; i < ds.n; i++) {
      for (let f = 0; f < F; f++) {
        const c = columns[f];
        let v = ds.x[i * ds.features + c];
        if (from) {
          const span = from.max[c] - from.min[c];
          v = span > 0 ? from.min[c] + v * span : from.min[c];
        }
        if (to) {
          const span = to.max[f] - to.min[f];
          v = span > 0 ? (v - to.min[f]) / span : 0;
        }
        x[i * F + f] = v;
      }
    }
  }
  const y = new Int32Array(ds.n).fill(-1);
  if (options.labels && like.values) {
    // A regression target: the values as they are (the training split's scaling applies).
    if (!ds.values) fail(`it has class labels, the training data a regression target`);
    y.fill(0);
  } else if (options.labels) {
    if (ds.values) fail(`it has a regression target, the training data class labels`);
    const names = like.classNames ?? Array.from({ length: like.classes }, (_, i) => String(i));
    const index = new Map(names.map((name, k) => [name, k]));
    const own = ds.classNames ?? Array.from({ length: ds.classes }, (_, i) => String(i));
    const map = own.map((name) => index.get(name) ?? -1);
    const used = new Set(ds.y);
    const unknown = own.filter((_, k) => map[k] < 0 && used.has(k));
    if (unknown.length) {
      fail(
        `it has the class${unknown.length > 1 ? "es" : ""} ${
          unknown.map((s) => `"${s}"`).join(", ")
        }, which the training data lacks (its classes: ${names.map((s) => `"${s}"`).join(", ")})`,
      );
    }
    for (let i = 0; i < ds.n; i++) y[i] = map[ds.y[i]];
  }
  return {
    x,
    y,
    n: ds.n,
    features: like.features,
    classes: like.classes,
    imageShape: like.imageShape ? [...like.imageShape] : null,
    featureNames: like.featureNames ? [...like.featureNames] : null,
    source: ds.source,
    ...(like.classNames ? { classNames: [...like.classNames] } : {}),
    ...(like.scaling
      ? { scaling: { min: [...like.scaling.min], max: [...like.scaling.max] } }
      : {}),
    ...(like.lightOnDark !== undefined ? { lightOnDark: like.lightOnDark } : {}),
    ...(options.labels && like.values && ds.values
      ? { values: ds.values, targetScaling: like.targetScaling }
      : {}),
  };
}
