/**
 * Tiny seeded data sets for tests that must run in a second: two well-separated classes, so
 * that a small tree reaches full validation accuracy in its first epoch and every later epoch
 * can only tie with it (the best epoch comes before the last, and patience really stops).
 */
import type { Dataset } from "../lib/data/types.ts";
import { Rng } from "../lib/util/random.ts";

/**
 * `n` rows of `features` numbers in [0, 1]: class 0 has feature 0 below 0.3, class 1 above
 * 0.7; the other features are noise.
 */
export function separable(n: number, { features = 4, seed = 1 } = {}): Dataset {
  const rng = new Rng(seed);
  const x = new Float32Array(n * features);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 2;
    y[i] = k;
    x[i * features] = k === 0 ? 0.3 * rng.next() : 0.7 + 0.3 * rng.next();
    for (let f = 1; f < features; f++) x[i * features + f] = rng.next();
  }
  return {
    x,
    y,
    n,
    features,
    classes: 2,
    imageShape: null,
    featureNames: Array.from({ length: features }, (_, f) => `f${f}`),
    source: "separable",
  };
}

/** The same data as CSV text with a header (`f0,...,label`), for the command line. */
export function separableCsv(
  n: number,
  options: { features?: number; seed?: number } = {},
): string {
  const ds = separable(n, options);
  const rows = [[...ds.featureNames!, "label"].join(",")];
  for (let i = 0; i < ds.n; i++) {
    const cells = Array.from(
      ds.x.subarray(i * ds.features, (i + 1) * ds.features),
      (v) => v.toFixed(4),
    );
    rows.push([...cells, String(ds.y[i])].join(","));
  }
  return rows.join("\n") + "\n";
}
