/**
 * Predictions of a trained tree for inputs of one's own, with the reasons: the max-leaf class
 * and its probability, the mixture class, the leaf and its path probability, the path. The
 * maths is `predictor.js`, the same code the HTML report's page and an exported predictor run.
 *
 * @module
 */
import type { PreparedInput } from "./inputs.ts";
import { regressionJson, type UsableTree } from "./model.ts";
import { loadModel, type Model, type Prediction, predictTree } from "../tree/predictor.js";

export type { Model, Prediction } from "../tree/predictor.js";

/** One input's prediction, as `predict` reports it. */
export interface InputPrediction {
  /** The input's name (file, `file#i` or `file:line`). */
  input: string;
  /** The max-leaf class's name. */
  className: string;
  /** Its index. */
  classIndex: number;
  /** Its probability in the leaf's distribution. */
  probability: number;
  /** The mixture prediction's class name. */
  mixtureClassName: string;
  /** Its index. */
  mixtureClassIndex: number;
  /** Its probability in the mixture distribution. */
  mixtureProbability: number;
  /** The leaf with the greatest path probability. */
  leaf: number;
  /** That leaf's path probability. */
  leafProbability: number;
  /** Heap nodes from the root to the leaf. */
  path: number[];
  /** What was done to the input, in words. */
  steps: string[];
  /** The label the input carried, if any (a CSV `label` column; a regression tree's target column). */
  label?: string;
  /** A regression tree's max-leaf prediction: the most probable leaf's value (target units). */
  value?: number;
  /** A regression tree's mixture prediction: the path-weighted mean of the leaves' values. */
  mixtureValue?: number;
}

/**
 * A tree ready to predict in plain JavaScript (no backend needed).
 *
 * @example
 * ```ts
 * const predictor = new TreePredictor(await loadTreeCheckpoint("runs/x"));
 * predictor.predict(x).className; // "7"
 * ```
 */
export class TreePredictor {
  #model: Model;

  /**
   * Makes a predictor of a trained tree.
   *
   * @param tree A checkpoint, or anything with `config`, `params` and `data`.
   * @throws {RangeError} When the parameters do not fit the tree's shape.
   */
  constructor(tree: UsableTree) {
    const { config, params, data } = tree;
    this.#model = loadModel({
      format: "softtree-predictor",
      version: 1,
      depth: config.depth,
      features: config.features,
      classes: config.classes,
      classNames: data.classNames,
      beta: params.beta,
      w: params.w,
      b: params.b,
      phi: params.phi,
      ...regressionJson(tree),
    });
  }

  /** A regression tree's target name, or `null` for a classification tree. */
  get target(): string | null {
    return this.#model.target?.name ?? null;
  }

  /** The loaded model (`predictor.js`'s form). */
  get model(): Model {
    return this.#model;
  }

  /**
   * Route one input and predict its class.
   *
   * @param x The input `[F]`, scaled like the training data.
   * @returns The prediction with its leaf, path and both distributions.
   * @throws {RangeError} When `x` does not hold `F` values.
   */
  predict(x: ArrayLike<number>): Prediction {
    return predictTree(this.#model, x);
  }

  /**
   * Predict every prepared input that has an `x`; inputs with an `error` are passed over.
   *
   * @param inputs From `prepareInputs`.
   * @returns One prediction per usable input, in order.
   */
  predictInputs(inputs: PreparedInput[]): InputPrediction[] {
    const out: InputPrediction[] = [];
    for (const input of inputs) {
      if (!input.x) continue;
      const p = this.predict(input.x);
      out.push({
        input: input.name,
        className: p.className,
        classIndex: p.class,
        probability: p.probabilities[p.class],
        mixtureClassName: this.#model.classNames[p.mixtureClass],
        mixtureClassIndex: p.mixtureClass,
        mixtureProbability: p.mixture[p.mixtureClass],
        leaf: p.leaf,
        leafProbability: p.leafProbability,
        path: p.path,
        steps: input.steps,
        ...(input.label !== undefined ? { label: input.label } : {}),
        ...(p.value !== undefined ? { value: p.value, mixtureValue: p.mixtureValue } : {}),
      });
    }
    return out;
  }
}

/** Quote a CSV cell when it needs it. */
function csvCell(value: string | number): string {
  const s = String(value);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Predictions as CSV text: a header, then one row per input (`input, class, probability,
 * mixture_class, mixture_probability, leaf, leaf_probability, path, preprocessing`, and
 * `label` when some input carried one). A regression tree's predictions (`target` given)
 * have the value columns `TARGET` (max-leaf) and `TARGET_mixture` instead of the classes, and
 * `true_TARGET` for the values the inputs carried.
 *
 * @param predictions From {@linkcode TreePredictor.predictInputs}.
 * @param target A regression tree's target name ({@linkcode TreePredictor.target}).
 * @returns The CSV text, ending in a newline.
 * @example
 * ```ts
 * await Deno.writeTextFile("preds.csv", predictionsCsv(predictor.predictInputs(inputs)));
 * ```
 */
export function predictionsCsv(
  predictions: InputPrediction[],
  target: string | null = null,
): string {
  const withLabel = predictions.some((p) => p.label !== undefined);
  if (target !== null) return valuesCsv(predictions, target, withLabel);
  const head = [
    "input",
    "class",
    "probability",
    "mixture_class",
    "mixture_probability",
    "leaf",
    "leaf_probability",
    "path",
    "preprocessing",
    ...(withLabel ? ["label"] : []),
  ];
  const lines = [head.join(",")];
  for (const p of predictions) {
    lines.push(
      [
        p.input,
        p.className,
        p.probability.toFixed(6),
        p.mixtureClassName,
        p.mixtureProbability.toFixed(6),
        p.leaf,
        p.leafProbability.toFixed(6),
        p.path.join(" "),
        p.steps.join("; "),
        ...(withLabel ? [p.label ?? ""] : []),
      ].map(csvCell).join(","),
    );
  }
  return lines.join("\n") + "\n";
}

/** A regression tree's predictions as CSV (see {@linkcode predictionsCsv}). */
function valuesCsv(predictions: InputPrediction[], target: string, withLabel: boolean): string {
  const head = [
    "input",
    target,
    `${target}_mixture`,
    "leaf",
    "leaf_probability",
    "path",
    "preprocessing",
    ...(withLabel ? [`true_${target}`] : []),
  ];
  const lines = [head.map(csvCell).join(",")];
  for (const p of predictions) {
    lines.push(
      [
        p.input,
        String(p.value),
        String(p.mixtureValue),
        p.leaf,
        p.leafProbability.toFixed(6),
        p.path.join(" "),
        p.steps.join("; "),
        ...(withLabel ? [p.label ?? ""] : []),
      ].map(csvCell).join(","),
    );
  }
  return lines.join("\n") + "\n";
}
