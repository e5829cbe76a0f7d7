/**
 * Plain-JavaScript reads of a trained tree, for rendering and explanation: the route of
 * one input and the classes each subtree can predict. Not a training backend.
 *
 * @module
 */
import type { TreeParams } from "./types.ts";
import { routeInput } from "./predictor.js";

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
 * The route of one input `x [F]` through the tree, in float64 (`predictor.js`'s `routeInput`,
 * the loop that `predict`, the report and an exported predictor run too).
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
  const { logits, right, reach, leaf, path } = routeInput({ depth, ...params }, x);
  return {
    logits,
    right,
    reach,
    maxLeaf: leaf,
    path,
    predicted: leafClasses(params, classes)[leaf],
  };
}
