/**
 * Seeded affine augmentation of image data sets: each copy of an image is rotated, scaled
 * and shifted by small random amounts (bilinear resampling, zero outside the image). Used by
 * `distill` to let the teacher label more data than the training split holds.
 *
 * @module
 */
import { Rng } from "../util/random.ts";
import type { Dataset } from "./types.ts";

/** How much to move images. */
export interface AugmentOptions {
  /** Copies of every image. @default 1 */
  copies?: number;
  /** Largest shift in pixels, each axis. @default 2 */
  maxShift?: number;
  /** Largest rotation in degrees. @default 10 */
  maxRotate?: number;
  /** Largest relative change of scale. @default 0.1 */
  maxScale?: number;
  /** @default 0 */
  seed?: number;
}

/**
 * `copies` randomly moved copies of every image of `ds` (labels kept), in one data set of
 * `copies * N` rows: copy `c` of image `i` is row `c * N + i`.
 *
 * @throws {TypeError} when `ds` is not image data.
 * @example
 * ```ts
 * const more = augmentImages(splits.train, { copies: 2, seed: 1 });
 * more.n === 2 * splits.train.n;
 * ```
 */
export function augmentImages(ds: Dataset, options: AugmentOptions = {}): Dataset {
  if (!ds.imageShape) {
    throw new TypeError(`Cannot augment "${ds.source}": it is not image data`);
  }
  const copies = options.copies ?? 1;
  if (!Number.isInteger(copies) || copies < 1) {
    throw new RangeError(`Augmented copies must be a whole number of at least 1, got ${copies}`);
  }
  const [h, w, c] = ds.imageShape;
  const maxShift = options.maxShift ?? 2;
  const maxRot = ((options.maxRotate ?? 10) * Math.PI) / 180;
  const maxScale = options.maxScale ?? 0.1;
  const rng = new Rng(options.seed ?? 0);
  const f = ds.features;
  const x = new Float32Array(copies * ds.n * f);
  const y = new Int32Array(copies * ds.n);
  const cy = (h - 1) / 2, cx = (w - 1) / 2;
  for (let k = 0; k < copies; k++) {
    for (let i = 0; i < ds.n; i++) {
      const row = k * ds.n + i;
      y[row] = ds.y[i];
      const theta = (2 * rng.next() - 1) * maxRot;
      const s = 1 + (2 * rng.next() - 1) * maxScale;
      const dx = (2 * rng.next() - 1) * maxShift;
      const dy = (2 * rng.next() - 1) * maxShift;
      // Inverse map: output pixel (u, v) samples the source at R(-theta) (p - c - d) / s + c.
      const cos = Math.cos(theta) / s, sin = Math.sin(theta) / s;
      const src = i * f, dst = row * f;
      for (let v = 0; v < h; v++) {
        for (let u = 0; u < w; u++) {
          const px = u - cx - dx, py = v - cy - dy;
          const sx = cos * px + sin * py + cx;
          const sy = -sin * px + cos * py + cy;
          const x0 = Math.floor(sx), y0 = Math.floor(sy);
          const fx = sx - x0, fy = sy - y0;
          const in0 = y0 >= 0 && y0 < h, in1 = y0 + 1 >= 0 && y0 + 1 < h;
          const ix0 = x0 >= 0 && x0 < w, ix1 = x0 + 1 >= 0 && x0 + 1 < w;
          const w00 = in0 && ix0 ? (1 - fy) * (1 - fx) : 0, w01 = in0 && ix1 ? (1 - fy) * fx : 0;
          const w10 = in1 && ix0 ? fy * (1 - fx) : 0, w11 = in1 && ix1 ? fy * fx : 0;
          const base = src + (y0 * w + x0) * c;
          for (let ch = 0; ch < c; ch++) {
            let acc = 0;
            if (w00) acc += w00 * ds.x[base + ch];
            if (w01) acc += w01 * ds.x[base + c + ch];
            if (w10) acc += w10 * ds.x[base + w * c + ch];
            if (w11) acc += w11 * ds.x[base + (w + 1) * c + ch];
            x[dst + (v * w + u) * c + ch] = acc;
          }
        }
      }
    }
  }
  return { ...ds, x, y, n: copies * ds.n, source: `${ds.source} (augmented x${copies})` };
}

/** Rows of `a` then rows of `b` (same features and classes) in one data set. */
export function concatDatasets(a: Dataset, b: Dataset): Dataset {
  if (a.features !== b.features) {
    throw new RangeError(`Cannot join data with ${a.features} and ${b.features} features`);
  }
  const x = new Float32Array((a.n + b.n) * a.features);
  x.set(a.x);
  x.set(b.x, a.n * a.features);
  const y = new Int32Array(a.n + b.n);
  y.set(a.y);
  y.set(b.y, a.n);
  return { ...a, x, y, n: a.n + b.n };
}
