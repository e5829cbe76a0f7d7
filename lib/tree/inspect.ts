/**
 * Plain-JavaScript reads of a trained tree, for rendering and explanation: the route of
 * one input and the classes each subtree can predict. Not a training backend.
 *
 * @module
 */
import type { TreeParams } from "./types.ts";
import { treeSizes } from "./types.ts";

/** The route of one input through a tree. */
export interface Route {
  /** `z_n = beta (x . w_n + b_n)` for every inner node, `[I]`. */
  logits: Float64Array;
  /** `p_n = sigmoid(z_n)`, the probability of going right, `[I]`. */
  right: Float64Array;
  /** Path probability of every heap node (inner then leaves), `[I + L]`. */
  reach: Float64Array;
  /** The leaf with the greatest path probability (the max-leaf prediction's leaf). */
  maxLeaf: number;
  /** Heap nodes from the root to `maxLeaf`'s heap node, `D + 1` entries. */
  path: number[];
  /** The class predicted from `maxLeaf`. */
  predicted: number;
}

/** `softmax(phi^l)` for every leaf, `[L, K]`. */
export function leafDistributions(params: TreeParams, classes: number): Float32Array {
  const leaves = params.phi.length / classes;
  const q = new Float32Array(params.phi.length);
  for (let l = 0; l < leaves; l++) {
    let max = -Infinity;
    for (let k = 0; k < classes; k++) max = Math.max(max, params.phi[l * classes + k]);
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      const e = Math.exp(params.phi[l * classes + k] - max);
      q[l * classes + k] = e;
      sum += e;
    }
    for (let k = 0; k < classes; k++) q[l * classes + k] /= sum;
  }
  return q;
}

/** The argmax class of every leaf, `[L]` (first on ties). */
export function leafClasses(params: TreeParams, classes: number): Int32Array {
  const leaves = params.phi.length / classes;
  const out = new Int32Array(leaves);
  for (let l = 0; l < leaves; l++) {
    let best = 0;
    for (let k = 1; k < classes; k++) {
      if (params.phi[l * classes + k] > params.phi[l * classes + best]) best = k;
    }
    out[l] = best;
  }
  return out;
}

/**
 * The route of one input `x [F]` through the tree, in float64.
 *
 * @example
 * ```ts
 * const r = route(params, 4, 10, x);
 * r.path; // [0, 2, 5, 12, 26] for depth 4
 * ```
 */
export function route(
  params: TreeParams,
  depth: number,
  classes: number,
  x: ArrayLike<number>,
): Route {
  const { inner, leaves } = treeSizes(depth);
  const features = params.w.length / inner;
  const logits = new Float64Array(inner);
  const right = new Float64Array(inner);
  const reach = new Float64Array(inner + leaves);
  reach[0] = 1;
  for (let n = 0; n < inner; n++) {
    let s = params.b[n];
    const off = n * features;
    for (let f = 0; f < features; f++) s += x[f] * params.w[off + f];
    logits[n] = params.beta * s;
    right[n] = 1 / (1 + Math.exp(-logits[n]));
    reach[2 * n + 1] = reach[n] * (1 - right[n]);
    reach[2 * n + 2] = reach[n] * right[n];
  }
  let maxLeaf = 0;
  for (let l = 1; l < leaves; l++) if (reach[inner + l] > reach[inner + maxLeaf]) maxLeaf = l;
  const path: number[] = [];
  for (let node = inner + maxLeaf;; node = (node - 1) >> 1) {
    path.unshift(node);
    if (node === 0) break;
  }
  return { logits, right, reach, maxLeaf, path, predicted: leafClasses(params, classes)[maxLeaf] };
}
