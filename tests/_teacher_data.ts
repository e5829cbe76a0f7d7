/** Tiny seeded image data sets for the teacher's tests. */
import type { Dataset } from "../lib/data/types.ts";
import { Rng } from "../lib/util/random.ts";

/**
 * `n` noisy `[h, w, c]` images of `classes` classes: class `k` lights up the `k`-th vertical
 * band, so a small ConvNet learns it in a few steps.
 */
export function bandImages(
  n: number,
  { h = 8, w = 8, c = 1, classes = 2, seed = 1 } = {},
): Dataset {
  const rng = new Rng(seed);
  const f = h * w * c;
  const x = new Float32Array(n * f);
  const y = new Int32Array(n);
  const band = Math.max(1, Math.floor(w / classes));
  for (let i = 0; i < n; i++) {
    const k = rng.int(classes);
    y[i] = k;
    for (let r = 0; r < h; r++) {
      for (let col = 0; col < w; col++) {
        const on = Math.floor(col / band) === k;
        for (let ch = 0; ch < c; ch++) {
          x[i * f + (r * w + col) * c + ch] = (on ? 0.8 : 0.1) + 0.1 * rng.next();
        }
      }
    }
  }
  return {
    x,
    y,
    n,
    features: f,
    classes,
    imageShape: [h, w, c],
    featureNames: null,
    source: "bands",
  };
}
