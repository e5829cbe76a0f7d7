/**
 * The interface of the tree's hot path. Every backend (`tfjs`, `native`, `cuda`)
 * implements it and must agree with the reference maths below.
 *
 * Shapes: `N` samples, `B` batch, `F` features, `K` classes, `D` depth,
 * `I = 2^D - 1` inner nodes, `L = 2^D` leaves; heap order (children of `n` are
 * `2n+1` left and `2n+2` right; leaf `l` is heap node `I + l`). Row-major Float32Arrays.
 *
 * Reference maths, for a batch of `B` samples with targets `T [B, K]` (one-hot or soft):
 * - `z_n = beta * (x . w_n + b_n)`, `p_n = sigmoid(z_n)` (probability of going right).
 * - `P_root = 1`, `P_{2n+1} = P_n (1 - p_n)`, `P_{2n+2} = P_n p_n`; `P^l` sums to 1 over leaves.
 * - `log Q^l = log_softmax(phi^l)`.
 * - loss "expected": `L(x) = -sum_l P^l sum_k T_k log Q^l_k`;
 *   loss "mixture": `L(x) = -sum_k T_k log(max(sum_l P^l Q^l_k, MIX_EPS))`.
 * - regression trees (`task: "regression"`): the leaves hold values, `Q^l = phi^l`, and the
 *   targets `T [B, K]` are values; loss "expected": `L(x) = sum_l P^l sum_k (phi^l_k - T_k)^2`;
 *   loss "mixture": `L(x) = sum_k (y_k - T_k)^2` with `y = sum_l P^l phi^l`.
 * - penalty, node `n` at depth `d` (root 0): `m_num = mean_x P_n p_n`, `m_den = mean_x P_n`;
 *   `lambda = steps == 0 ? 1 : min(1, B / (emaWindow * 2^d))`;
 *   `S_num = (1 - lambda) num_n + lambda m_num`, `S_den` likewise (the stored `num`, `den`
 *   are constants: gradients flow through the current batch's share only);
 *   `alpha_n = clamp(S_num / max(S_den, 1e-30), ALPHA_EPS, 1 - ALPHA_EPS)` (no gradient when
 *   clamped); `C = -penaltyStrength * sum_n penaltyDecay^d * (0.5 log alpha_n + 0.5 log(1 - alpha_n))`.
 *   A training step then stores `num_n = S_num`, `den_n = S_den`, `steps += 1`.
 * - objective: `mean_x L(x) + C`; Adam on `w`, `b`, `phi`, and `beta` when learned, with one
 *   step count `t` shared by all parameters: `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`,
 *   `theta -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)` (`ADAM` constants).
 * - predictions: "max-leaf" is the argmax class of `Q^{l*}` with `l* = argmax_l P^l` (first
 *   on ties); "mixture" is the argmax of `sum_l P^l Q^l`. Regression trees predict the values
 *   `phi^{l*}` (max-leaf) and `y` (mixture, returned as `ForwardResult.mixture`); their class
 *   predictions are 0 and `evaluate` refuses them.
 *
 * @module
 */
import {
  isRegression,
  type PenaltyState,
  type TreeConfig,
  type TreeParams,
} from "../tree/types.ts";

/** Names of the backends. */
export type BackendName = "tfjs" | "native" | "cuda";
/** What a user may ask for. */
export type BackendChoice = BackendName | "auto";
/** Every accepted backend choice, for option parsing. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "cuda", "native", "tfjs"];

/** Loss terms of one batch, or sums over many. */
export interface LossReport {
  /** Mean of `L(x)` over the samples. */
  loss: number;
  /** The penalty `C` (for many batches: its mean over batches). */
  penalty: number;
  /** Samples processed. */
  samples: number;
}

/** Gradients of the batch objective (`mean_x L(x) + C`), shaped like the parameters. */
export interface TreeGradients extends LossReport {
  /** Gradient of the filters `[I, F]`. */
  w: Float32Array;
  /** Gradient of the biases `[I]`. */
  b: Float32Array;
  /** Gradient of the leaf logits `[L, K]`. */
  phi: Float32Array;
  /** `d objective / d beta` (computed even when beta is fixed). */
  beta: number;
}

/** Everything a forward pass computes for `N` inputs. */
export interface ForwardResult {
  /** Probability of going right at each inner node, `[N, I]`. */
  inner: Float32Array;
  /** Path probability of each leaf, `[N, L]`. */
  leaf: Float32Array;
  /** Mixture distribution `sum_l P^l Q^l`, `[N, K]`. */
  mixture: Float32Array;
  /** Max-leaf prediction per input, `[N]`. */
  predMaxLeaf: Int32Array;
  /** Mixture prediction per input, `[N]`. */
  predMixture: Int32Array;
  /** Index of the leaf with the greatest path probability, `[N]`. */
  maxLeaf: Int32Array;
}

/** Accuracy on a labelled split. */
export interface EvalResult {
  /** Fraction correct with max-leaf prediction, in [0, 1]. */
  accuracy: number;
  /** Fraction correct with mixture prediction, in [0, 1]. */
  accuracyMixture: number;
  /** Max-leaf predictions `[N]`. */
  predMaxLeaf: Int32Array;
  /** Mixture predictions `[N]`. */
  predMixture: Int32Array;
  /**
   * Regression trees (from `SoftDecisionTree.evaluate` and the training loop; an engine's own
   * `evaluate` refuses them): `accuracy` and `accuracyMixture` then hold R², the score runs
   * maximise, `predMaxLeaf` the most probable leaf, and this the scores and values in the
   * target's own units.
   */
  regression?: {
    /** R², RMSE and MAE of the max-leaf values. */
    maxLeaf: { r2: number; rmse: number; mae: number };
    /** The same of the mixture values. */
    mixture: { r2: number; rmse: number; mae: number };
    /** Max-leaf values `[N]`. */
    valueMaxLeaf: Float64Array;
    /** Mixture values `[N]`. */
    valueMixture: Float64Array;
  };
}

/**
 * Adam's state: the first and second moments laid out like the parameters one after another
 * (`w [I, F]`, `b [I]`, `phi [L, K]`, `beta`: `P = I*F + I + L*K + 1` values each), and the
 * number of steps taken (`t` of the bias correction).
 */
export interface AdamState {
  /** First moments `[P]`. */
  m: Float32Array;
  /** Second moments `[P]`. */
  v: Float32Array;
  /** Steps taken. */
  step: number;
}

/**
 * Throw when a regression tree is asked for accuracy (`TreeEngine.evaluate` counts classes;
 * regression metrics come from `forward`'s values).
 */
export function refuseRegression(config: TreeConfig): void {
  if (isRegression(config)) {
    throw new RangeError("A regression tree has no accuracy: use forward() and its values");
  }
}

/** `P`, the length of {@link AdamState}'s arrays for a tree shape. */
export function adamSize(config: Pick<TreeConfig, "depth" | "features" | "classes">): number {
  const leaves = 2 ** config.depth;
  return (leaves - 1) * (config.features + 1) + leaves * config.classes + 1;
}

/**
 * One tree living on a backend, with its Adam state, penalty state and (optionally)
 * a resident training set. Create it with `TreeBackend.createTree`; call `dispose` when done.
 */
export interface TreeEngine {
  /** Which backend runs this tree. */
  readonly backend: BackendName;
  /** The configuration it was created with. */
  readonly config: TreeConfig;

  /** A copy of the current parameters. */
  getParams(): TreeParams;
  /** Replace the parameters (Adam's moments and step count are reset). */
  setParams(params: TreeParams): void;
  /** A copy of the penalty's moving averages. */
  getPenaltyState(): PenaltyState;
  /** Replace the penalty's moving averages. */
  setPenaltyState(state: PenaltyState): void;
  /** A copy of Adam's moments and step count (to save a run's state and resume it exactly). */
  getAdamState(): AdamState;
  /** Replace Adam's moments and step count; call it after `setParams`, which resets them. */
  setAdamState(state: AdamState): void;
  /** Set `beta` without touching Adam's state (for schedules of a fixed beta). */
  setBeta(beta: number): void;
  /** Change Adam's learning rate from the next step on (for schedules). */
  setLearningRate(lr: number): void;

  /**
   * Upload a training set once; it stays resident for `trainSamples`.
   * @param x Inputs `[N, F]`.
   * @param targets Targets `[N, K]`, one-hot or soft; rows sum to 1.
   */
  setTrainData(x: Float32Array, targets: Float32Array): void;
  /**
   * Train on the resident set: consecutive batches of `batchSize` rows taken from
   * `order` (row indices), the last one short if `order.length` is not a multiple.
   * One Adam step per batch. Returns the mean loss over the samples and the mean penalty
   * over the batches.
   */
  trainSamples(order: Int32Array, batchSize: number): LossReport;
  /** One Adam step on the given batch (not the resident set). */
  trainStep(x: Float32Array, targets: Float32Array): LossReport;
  /**
   * Loss, penalty and gradients of the objective on one batch, without changing the
   * parameters or the penalty state. For tests and parity checks.
   */
  gradients(x: Float32Array, targets: Float32Array): TreeGradients;
  /** Forward `N = x.length / F` inputs. */
  forward(x: Float32Array): ForwardResult;
  /** Accuracy of both prediction modes on a labelled split. */
  evaluate(x: Float32Array, labels: Int32Array): EvalResult;
  /** Free what the tree holds (tensors, native memory). */
  dispose(): void;
}

/** A way of running trees. */
export interface TreeBackend {
  /** The backend's name. */
  readonly name: BackendName;
  /** A line describing it, e.g. `"tfjs (wasm)"`, `"native (gcc, 2 threads)"`. */
  readonly description: string;
  /** Create a tree with the given parameters. */
  createTree(config: TreeConfig, params: TreeParams): TreeEngine;
}
