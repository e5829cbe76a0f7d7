/**
 * Refitting the leaves for max-leaf prediction: after training, every leaf's distribution
 * becomes the mean target of the training images whose most probable leaf it is. Training
 * fits the leaves to the soft routing (each image spread over many leaves); max-leaf
 * prediction sends an image to one leaf, and this makes each leaf's class the one of the
 * images it actually wins. The refit is kept only when it raises the validation accuracy.
 * A regression tree's leaves take the mean (standardised) target of their rows, kept when
 * the validation R² rises ("accuracy" below means R² for them).
 *
 * @module
 */
import type { TreeEngine } from "../backends/types.ts";
import type { Dataset } from "../data/types.ts";
import { isRegression, treeSizes } from "../tree/types.ts";
import { scoreSplit } from "./score.ts";

/** What {@linkcode refitLeaves} did. */
export interface RefitResult {
  /** Whether the refit leaves were kept (they raised the validation accuracy). */
  kept: boolean;
  /** Leaves whose most probable class changed. */
  changedLeaves: number;
  /** Leaves that no training image wins (left as they were). */
  emptyLeaves: number;
  /** Max-leaf validation accuracy before the refit, in [0, 1]. */
  valBefore: number;
  /** Max-leaf validation accuracy after the refit, in [0, 1]. */
  valAfter: number;
}

/** Rows per forward pass (bounds the memory of the path probabilities). */
const CHUNK = 8192;

/**
 * Refit every leaf to the mean target of the training rows it wins (max-leaf), with a small
 * prior towards uniform; keep the result only if the max-leaf validation accuracy rises.
 *
 * @param engine A trained tree.
 * @param train The training rows `x [N, F]`.
 * @param targets Their targets `[N, K]` (one-hot labels or soft labels).
 * @param val The validation split that decides.
 * @param prior Pseudo-count of every class in every leaf. @default 1e-3
 * @returns What changed, and whether it was kept.
 * @throws {RangeError} When the targets do not match the rows.
 * @example
 * ```ts
 * const r = refitLeaves(tree.engine, splits.train, oneHot(splits.train.y, 10), splits.val);
 * ```
 */
export function refitLeaves(
  engine: TreeEngine,
  train: Dataset,
  targets: Float32Array,
  val: Dataset,
  prior = 1e-3,
): RefitResult {
  const k = engine.config.classes;
  const regression = isRegression(engine.config);
  const { leaves } = treeSizes(engine.config.depth);
  if (targets.length !== train.n * k) {
    throw new RangeError(`Targets must be [${train.n}, ${k}], got ${targets.length} values`);
  }
  const sum = new Float64Array(leaves * k);
  const count = new Float64Array(leaves);
  const f = train.features;
  for (let r0 = 0; r0 < train.n; r0 += CHUNK) {
    const r1 = Math.min(train.n, r0 + CHUNK);
    const { maxLeaf } = engine.forward(train.x.subarray(r0 * f, r1 * f));
    for (let i = r0; i < r1; i++) {
      const l = maxLeaf[i - r0];
      count[l]++;
      for (let c = 0; c < k; c++) sum[l * k + c] += targets[i * k + c];
    }
  }
  const before = engine.getParams();
  const phi = Float32Array.from(before.phi);
  let changedLeaves = 0, emptyLeaves = 0;
  for (let l = 0; l < leaves; l++) {
    if (count[l] === 0) {
      emptyLeaves++;
      continue;
    }
    const was = argmax(before.phi, l, k);
    for (let c = 0; c < k; c++) {
      // a regression leaf takes its rows' mean target; a class leaf their smoothed frequencies
      phi[l * k + c] = regression
        ? sum[l * k + c] / count[l]
        : Math.log((sum[l * k + c] + prior) / (count[l] + k * prior));
    }
    if (argmax(phi, l, k) !== was) changedLeaves++;
  }
  const valBefore = scoreSplit(engine, val).accuracy;
  // Adam's state and the penalty's averages are left alone: setParams resets Adam, so they
  // are put back (the tree may be trained further).
  const adam = engine.getAdamState();
  engine.setParams({ ...before, phi });
  engine.setAdamState(adam);
  const valAfter = scoreSplit(engine, val).accuracy;
  const kept = valAfter > valBefore;
  if (!kept) {
    engine.setParams(before);
    engine.setAdamState(adam);
  }
  return { kept, changedLeaves, emptyLeaves, valBefore, valAfter };
}

function argmax(a: Float32Array, l: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (a[l * k + c] > a[l * k + best]) best = c;
  return best;
}
