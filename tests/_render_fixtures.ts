/**
 * Trees for tests and sample pictures, built from parameters rather than training.
 * Test fixtures of the rendering tests.
 *
 * @module
 */
import type { DataInfo } from "../lib/io/types.ts";
import type { TreeParams } from "../lib/tree/types.ts";
import { treeSizes } from "../lib/tree/types.ts";
import { Rng } from "../lib/util/random.ts";
import type { DrawableTree } from "../lib/render/tree_svg.ts";

/** MNIST's data facts. */
export const MNIST_INFO: DataInfo = {
  source: "mnist",
  imageShape: [28, 28, 1],
  featureNames: null,
  classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
};

/** A tree of the given shape with seeded normal parameters (phi scaled so leaves are peaked). */
export function randomTree(
  depth: number,
  data: DataInfo = MNIST_INFO,
  seed = 1,
): DrawableTree {
  const features = data.imageShape
    ? data.imageShape[0] * data.imageShape[1] * data.imageShape[2]
    : data.featureNames!.length;
  const classes = data.classNames.length;
  const { inner, leaves } = treeSizes(depth);
  const rng = new Rng(seed);
  const params: TreeParams = {
    w: Float32Array.from({ length: inner * features }, () => rng.normal()),
    b: Float32Array.from({ length: inner }, () => rng.normal()),
    phi: Float32Array.from({ length: leaves * classes }, () => 2 * rng.normal()),
    beta: 0.05,
  };
  return { config: { depth, features, classes }, params, data };
}

/**
 * A hand-made tree whose filters look like digits: the leaves are assigned classes in
 * `order`, and each inner node's filter is (mean image of its right subtree's classes) -
 * (mean image of its left subtree's classes), with a bias that splits halfway.
 *
 * @param means Class mean images `[K, F]`.
 */
export function meanImageTree(
  depth: number,
  means: Float32Array,
  data: DataInfo = MNIST_INFO,
  order = [1, 7, 4, 9, 0, 6, 2, 3, 5, 8],
): DrawableTree {
  const classes = data.classNames.length;
  const features = means.length / classes;
  const { inner, leaves } = treeSizes(depth);
  const leafClass = (l: number) => order[Math.floor((l * order.length) / leaves)];
  const params: TreeParams = {
    w: new Float32Array(inner * features),
    b: new Float32Array(inner),
    phi: new Float32Array(leaves * classes),
    beta: 4,
  };
  const mean = (first: number, count: number) => {
    const m = new Float32Array(features);
    const ks = new Set<number>();
    for (let l = first; l < first + count; l++) ks.add(leafClass(l));
    for (const k of ks) {
      for (let f = 0; f < features; f++) m[f] += means[k * features + f] / ks.size;
    }
    return m;
  };
  for (let d = 0; d < depth; d++) {
    const span = 2 ** (depth - d);
    for (let n = 2 ** d - 1; n < 2 ** (d + 1) - 1; n++) {
      const first = (n - (2 ** d - 1)) * span;
      const left = mean(first, span / 2);
      const right = mean(first + span / 2, span / 2);
      let bias = 0;
      for (let f = 0; f < features; f++) {
        const w = right[f] - left[f];
        params.w[n * features + f] = w;
        bias -= (w * (left[f] + right[f])) / 2;
      }
      params.b[n] = bias;
    }
  }
  for (let l = 0; l < leaves; l++) {
    for (let k = 0; k < classes; k++) {
      params.phi[l * classes + k] = k === leafClass(l) ? 3 : ((l * 7 + k * 3) % 5) / 3;
    }
  }
  return { config: { depth, features, classes }, params, data };
}
