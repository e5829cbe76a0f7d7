/**
 * Seeded augmentation of image data sets: each copy of an image is rotated, scaled and
 * shifted by small random amounts and, optionally, elastically distorted (Simard, Steinkraus
 * & Platt 2003: a random displacement field smoothed by a Gaussian), with bilinear
 * resampling and zero outside the image. Used by `distill` to let the teacher label many more
 * images than the training split holds.
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
  /**
   * Strength of the elastic distortion: the largest displacement in pixels before smoothing
   * (Simard et al. use 34 for MNIST with sigma 4); 0 turns it off.
   * @default 0
   */
  elastic?: number;
  /** Standard deviation in pixels of the Gaussian that smooths the displacement field. @default 4 */
  elasticSigma?: number;
  /**
   * Move every copy so that its centre of mass is the original image's, as MNIST's own
   * preprocessing centres digits by mass: copies then vary in shape, not in position.
   * @default false
   */
  recenter?: boolean;
  /** Told how many copies are done, every 1,000 images and at the end. */
  onProgress?: (done: number, total: number) => void;
  /** Seed of the random moves. @default 0 */
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
  const maxShift = options.maxShift ?? 2;
  const maxRot = ((options.maxRotate ?? 10) * Math.PI) / 180;
  const maxScale = options.maxScale ?? 0.1;
  const rng = new Rng(options.seed ?? 0);
  const f = ds.features;
  const x = new Float32Array(copies * ds.n * f);
  const y = new Int32Array(copies * ds.n);
  const alpha = options.elastic ?? 0;
  const sigma = options.elasticSigma ?? 4;
  if (!(alpha >= 0 && Number.isFinite(alpha))) {
    throw new RangeError(`The elastic strength must be zero or more, got ${alpha}`);
  }
  if (!(sigma > 0 && Number.isFinite(sigma))) {
    throw new RangeError(`The elastic sigma must be a positive number of pixels, got ${sigma}`);
  }
  const [h, w] = ds.imageShape;
  const field = alpha > 0 ? new ElasticField(h, w, sigma) : null;
  const recenter = options.recenter ?? false;
  for (let k = 0; k < copies; k++) {
    for (let i = 0; i < ds.n; i++) {
      const row = k * ds.n + i;
      y[row] = ds.y[i];
      const theta = (2 * rng.next() - 1) * maxRot;
      const s = 1 + (2 * rng.next() - 1) * maxScale;
      const dx = (2 * rng.next() - 1) * maxShift;
      const dy = (2 * rng.next() - 1) * maxShift;
      field?.draw(rng, alpha);
      const warp: Warp = {
        cos: Math.cos(theta) / s,
        sin: Math.sin(theta) / s,
        dx,
        dy,
        field,
        rx: 0,
        ry: 0,
      };
      const dst = row * f;
      warpImage(ds.x, i * f, x, dst, ds.imageShape, warp);
      if (recenter) {
        // Move the result so that its centre of mass is the original's (MNIST centres its
        // digits by mass): the same warp again, translated by the difference (its field
        // moving with it), so the copy is resampled once from the original, without blur.
        // Ink that crosses the border makes one correction fall short; a second one fixes it.
        const [ox, oy] = centreOfMass(ds.x, i * f, ds.imageShape);
        for (let pass = 0; pass < 2 && Number.isFinite(ox); pass++) {
          const [nx, ny] = centreOfMass(x, dst, ds.imageShape);
          if (!Number.isFinite(nx) || Math.hypot(ox - nx, oy - ny) < 0.02) break;
          warp.rx += ox - nx;
          warp.ry += oy - ny;
          warpImage(ds.x, i * f, x, dst, ds.imageShape, warp);
        }
      }
      if ((row + 1) % 1000 === 0 || row + 1 === copies * ds.n) {
        options.onProgress?.(row + 1, copies * ds.n);
      }
    }
  }
  // Copy r is of row r % N, so it keeps that row's place in the source.
  const sourceRows = ds.sourceRows
    ? Int32Array.from({ length: copies * ds.n }, (_, r) => ds.sourceRows![r % ds.n])
    : undefined;
  return {
    ...ds,
    x,
    y,
    n: copies * ds.n,
    source: `${ds.source} (augmented x${copies})`,
    sourceRows,
  };
}

/**
 * One resampling: rotation and scale (`cos`, `sin` already divided by the scale), shift, the
 * elastic field, and a translation `(rx, ry)` of the whole result (field included).
 */
interface Warp {
  cos: number;
  sin: number;
  dx: number;
  dy: number;
  field: ElasticField | null;
  rx: number;
  ry: number;
}

/**
 * `out[dst ..]` = the image at `x[src ..]` warped: output pixel `p` samples the source at
 * `R(-theta) (q - c - d) / s + c + e(q)` with `q = p - r` (bilinear, zero outside the
 * image), `c` the image's centre, `d` the shift, `e` the elastic displacement (bilinear
 * between its pixels, constant beyond its edge) and `r` the result's translation.
 */
function warpImage(
  x: Float32Array,
  src: number,
  out: Float32Array,
  dst: number,
  [h, w, c]: [number, number, number],
  { cos, sin, dx, dy, field, rx, ry }: Warp,
): void {
  const cy = (h - 1) / 2, cx = (w - 1) / 2;
  const whole = rx === 0 && ry === 0;
  for (let v = 0; v < h; v++) {
    for (let u = 0; u < w; u++) {
      const qu = u - rx, qv = v - ry;
      const px = qu - cx - dx, py = qv - cy - dy;
      let sx = cos * px + sin * py + cx;
      let sy = -sin * px + cos * py + cy;
      if (field) {
        if (whole) {
          sx += field.dx[v * w + u];
          sy += field.dy[v * w + u];
        } else {
          sx += field.at(field.dx, qu, qv);
          sy += field.at(field.dy, qu, qv);
        }
      }
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      const in0 = y0 >= 0 && y0 < h, in1 = y0 + 1 >= 0 && y0 + 1 < h;
      const ix0 = x0 >= 0 && x0 < w, ix1 = x0 + 1 >= 0 && x0 + 1 < w;
      const w00 = in0 && ix0 ? (1 - fy) * (1 - fx) : 0, w01 = in0 && ix1 ? (1 - fy) * fx : 0;
      const w10 = in1 && ix0 ? fy * (1 - fx) : 0, w11 = in1 && ix1 ? fy * fx : 0;
      const base = src + (y0 * w + x0) * c;
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        if (w00) acc += w00 * x[base + ch];
        if (w01) acc += w01 * x[base + c + ch];
        if (w10) acc += w10 * x[base + w * c + ch];
        if (w11) acc += w11 * x[base + (w + 1) * c + ch];
        out[dst + (v * w + u) * c + ch] = acc;
      }
    }
  }
}

/** The centre of mass `[x, y]` in pixels of the image at `x[src ..]` (NaN when it is blank). */
function centreOfMass(
  x: Float32Array,
  src: number,
  [h, w, c]: [number, number, number],
): [number, number] {
  let m = 0, mx = 0, my = 0;
  for (let v = 0; v < h; v++) {
    for (let u = 0; u < w; u++) {
      let a = 0;
      for (let ch = 0; ch < c; ch++) a += x[src + (v * w + u) * c + ch];
      m += a;
      mx += a * u;
      my += a * v;
    }
  }
  return m > 0 ? [mx / m, my / m] : [NaN, NaN];
}

/**
 * A random displacement field `[H, W]` per axis: uniform in `[-1, 1]` per pixel, smoothed
 * by a Gaussian of standard deviation `sigma` (separable, truncated at 3 sigma, zero
 * outside), times `alpha`.
 */
class ElasticField {
  readonly dx: Float32Array;
  readonly dy: Float32Array;
  #h: number;
  #w: number;
  #kernel: Float32Array;
  #tmp: Float32Array;

  constructor(h: number, w: number, sigma: number) {
    this.#h = h;
    this.#w = w;
    this.dx = new Float32Array(h * w);
    this.dy = new Float32Array(h * w);
    this.#tmp = new Float32Array(h * w);
    const r = Math.max(1, Math.ceil(3 * sigma));
    this.#kernel = new Float32Array(2 * r + 1);
    let sum = 0;
    for (let i = -r; i <= r; i++) {
      sum += this.#kernel[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
    }
    for (let i = 0; i < this.#kernel.length; i++) this.#kernel[i] /= sum;
  }

  /** `a` (one of the fields) at a fractional pixel `(u, v)`: bilinear, clamped to its edge. */
  at(a: Float32Array, u: number, v: number): number {
    const h = this.#h, w = this.#w;
    const cu = Math.min(Math.max(u, 0), w - 1), cv = Math.min(Math.max(v, 0), h - 1);
    const u0 = Math.min(Math.floor(cu), w - 2), v0 = Math.min(Math.floor(cv), h - 2);
    const fu = cu - u0, fv = cv - v0;
    const i = v0 * w + u0;
    return (1 - fv) * ((1 - fu) * a[i] + fu * a[i + 1]) +
      fv * ((1 - fu) * a[i + w] + fu * a[i + w + 1]);
  }

  /** Draw new fields from `rng`. */
  draw(rng: Rng, alpha: number): void {
    for (const out of [this.dx, this.dy]) {
      for (let i = 0; i < out.length; i++) out[i] = 2 * rng.next() - 1;
      this.#smooth(out, alpha);
    }
  }

  /** `a = alpha * gauss * a`, rows then columns. */
  #smooth(a: Float32Array, alpha: number): void {
    const h = this.#h, w = this.#w, k = this.#kernel, r = (k.length - 1) / 2, t = this.#tmp;
    for (let v = 0; v < h; v++) {
      for (let u = 0; u < w; u++) {
        let acc = 0;
        const lo = Math.max(-r, -u), hi = Math.min(r, w - 1 - u);
        for (let j = lo; j <= hi; j++) acc += k[j + r] * a[v * w + u + j];
        t[v * w + u] = acc;
      }
    }
    for (let v = 0; v < h; v++) {
      const lo = Math.max(-r, -v), hi = Math.min(r, h - 1 - v);
      for (let u = 0; u < w; u++) {
        let acc = 0;
        for (let j = lo; j <= hi; j++) acc += k[j + r] * t[(v + j) * w + u];
        a[v * w + u] = alpha * acc;
      }
    }
  }
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
  let sourceRows: Int32Array | undefined;
  if (a.sourceRows && b.sourceRows) {
    sourceRows = new Int32Array(a.n + b.n);
    sourceRows.set(a.sourceRows);
    sourceRows.set(b.sourceRows, a.n);
  }
  let values: Float32Array | undefined;
  if (a.values && b.values) {
    values = new Float32Array(a.n + b.n);
    values.set(a.values);
    values.set(b.values, a.n);
  }
  return { ...a, x, y, n: a.n + b.n, sourceRows, ...(values ? { values } : {}) };
}
