/**
 * Creating and checking a tree's parameters.
 *
 * @module
 */
import { Rng } from "../util/random.ts";
import { type TreeConfig, type TreeParams, treeSizes } from "./types.ts";

/**
 * Seeded initial parameters: filters uniform in `±1/sqrt(F)`, zero biases, leaf logits
 * normal with standard deviation 0.1, and `beta = invTemp` (1 when learned from `invTemp = 0`).
 *
 * @example
 * ```ts
 * const params = initParams({ ...DEFAULT_TREE_CONFIG, features: 784, classes: 10 }, 42);
 * ```
 */
export function initParams(config: TreeConfig, seed: number): TreeParams {
  checkConfig(config);
  const { inner, leaves } = treeSizes(config.depth);
  const rng = new Rng(seed);
  const bound = 1 / Math.sqrt(config.features);
  const w = new Float32Array(inner * config.features);
  for (let i = 0; i < w.length; i++) w[i] = (2 * rng.next() - 1) * bound;
  const phi = new Float32Array(leaves * config.classes);
  for (let i = 0; i < phi.length; i++) phi[i] = 0.1 * rng.normal();
  const beta = config.invTemp > 0 ? config.invTemp : 1;
  return { w, b: new Float32Array(inner), phi, beta };
}

/** A deep copy of parameters. */
export function cloneParams(p: TreeParams): TreeParams {
  return { w: p.w.slice(), b: p.b.slice(), phi: p.phi.slice(), beta: p.beta };
}

/**
 * Check a configuration's values.
 * @throws {RangeError} naming the first bad field and its value.
 */
export function checkConfig(config: TreeConfig): void {
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`${name} must be a whole number from ${min} to ${max}, got ${v}`);
    }
  };
  int("Depth", config.depth, 1, 16);
  int("Features", config.features, 1, 1 << 24);
  const task = config.task ?? "classification";
  if (task !== "classification" && task !== "regression") {
    throw new RangeError(`Task must be "classification" or "regression", got "${task}"`);
  }
  if (task === "regression") int("Targets", config.classes, 1, 1 << 16);
  else int("Classes", config.classes, 2, 1 << 16);
  const pos = (name: string, v: number, allowZero: boolean) => {
    if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
      throw new RangeError(`${name} must be ${allowZero ? "zero or more" : "positive"}, got ${v}`);
    }
  };
  pos("Inverse temperature", config.invTemp, config.learnBeta);
  pos("Penalty strength", config.penaltyStrength, true);
  pos("Penalty decay", config.penaltyDecay, true);
  pos("EMA window", config.emaWindow, false);
  pos("Learning rate", config.learningRate, false);
  if (config.loss !== "expected" && config.loss !== "mixture") {
    throw new RangeError(`Loss must be "expected" or "mixture", got "${config.loss}"`);
  }
}

/**
 * Check that parameters have the shapes a configuration asks for.
 * @throws {RangeError} naming the array, its length and the expected length.
 */
export function checkParams(config: TreeConfig, params: TreeParams): void {
  const { inner, leaves } = treeSizes(config.depth);
  const want: [string, number, number][] = [
    ["w", params.w.length, inner * config.features],
    ["b", params.b.length, inner],
    ["phi", params.phi.length, leaves * config.classes],
  ];
  for (const [name, got, expected] of want) {
    if (got !== expected) {
      throw new RangeError(
        `Parameter "${name}" must hold ${expected} values for depth ${config.depth}, ${config.features} features and ${config.classes} classes, got ${got}`,
      );
    }
  }
  if (!Number.isFinite(params.beta)) {
    throw new RangeError(`Beta must be finite, got ${params.beta}`);
  }
}
