/**
 * Turns a pair of IDX arrays (images, labels) into a {@linkcode Dataset}.
 *
 * @module
 */
import { DatasetError } from "../errors.ts";
import { bytesToUnit, digitNames, MAX_CLASSES } from "./_common.ts";
import type { IdxArray } from "./idx.ts";
import type { Dataset } from "./types.ts";

/** One IDX array with the name of the file it came from. */
export interface NamedIdx {
  name: string;
  idx: IdxArray;
}

/** The per-sample shape of IDX images: `[H, W, C]`, or `null` for flat `[N, F]` features. */
export function sampleShape(images: NamedIdx): [number, number, number] | null {
  const { shape } = images.idx;
  if (shape.length === 2) return null;
  if (shape.length === 3) return [shape[1], shape[2], 1];
  if (shape.length === 4) return [shape[1], shape[2], shape[3]];
  throw new DatasetError(
    `Cannot read IDX file "${images.name}": it holds a ${shape.length}-dimensional array ` +
      `[${shape.join(", ")}], expected images [N, H, W] or [N, H, W, C] (or features [N, F])`,
  );
}

/**
 * Checks a labels file: one dimension, an integer type, as many items as the images, every
 * label in `[0, classes)` (or below `MAX_CLASSES` when the count is not declared).
 * @returns The largest label, or -1 when there are none.
 */
export function checkLabels(labels: NamedIdx, images: NamedIdx, classes?: number): number {
  const { type, shape, data } = labels.idx;
  if (shape.length !== 1) {
    throw new DatasetError(
      `Cannot read IDX file "${labels.name}": labels have shape [${shape.join(", ")}], ` +
        `expected one dimension [N]`,
    );
  }
  if (type === "float32" || type === "float64") {
    throw new DatasetError(
      `Cannot read IDX file "${labels.name}": labels have type "${type}", expected an ` +
        `integer type`,
    );
  }
  if (shape[0] !== images.idx.shape[0]) {
    throw new DatasetError(
      `Cannot read IDX file "${labels.name}": it holds ${shape[0]} labels but ` +
        `"${images.name}" holds ${images.idx.shape[0]} images`,
    );
  }
  let max = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < 0) {
      throw new DatasetError(
        `Cannot read IDX file "${labels.name}": label "${v}" of item ${i} is negative`,
      );
    }
    if (classes !== undefined && v >= classes) {
      throw new DatasetError(
        `Cannot read IDX file "${labels.name}": label "${v}" of item ${i} is outside ` +
          `[0, ${classes}) for ${classes} classes`,
      );
    }
    if (v >= MAX_CLASSES) {
      throw new DatasetError(
        `Cannot read IDX file "${labels.name}": label "${v}" of item ${i} implies more than ` +
          `${MAX_CLASSES} classes (declare the number of classes, or check the file)`,
      );
    }
    if (v > max) max = v;
  }
  return max;
}

/**
 * Builds a data set from checked images and labels (see {@linkcode checkLabels}).
 * `uint8` pixels are scaled to [0, 1]; float pixels are kept as they are.
 */
export function idxToDataset(
  images: NamedIdx,
  labels: NamedIdx,
  options: { classes: number; transpose: boolean; source: string },
): Dataset {
  const { classes, transpose, source } = options;
  let imageShape = sampleShape(images);
  const n = images.idx.shape[0];
  const features = images.idx.shape.slice(1).reduce((a, b) => a * b, 1);
  const { type, data } = images.idx;

  const ys = labels.idx.data;
  for (let i = 0; i < ys.length; i++) {
    if (ys[i] >= classes) {
      throw new DatasetError(
        `Cannot read IDX file "${labels.name}": label "${ys[i]}" of item ${i} is outside ` +
          `[0, ${classes}) for ${classes} classes`,
      );
    }
  }
  const y = Int32Array.from(ys);

  let x: Float32Array;
  if (type === "uint8") x = bytesToUnit(data as Uint8Array);
  else if (type === "float32") x = data as Float32Array;
  else if (type === "float64") x = Float32Array.from(data);
  else {
    throw new DatasetError(
      `Cannot read IDX file "${images.name}": images have type "${type}", expected ` +
        `"uint8", "float32" or "float64"`,
    );
  }
  if (transpose && imageShape !== null) {
    x = transposeImages(x, n, imageShape);
    imageShape = [imageShape[1], imageShape[0], imageShape[2]];
  }
  return {
    x,
    y,
    n,
    features,
    classes,
    imageShape,
    featureNames: null,
    source,
    classNames: digitNames(classes),
  };
}

/** Swaps rows and columns of every image: `[N, H, W, C]` -> `[N, W, H, C]`. */
function transposeImages(
  x: Float32Array,
  n: number,
  [h, w, c]: [number, number, number],
): Float32Array {
  const out = new Float32Array(x.length);
  const size = h * w * c;
  for (let s = 0; s < n; s++) {
    const base = s * size;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const from = base + (i * w + j) * c;
        const to = base + (j * h + i) * c;
        for (let k = 0; k < c; k++) out[to + k] = x[from + k];
      }
    }
  }
  return out;
}
