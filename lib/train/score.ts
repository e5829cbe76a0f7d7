/**
 * The score a run maximises on a split, for both kinds of tree: accuracy for classification,
 * R² for regression (with RMSE and MAE beside it, in the target's own units).
 *
 * @module
 */
import type { EvalResult, TreeEngine } from "../backends/types.ts";
import type { Dataset } from "../data/types.ts";
import {
  regressionMetrics,
  regressionValues,
  standardise,
  type TargetScale,
  targetScale,
} from "../tree/regression.ts";
import { isRegression } from "../tree/types.ts";

/** Rows forwarded at a time. */
const CHUNK = 8192;

/**
 * How a regression data set's targets are standardised: its `targetScaling`, else the mean
 * and deviation of its own values.
 * @throws {RangeError} When the data set has no values (it is not regression data).
 */
export function scaleOf(ds: Dataset): TargetScale {
  if (!ds.values) {
    throw new RangeError(
      `The data "${ds.source}" has no target values (it is not regression data)`,
    );
  }
  return ds.targetScaling ?? targetScale(ds.values);
}

/** A regression training split's targets `[N, 1]`, standardised by `scaleOf(train)`. */
export function regressionTargets(train: Dataset): Float32Array {
  return standardise(train.values!, scaleOf(train));
}

/**
 * Score `rows` of `ds` (all when absent): `engine.evaluate` for a classification tree; for a
 * regression tree, the values of both prediction modes unstandardised by `scale` and their
 * R² (in `accuracy` / `accuracyMixture`), RMSE and MAE against `ds.values`.
 * @throws {RangeError} For a regression tree and a split without values.
 */
export function scoreSplit(
  engine: TreeEngine,
  ds: Dataset,
  scale?: TargetScale,
  rows = ds.n,
): EvalResult {
  const F = ds.features;
  if (!isRegression(engine.config)) {
    return engine.evaluate(ds.x.subarray(0, rows * F), ds.y.subarray(0, rows));
  }
  if (!ds.values) {
    throw new RangeError(`The data "${ds.source}" has no target values to score a regression tree`);
  }
  const s = scale ?? scaleOf(ds);
  const phi = engine.getParams().phi;
  const valueMaxLeaf = new Float64Array(rows), valueMixture = new Float64Array(rows);
  const predMaxLeaf = new Int32Array(rows);
  for (let r0 = 0; r0 < rows; r0 += CHUNK) {
    const r1 = Math.min(rows, r0 + CHUNK);
    const f = engine.forward(ds.x.subarray(r0 * F, r1 * F));
    const v = regressionValues(f.maxLeaf, f.mixture, phi, s);
    valueMaxLeaf.set(v.maxLeaf, r0);
    valueMixture.set(v.mixture, r0);
    predMaxLeaf.set(f.maxLeaf, r0);
  }
  const truth = ds.values.subarray(0, rows);
  const maxLeaf = regressionMetrics(valueMaxLeaf, truth);
  const mixture = regressionMetrics(valueMixture, truth);
  return {
    accuracy: maxLeaf.r2,
    accuracyMixture: mixture.r2,
    predMaxLeaf,
    predMixture: new Int32Array(rows),
    regression: { maxLeaf, mixture, valueMaxLeaf, valueMixture },
  };
}
