/**
 * Regression trees: their leaves hold values in standardised units (`phi^l`, see
 * `TargetInfo` in `lib/io/types.ts`); these helpers turn them into the target's own units
 * and score predictions.
 *
 * @module
 */

/** How targets were standardised: `t = (value - mean) / std`. */
export interface TargetScale {
  /** Mean of the training targets. */
  mean: number;
  /** Their standard deviation (1 when they are all equal). */
  std: number;
}

/** Scores of regression predictions against true values. */
export interface RegressionMetrics {
  /** Coefficient of determination `1 - SS_res / SS_tot` (0 when the truth is constant and missed). */
  r2: number;
  /** Root mean squared error, in the target's units. */
  rmse: number;
  /** Mean absolute error, in the target's units. */
  mae: number;
}

/**
 * The mean and standard deviation (population) of training targets; a constant target gets
 * standard deviation 1 so that standardising never divides by zero.
 * @throws {RangeError} When there are no values or one is not finite.
 */
export function targetScale(values: ArrayLike<number>): TargetScale {
  if (values.length === 0) throw new RangeError("No target values to standardise");
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(`Target value ${i} is ${values[i]}, not a finite number`);
    }
    sum += values[i];
  }
  const mean = sum / values.length;
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += (values[i] - mean) ** 2;
  const std = Math.sqrt(ss / values.length);
  return { mean, std: std > 1e-12 * Math.max(1, Math.abs(mean)) ? std : 1 };
}

/** Values in their own units → standardised targets `[N]` (a new array). */
export function standardise(values: ArrayLike<number>, scale: TargetScale): Float32Array {
  const t = new Float32Array(values.length);
  for (let i = 0; i < t.length; i++) t[i] = (values[i] - scale.mean) / scale.std;
  return t;
}

/** Standardised values (leaf parameters, tree outputs) → the target's own units (a new array). */
export function unstandardise(t: ArrayLike<number>, scale: TargetScale): Float64Array {
  const v = new Float64Array(t.length);
  for (let i = 0; i < v.length; i++) v[i] = t[i] * scale.std + scale.mean;
  return v;
}

/** R², RMSE and MAE of `predicted` against `truth` (same length, at least one value). */
export function regressionMetrics(
  predicted: ArrayLike<number>,
  truth: ArrayLike<number>,
): RegressionMetrics {
  const n = truth.length;
  if (n === 0 || predicted.length !== n) {
    throw new RangeError(`Got ${predicted.length} predictions for ${n} values`);
  }
  let mean = 0;
  for (let i = 0; i < n; i++) mean += truth[i];
  mean /= n;
  let ssRes = 0, ssTot = 0, abs = 0;
  for (let i = 0; i < n; i++) {
    const e = predicted[i] - truth[i];
    ssRes += e * e;
    abs += Math.abs(e);
    ssTot += (truth[i] - mean) ** 2;
  }
  const r2 = ssTot > 0 ? 1 - ssRes / ssTot : ssRes === 0 ? 1 : 0;
  return { r2, rmse: Math.sqrt(ssRes / n), mae: abs / n };
}

/**
 * Each input's value in the target's own units, by max-leaf (the most probable leaf's value)
 * and by mixture (the path-weighted mean of the leaves' values).
 * @param maxLeaf The most probable leaf of each input `[N]`.
 * @param mixture The tree's mixture output `[N]` (standardised units, one target).
 * @param phi The leaves' values `[L]` (standardised units, one target).
 */
export function regressionValues(
  maxLeaf: ArrayLike<number>,
  mixture: ArrayLike<number>,
  phi: ArrayLike<number>,
  scale: TargetScale,
): { maxLeaf: Float64Array; mixture: Float64Array } {
  const leafValue = unstandardise(phi, scale);
  const ml = new Float64Array(maxLeaf.length);
  for (let i = 0; i < ml.length; i++) ml[i] = leafValue[maxLeaf[i]];
  return { maxLeaf: ml, mixture: unstandardise(mixture, scale) };
}

/**
 * Per leaf, the share of rows whose most probable leaf it is and the standard deviation of
 * their values (`null` where no row lands), for a leaf's "spread" in pictures and rules.
 */
export function leafSpread(
  maxLeaf: ArrayLike<number>,
  values: ArrayLike<number>,
  leaves: number,
): { share: number[]; std: (number | null)[] } {
  const n = new Float64Array(leaves), s = new Float64Array(leaves), s2 = new Float64Array(leaves);
  for (let i = 0; i < maxLeaf.length; i++) {
    const l = maxLeaf[i];
    n[l]++, s[l] += values[i];
  }
  for (let i = 0; i < maxLeaf.length; i++) {
    const l = maxLeaf[i];
    s2[l] += (values[i] - s[l] / n[l]) ** 2;
  }
  const total = Math.max(1, maxLeaf.length);
  return {
    share: Array.from(n, (c) => c / total),
    std: Array.from(n, (c, l) => (c > 0 ? Math.sqrt(s2[l] / c) : null)),
  };
}

/**
 * A value in the target's units for people: 4 significant digits (6 from 1,000 up), without
 * an exponent for everyday sizes.
 *
 * @example
 * ```ts
 * valueText(151.23456); // "151.2"
 * ```
 */
export function valueText(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e7) return String(Number(v.toPrecision(a >= 1000 ? 6 : 4)));
  return v.toExponential(3);
}

/**
 * A regression tree's leaf values in the target's units, `[L]`.
 * @param phi The leaves' values in standardised units `[L]` (one target).
 */
export function leafValues(phi: ArrayLike<number>, scale: TargetScale): Float64Array {
  return unstandardise(phi, scale);
}
