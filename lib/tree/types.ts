/**
 * The soft decision tree's configuration, parameters and state.
 *
 * Shapes: `N` samples, `B` batch, `F` features, `K` classes, `D` depth,
 * `I = 2^D - 1` inner nodes, `L = 2^D` leaves. Heap order: inner node `n` has
 * children `2n+1` (left) and `2n+2` (right); leaf `l` is heap node `I + l`.
 *
 * @module
 */

/** The per-sample loss: see the reference maths in `lib/backends/types.ts`. */
export type LossKind = "expected" | "mixture";
/** How a class is predicted: from the most probable leaf, or from the mixture of leaves. */
export type PredictKind = "max-leaf" | "mixture";
/**
 * What the leaves hold: a class distribution (`softmax(phi^l)`), or values (`phi^l` itself,
 * one per target, in the standardised units the tree was trained in).
 */
export type TreeTask = "classification" | "regression";

/** Everything that fixes a tree's shape and training maths. */
export interface TreeConfig {
  /** `D`, the number of inner-node levels; the tree has `2^D` leaves. */
  depth: number;
  /** `F`. */
  features: number;
  /** `K`: classes, or targets of a regression tree (usually 1). */
  classes: number;
  /** What the leaves hold. @default "classification" */
  task?: TreeTask;
  /**
   * Inverse temperature `beta` of every inner node (its initial value when learned).
   * @default 0.01
   */
  invTemp: number;
  /**
   * Learn `beta` as one scalar parameter.
   * @default false
   */
  learnBeta: boolean;
  /** Strength of the balance penalty. @default 10 */
  penaltyStrength: number;
  /** Factor of the penalty per level of depth. @default 0.25 */
  penaltyDecay: number;
  /** Samples in the penalty's moving window at the root; doubles with each level. @default 1000 */
  emaWindow: number;
  /** Adam's learning rate. @default 5e-3 */
  learningRate: number;
  /** Per-sample loss: the paper's expected loss over leaves, or the mixture's. @default "expected" */
  loss: LossKind;
}

/** The seed's hyper-parameters (the values the CLI uses by default). */
export const DEFAULT_TREE_CONFIG: Omit<TreeConfig, "features" | "classes"> = {
  depth: 4,
  invTemp: 0.01,
  learnBeta: false,
  penaltyStrength: 10,
  penaltyDecay: 0.25,
  emaWindow: 1000,
  learningRate: 5e-3,
  loss: "expected",
};

/** Adam's fixed constants, shared by every backend. */
export const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;
/** `alpha_n` is clamped to `[ALPHA_EPS, 1 - ALPHA_EPS]` inside the penalty's logarithms. */
export const ALPHA_EPS = 1e-5;
/** The mixture loss takes `log(max(sum_l P^l Q^l_k, MIX_EPS))`. */
export const MIX_EPS = 1e-12;

/** The learned parameters of a tree. */
export interface TreeParams {
  /** Inner-node filters `[I, F]`. */
  w: Float32Array;
  /** Inner-node biases `[I]`. */
  b: Float32Array;
  /** Leaf logits `[L, K]`; `Q^l = softmax(phi^l)` (regression: the leaf's values). */
  phi: Float32Array;
  /** The inverse temperature `beta` (learned or fixed). */
  beta: number;
}

/**
 * The penalty's moving averages, one pair per inner node. `alpha_n` is `num[n] / den[n]`.
 * `steps` counts the batches seen; when 0 the first batch initialises the averages.
 */
export interface PenaltyState {
  /** Moving average of `mean_x P_n(x) p_n(x)`, `[I]`. */
  num: Float32Array;
  /** Moving average of `mean_x P_n(x)`, `[I]`. */
  den: Float32Array;
  /** Batches seen. */
  steps: number;
}

/** Whether a configuration (or anything with its `task`) is a regression tree. */
export function isRegression(config: { task?: TreeTask }): boolean {
  return config.task === "regression";
}

/** Sizes derived from a depth. */
export function treeSizes(depth: number): { inner: number; leaves: number } {
  const leaves = 2 ** depth;
  return { inner: leaves - 1, leaves };
}
