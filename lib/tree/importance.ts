/**
 * What a trained tree's features do, in plain JavaScript (float64): global feature
 * importances, each feature's contribution along one input's decision path, the hard tree
 * (route by `p > 0.5`) and how often it agrees with the max-leaf prediction.
 *
 * Shapes: `N` samples, `F` features, `K` classes, `D` depth, `I = 2^D - 1` inner nodes,
 * `L = 2^D` leaves; heap order as in `types.ts`.
 *
 * @module
 */
import { leafClasses, route } from "./inspect.ts";
import type { TreeParams } from "./types.ts";
import { treeSizes } from "./types.ts";

/** Inputs to read: row-major `x [N, F]` and `N`. */
export interface Rows {
  /** Inputs `[N, F]`, scaled as the tree was trained on. */
  x: ArrayLike<number>;
  /** `N`. */
  n: number;
}

function featuresOf(params: TreeParams, depth: number): number {
  return params.w.length / treeSizes(depth).inner;
}

function checkRows(rows: Rows, features: number, what: string): void {
  if (!Number.isInteger(rows.n) || rows.n < 0 || rows.x.length !== rows.n * features) {
    throw new RangeError(
      `Cannot compute ${what}: the inputs hold ${rows.x.length} values, expected ${rows.n} rows ` +
        `of ${features} features`,
    );
  }
}

/**
 * The probability mass reaching each inner node, summed over the rows: `sum_x P_n(x)`, `[I]`.
 * The root's is `N`.
 */
export function nodeMass(params: TreeParams, depth: number, rows: Rows): Float64Array {
  const { inner } = treeSizes(depth);
  const F = featuresOf(params, depth);
  checkRows(rows, F, "node mass");
  const mass = new Float64Array(inner);
  const reach = new Float64Array(2 * inner + 1);
  for (let i = 0; i < rows.n; i++) {
    reach[0] = 1;
    for (let n = 0; n < inner; n++) {
      let s = params.b[n];
      const off = n * F, xo = i * F;
      for (let f = 0; f < F; f++) s += rows.x[xo + f] * params.w[off + f];
      const p = 1 / (1 + Math.exp(-params.beta * s));
      mass[n] += reach[n];
      reach[2 * n + 1] = reach[n] * (1 - p);
      reach[2 * n + 2] = reach[n] * p;
    }
  }
  return mass;
}

/** Options of {@linkcode featureImportances}. */
export interface ImportanceOptions {
  /**
   * The inputs whose probability mass weighs the nodes (a training or test split).
   * @default every node weighs the same
   */
  rows?: Rows;
  /**
   * The mass reaching each inner node, `[I]`, when already known (see
   * {@linkcode tallyRoutes}); used instead of `rows`.
   */
  mass?: ArrayLike<number>;
  /**
   * The min-max scaling of the inputs: a feature whose training range is empty (a constant
   * column, read as 0) cannot move any node, so its importance is 0.
   */
  scaling?: { min: ArrayLike<number>; max: ArrayLike<number> };
}

/**
 * Global feature importances: each feature's gate-weight magnitude `|w_nf|`, weighted by the
 * probability mass reaching node `n` on the rows (see {@linkcode nodeMass}), summed over the
 * inner nodes and normalised to sum to 1.
 *
 * @param params The tree's parameters.
 * @param depth `D`.
 * @param options The rows that weigh the nodes, and the scaling (constant columns count 0).
 * @returns `[F]`, non-negative, summing to 1 (uniform when every weight is 0).
 * @throws {RangeError} When the rows do not hold `F` features each.
 * @example
 * ```ts
 * const imp = featureImportances(tree.params, tree.config.depth, { rows: splits.test });
 * ```
 */
export function featureImportances(
  params: TreeParams,
  depth: number,
  options: ImportanceOptions = {},
): Float64Array {
  const { inner } = treeSizes(depth);
  const F = featuresOf(params, depth);
  const mass = options.mass ??
    (options.rows ? nodeMass(params, depth, options.rows) : new Float64Array(inner).fill(1));
  const sc = options.scaling;
  const out = new Float64Array(F);
  for (let n = 0; n < inner; n++) {
    for (let f = 0; f < F; f++) out[f] += mass[n] * Math.abs(params.w[n * F + f]);
  }
  if (sc && sc.min.length === F && sc.max.length === F) {
    for (let f = 0; f < F; f++) if (!(sc.max[f] > sc.min[f])) out[f] = 0;
  }
  let sum = 0;
  for (let f = 0; f < F; f++) sum += out[f];
  if (!(sum > 0) || !Number.isFinite(sum)) return out.fill(1 / F);
  for (let f = 0; f < F; f++) out[f] /= sum;
  return out;
}

/** One inner node on an input's decision path, and what each feature did there. */
export interface PathStep {
  /** The heap node. */
  node: number;
  /** `z = beta (x . w + b)`. */
  z: number;
  /** Whether the path goes right here (towards the max-leaf). */
  right: boolean;
  /** `beta * x_f * w_nf` for every feature, `[F]` (their sum plus `beta * b` is `z`). */
  terms: Float64Array;
  /** `beta * b_n`. */
  bias: number;
}

/** Each feature's part in one input's route to its max-leaf. */
export interface PathContributions {
  /** The max-leaf. */
  leaf: number;
  /** Its class. */
  predicted: number;
  /** The inner nodes on the path, root first. */
  steps: PathStep[];
  /**
   * Per feature, `sum over the path of s_n beta x_f w_nf`, where `s_n` is +1 where the path
   * goes right and -1 where it goes left: positive values pushed the input along its path,
   * negative ones against it. `[F]`.
   */
  total: Float64Array;
}

/**
 * The contribution of each feature along one input's decision path (see
 * {@linkcode PathContributions}).
 *
 * @param params The tree's parameters.
 * @param depth `D`.
 * @param classes `K`.
 * @param x One input `[F]`, scaled as the tree was trained on.
 * @returns The path's steps and the per-feature totals.
 * @example
 * ```ts
 * const c = pathContributions(tree.params, 4, 2, row);
 * c.total; // [F], positive = pushed the input towards its leaf
 * ```
 */
export function pathContributions(
  params: TreeParams,
  depth: number,
  classes: number,
  x: ArrayLike<number>,
): PathContributions {
  const F = featuresOf(params, depth);
  if (x.length !== F) {
    throw new RangeError(`Cannot explain the input: it holds ${x.length} values, expected ${F}`);
  }
  const r = route(params, depth, classes, x);
  const total = new Float64Array(F);
  const steps: PathStep[] = [];
  for (let i = 0; i + 1 < r.path.length; i++) {
    const node = r.path[i];
    const right = r.path[i + 1] === 2 * node + 2;
    const terms = new Float64Array(F);
    for (let f = 0; f < F; f++) {
      terms[f] = params.beta * x[f] * params.w[node * F + f];
      total[f] += right ? terms[f] : -terms[f];
    }
    steps.push({ node, z: r.logits[node], right, terms, bias: params.beta * params.b[node] });
  }
  return { leaf: r.maxLeaf, predicted: r.predicted, steps, total };
}

/**
 * The leaf one input reaches in the hard tree: from the root, right where
 * `x . w_n + b_n > 0` (that is `p_n > 0.5`), else left.
 */
export function hardLeaf(params: TreeParams, depth: number, x: ArrayLike<number>): number {
  const { inner } = treeSizes(depth);
  const F = featuresOf(params, depth);
  let n = 0;
  while (n < inner) {
    let s = params.b[n];
    for (let f = 0; f < F; f++) s += x[f] * params.w[n * F + f];
    n = params.beta * s > 0 ? 2 * n + 2 : 2 * n + 1;
  }
  return n - inner;
}

/**
 * The hard tree's leaf of each row from a forward pass's `p(right)` `[B, I]`: from the root,
 * right where `p > 0.5`, else left (as {@linkcode hardLeaf} and {@linkcode RouteTally}).
 *
 * @param right `p(right)` of every inner node, `[B, I]`.
 * @param inner `I`.
 * @returns Each row's hard leaf, `[B]`.
 */
export function hardLeaves(right: ArrayLike<number>, inner: number): Int32Array {
  const out = new Int32Array(right.length / inner);
  for (let i = 0; i < out.length; i++) {
    let n = 0;
    while (n < inner) n = right[i * inner + n] > 0.5 ? 2 * n + 2 : 2 * n + 1;
    out[i] = n - inner;
  }
  return out;
}

/** Row `i` of `[N, F]` values, without a copy where it can. */
export function rowOf(x: ArrayLike<number>, i: number, F: number): ArrayLike<number> {
  const typed = x as Float32Array;
  return typeof typed.subarray === "function"
    ? typed.subarray(i * F, (i + 1) * F)
    : Array.prototype.slice.call(x, i * F, (i + 1) * F) as number[];
}

/** How the hard tree compares with the max-leaf prediction on some rows. */
export interface HardTreeAgreement {
  /** Rows compared. */
  n: number;
  /** Fraction of rows whose hard leaf is their max-leaf (and so has its class). */
  leaf: number;
  /** Fraction of rows whose hard leaf predicts the max-leaf's class (at least `leaf`). */
  class: number;
  /** The hard tree's accuracy against `y`, when labels are given. */
  accuracy?: number;
}

/**
 * How often routing each row by `p > 0.5` (a plain decision tree) reaches the same leaf,
 * and the same class, as the max-leaf prediction.
 *
 * @param params The tree's parameters.
 * @param depth `D`.
 * @param classes `K`.
 * @param rows The inputs, with labels `y` if the hard tree's accuracy is wanted.
 * @returns Fractions in [0, 1] (`NaN` for no rows).
 * @example
 * ```ts
 * hardTreeAgreement(tree.params, 4, 2, splits.test).leaf; // 0.97
 * ```
 */
export function hardTreeAgreement(
  params: TreeParams,
  depth: number,
  classes: number,
  rows: Rows & { y?: ArrayLike<number> },
): HardTreeAgreement {
  const F = featuresOf(params, depth);
  checkRows(rows, F, "hard-tree agreement");
  const leafCls = leafClasses(params, classes);
  let sameLeaf = 0, sameClass = 0, correct = 0;
  for (let i = 0; i < rows.n; i++) {
    const x = rowOf(rows.x, i, F);
    const soft = route(params, depth, classes, x).maxLeaf;
    const hard = hardLeaf(params, depth, x);
    if (soft === hard) sameLeaf++;
    if (leafCls[soft] === leafCls[hard]) sameClass++;
    if (rows.y && leafCls[hard] === rows.y[i]) correct++;
  }
  const out: HardTreeAgreement = {
    n: rows.n,
    leaf: sameLeaf / rows.n,
    class: sameClass / rows.n,
  };
  if (rows.y) out.accuracy = correct / rows.n;
  return out;
}

/**
 * The `k` entries of `values` largest in magnitude, largest first, with the share of the
 * squared norm they hold.
 *
 * @example
 * ```ts
 * topTerms([0.1, -2, 1], 2); // { indices: [1, 2], share: 5 / 5.01 }
 * ```
 */
export function topTerms(
  values: ArrayLike<number>,
  k: number,
): { indices: number[]; share: number } {
  const order = Array.from({ length: values.length }, (_, i) => i)
    .sort((a, b) => Math.abs(values[b]) - Math.abs(values[a]) || a - b);
  const indices = order.slice(0, Math.max(0, k));
  let all = 0, kept = 0;
  for (let i = 0; i < values.length; i++) all += values[i] * values[i];
  for (const i of indices) kept += values[i] * values[i];
  return { indices, share: all > 0 ? kept / all : 1 };
}

/**
 * Node masses and hard-tree agreement counted from forward passes (a backend's `p(right)` and
 * max-leaves), batch by batch: what {@linkcode nodeMass} and {@linkcode hardTreeAgreement}
 * compute, without routing every input again in JavaScript.
 */
export class RouteTally {
  /** Rows counted. */
  n = 0;
  /** Mass reaching each inner node, `[I]`. */
  readonly mass: Float64Array;
  #leafClass: ArrayLike<number>;
  #sameLeaf = 0;
  #sameClass = 0;
  #correct = 0;
  #labelled = true;

  /**
   * @param depth `D`.
   * @param leafClass Each leaf's class, `[L]` (see `leafClasses`).
   */
  constructor(depth: number, leafClass: ArrayLike<number>) {
    this.#leafClass = leafClass;
    this.mass = new Float64Array(treeSizes(depth).inner);
  }

  /**
   * Counts a batch.
   *
   * @param right `p(right)` of every inner node, `[B, I]`.
   * @param maxLeaf Each row's max-leaf, `[B]`.
   * @param y Each row's label, `[B]` (the hard tree's accuracy needs it for every batch).
   */
  add(right: ArrayLike<number>, maxLeaf: ArrayLike<number>, y?: ArrayLike<number>): void {
    const I = this.mass.length;
    const reach = new Float64Array(2 * I + 1);
    if (!y) this.#labelled = false;
    for (let i = 0; i < maxLeaf.length; i++) {
      const off = i * I;
      reach[0] = 1;
      for (let n = 0; n < I; n++) {
        const p = right[off + n];
        this.mass[n] += reach[n];
        reach[2 * n + 1] = reach[n] * (1 - p);
        reach[2 * n + 2] = reach[n] * p;
      }
      let n = 0;
      while (n < I) n = right[off + n] > 0.5 ? 2 * n + 2 : 2 * n + 1;
      const hard = n - I;
      if (hard === maxLeaf[i]) this.#sameLeaf++;
      const cls = this.#leafClass[hard];
      if (cls === this.#leafClass[maxLeaf[i]]) this.#sameClass++;
      if (y && cls === y[i]) this.#correct++;
    }
    this.n += maxLeaf.length;
  }

  /** The agreement so far (`accuracy` only when every batch had labels). */
  agreement(): HardTreeAgreement {
    const out: HardTreeAgreement = {
      n: this.n,
      leaf: this.#sameLeaf / this.n,
      class: this.#sameClass / this.n,
    };
    if (this.#labelled) out.accuracy = this.#correct / this.n;
    return out;
  }
}
