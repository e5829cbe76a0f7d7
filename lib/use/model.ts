/**
 * A trained tree as plain data for the JavaScript that runs without softtree (`predictor.js`
 * in the report's page and in an exported predictor), and what its inputs look like.
 *
 * @module
 */
import type { DataInfo } from "../io/types.ts";
import { isRegression, type TreeConfig, type TreeParams } from "../tree/types.ts";
import type { ImageTarget } from "../image/pixels.js";
import type { ModelJson } from "../tree/predictor.js";

/** What a tree needs to predict: its shape, its parameters, facts about its data. */
export interface UsableTree {
  /** Only `depth`, `features`, `classes` and `task` are read. */
  config: Pick<TreeConfig, "depth" | "features" | "classes" | "task">;
  /** The learned parameters. */
  params: TreeParams;
  /** Image shape or feature names (and scaling), and class names. */
  data: DataInfo;
}

/** What a tree's inputs look like, as stored in its predictor JSON. */
export type InputInfo =
  | ({ kind: "image"; imageShape: [number, number, number] } & ImageTarget)
  | {
    kind: "table";
    featureNames: string[] | null;
    /** Min-max ranges of the raw features (absent when the checkpoint does not keep them). */
    scaling: { min: number[]; max: number[] } | null;
  };

/** The predictor JSON with `input` typed. */
export interface PredictorJson extends ModelJson {
  /** What the tree's inputs are and how raw values are scaled. */
  input: InputInfo;
  /** Where the training data came from, e.g. `"mnist"`. */
  source: string;
}

const DIGITS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/**
 * The image input of a tree trained on images, or `null` for tabular data. Gray models are
 * taken to read light-on-dark images (MNIST, Fashion-MNIST, KMNIST and EMNIST all are); a
 * 28x28 gray model whose classes are the ten digits is a digit model (framed like MNIST).
 *
 * @param data The data facts of a checkpoint.
 * @returns Size, channels, and the two conventions, or `null`.
 * @example
 * ```ts
 * imageTarget(checkpoint.data); // { height: 28, width: 28, channels: 1, lightOnDark: true, digit: true }
 * ```
 */
export function imageTarget(data: DataInfo): ImageTarget | null {
  if (!data.imageShape) return null;
  const [height, width, channels] = data.imageShape;
  const digit = height === 28 && width === 28 && channels === 1 &&
    data.classNames.length === 10 && data.classNames.every((c, i) => c === DIGITS[i]);
  return {
    height,
    width,
    channels,
    lightOnDark: channels === 1 && data.lightOnDark !== false,
    digit,
  };
}

/**
 * The shortest decimal text that reads back (through `Math.fround`) as the same float32.
 * Weights are float32, so 9 significant digits always do; most need fewer.
 *
 * @param v A float32 value (as a number).
 * @returns Its shortest exact text.
 * @example
 * ```ts
 * float32Text(Math.fround(0.1)); // "0.1" (String() would give "0.10000000149011612")
 * ```
 */
export function float32Text(v: number): string {
  for (let p = 1; p < 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return String(s);
  }
  return String(Number(v.toPrecision(9)));
}

/** A float32 array as JSON numbers, each in its shortest exact form. */
function floats(a: Float32Array): number[] {
  return Array.from(a, (v) => Number(float32Text(v)));
}

/**
 * A tree as the plain JSON that `predictor.js` reads (`loadModel`): shape, class names, beta,
 * filters, biases and leaf logits (float32 values written so they read back exactly), and
 * what its inputs look like.
 *
 * @param tree A checkpoint, or anything with `config`, `params` and `data`.
 * @returns The JSON object (`JSON.stringify` it to store it).
 * @example
 * ```ts
 * const json = predictorJson(await loadTreeCheckpoint("runs/x"));
 * await Deno.writeTextFile("tree.json", JSON.stringify(json));
 * ```
 */
export function predictorJson(tree: UsableTree): PredictorJson {
  const { config, params, data } = tree;
  const target = imageTarget(data);
  const input: InputInfo = target
    ? { kind: "image", imageShape: data.imageShape!, ...target }
    : { kind: "table", featureNames: data.featureNames, scaling: data.scaling ?? null };
  return {
    format: "softtree-predictor",
    version: 1,
    depth: config.depth,
    features: config.features,
    classes: config.classes,
    classNames: data.classNames,
    beta: Number(float32Text(Math.fround(params.beta))),
    source: data.source,
    input,
    w: floats(params.w),
    b: floats(params.b),
    phi: floats(params.phi),
    ...regressionJson(tree),
  };
}

/**
 * The `task` and `target` of a regression tree's predictor JSON (its target's name and
 * standardisation, without the leaf spreads), or nothing for a classification tree.
 *
 * @throws {RangeError} For a regression tree without `data.target`.
 */
export function regressionJson(
  tree: Pick<UsableTree, "config" | "data">,
): Pick<ModelJson, "task" | "target"> {
  if (!isRegression(tree.config)) return {};
  const t = tree.data.target;
  if (!t) {
    throw new RangeError(
      "The regression tree does not record its target's name and scaling (data.target)",
    );
  }
  return { task: "regression", target: { name: t.name, mean: t.mean, std: t.std } };
}
