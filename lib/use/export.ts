/**
 * A trained tree as a standalone predictor: one dependency-free ES module (`predict.mjs`)
 * that runs in Deno, Node and browsers, the weights it reads (`tree.json`, beside it), for
 * image trees the preprocessing of one's own images (`pixels.mjs`), and a README.
 *
 * @module
 */
import { inDir, writeFileAtomic } from "../io/atomic.ts";
import { pixelsSource, predictorSource } from "./_sources.ts";
import { type PredictorJson, predictorJson, type UsableTree } from "./model.ts";

/** The files an export writes, by role. */
export const EXPORT_FILES = {
  module: "predict.mjs",
  weights: "tree.json",
  pixels: "pixels.mjs",
  readme: "README.md",
} as const;

/** What {@linkcode exportPredictor} wrote. */
export interface ExportResult {
  /** The folder. */
  dir: string;
  /** The files written, as paths. */
  files: string[];
  /** The tree's JSON as written to `tree.json`. */
  json: PredictorJson;
}

// The glue after predictor.js's functions: load tree.json beside the module, bind predict.
const MODULE_TAIL = `
/**
 * Reads a JSON file beside this module: with fetch() in browsers and Deno, with node:fs in
 * Node (whose fetch() cannot read file: URLs).
 *
 * @param {URL} url
 * @returns {Promise<ModelJson>}
 */
async function readJson(url) {
  // @ts-ignore: Deno is a global only in Deno.
  if (url.protocol === "file:" && typeof Deno === "undefined") {
    const { readFile } = await import("node:fs/promises");
    return JSON.parse(await readFile(url, "utf8"));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(\`Cannot load \${url}: HTTP \${response.status}\`);
  return await response.json();
}

/** The tree, from tree.json beside this module. */
export const model = loadModel(await readJson(new URL("./tree.json", import.meta.url)));

/**
 * Predicts the class of one input with the tree of tree.json.
 *
 * @param {ArrayLike<number>} x The input, \`features\` values scaled like the training data.
 * @returns {Prediction} \`class\` (index), \`className\`, \`probabilities\` (the leaf's class
 *   distribution), \`leaf\`, \`leafProbability\`, \`path\` (heap nodes from the root), and the
 *   mixture prediction; for a regression tree also \`value\` (the leaf's value) and
 *   \`mixtureValue\`, in the target's units.
 */
export function predict(x) {
  return predictTree(model, x);
}
`;

function readme(json: PredictorJson, meta: Record<string, unknown>): string {
  const { depth, features, classes, classNames, input } = json;
  const target = json.task === "regression" ? json.target! : null;
  const r2 = meta.test_r2 ?? meta.testR2;
  const accuracy = target
    ? typeof r2 === "number"
      ? `Its test R² when it was trained: ${r2.toFixed(4)} (max-leaf).\n`
      : ""
    : typeof meta.testAccuracy === "number"
    ? `Its test accuracy when it was trained: ${
      (meta.testAccuracy * 100).toFixed(2)
    }% (max-leaf).\n`
    : "";
  const predicts = target
    ? `a regression tree: it predicts \`${target.name}\``
    : `${classes} classes\n(${classNames.join(", ")})`;
  const returns = target
    ? `\`predict(x)\` takes ${"INPUT"}, and returns \`{ value, mixtureValue, leaf, leafProbability,
path, ... }\`: the value of the leaf with the greatest path probability (in \`${target.name}\`'s
own units: the leaves hold standardised values, \`value = phi * ${target.std} + ${target.mean}\`),
the mixture prediction \`sum_l P^l value^l\`, the leaf, its path probability and the heap nodes
from the root to it (node \`n\` has children \`2n+1\`, left, and \`2n+2\`, right).`
    : `\`predict(x)\` takes ${"INPUT"}, and returns \`{ class, className, probabilities, leaf,
leafProbability, path, mixtureClass, mixture }\`: the class of the leaf with the greatest path
probability and that leaf's class distribution, the leaf, its path probability, the heap nodes
from the root to it (node \`n\` has children \`2n+1\`, left, and \`2n+2\`, right), and the
mixture prediction \`sum_l P^l Q^l\`.`;
  const inputText = input.kind === "image"
    ? `an image of ${input.imageShape.join(" x ")} (height, width, channels; row-major, channels ` +
      `last) with values in [0, 1]` +
      (input.lightOnDark ? ", light on a dark background as in MNIST" : "")
    : `${features} features` +
      (input.featureNames ? ` (${input.featureNames.join(", ")})` : "") +
      (input.scaling
        ? `, each min-max scaled with the training split's ranges: ` +
          "`(raw - min) / (max - min)`, the ranges are `input.scaling` in tree.json"
        : "");
  const example = input.kind === "image"
    ? `const x = new Float32Array(${features}); // ${input.imageShape.join("x")} pixels in [0, 1]`
    : `const x = new Float32Array(${features}); // the scaled features`;
  const pixels = input.kind === "image"
    ? `
## Your own images

\`pixels.mjs\` prepares a decoded image the way \`softtree predict\` does (gray or colour as
the tree reads, inversion of light backgrounds${input.digit ? ", MNIST's digit framing" : ""},
resizing, values in [0, 1]). In a browser, from a canvas:

\`\`\`js
import { predict } from "./predict.mjs";
import { prepareImage } from "./pixels.mjs";

const tree = await (await fetch("./tree.json")).json();
const { data, width, height } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
const prepared = prepareImage({ width, height, channels: 4, data, maxValue: 255 }, tree.input);
console.log(prepared.steps, predict(prepared.x).className);
\`\`\`
`
    : "";
  return `# A soft decision tree predictor

A soft binary decision tree (Frosst & Hinton 2017) exported by softtree: depth ${depth}
(${2 ** depth - 1} inner nodes, ${2 ** depth} leaves), ${features} features, ${predicts}, trained
on \`${json.source}\`.
${accuracy}
| file | holds |
| --- | --- |
| \`predict.mjs\` | the predictor: one ES module, no dependencies (Deno, Node, browsers) |
| \`tree.json\` | the weights it reads: filters \`w\`, biases \`b\`, leaf ${
    target ? "values" : "logits"
  } \`phi\`, \`beta\` |
${input.kind === "image" ? "| `pixels.mjs` | preprocessing of your own images (optional) |\n" : ""}
${returns.replace("INPUT", inputText)}

\`\`\`js
import { predict } from "./predict.mjs";

${example}
${
    target
      ? "const { value, mixtureValue, leaf, path } = predict(x);"
      : "const { className, probabilities, leaf, path } = predict(x);"
  }
\`\`\`

Run it with \`node main.mjs\`, \`deno run --allow-read main.ts\`, or in a page served over
HTTP (\`<script type="module">\`; browsers do not load modules from \`file:\` pages).
${pixels}`;
}

/**
 * Writes a standalone predictor for `tree` into `dir`: `predict.mjs` (the maths of
 * `predictor.js` and a loader for `tree.json`), `tree.json`, `pixels.mjs` for image trees,
 * and `README.md`. Each file is written atomically. `dir` must be absent, empty, or an
 * earlier export (whose files are replaced).
 *
 * @param tree A checkpoint, or anything with `config`, `params`, `data` (and `meta`, whose
 *   `testAccuracy` the README quotes).
 * @param dir The folder to write.
 * @returns The files written and the tree's JSON.
 * @throws {RangeError} When `dir` holds other files, or is a file.
 * @example
 * ```ts
 * await exportPredictor(await loadTreeCheckpoint("runs/x"), "predictor/");
 * const { predict } = await import("./predictor/predict.mjs");
 * ```
 */
export async function exportPredictor(
  tree: UsableTree & { meta?: Record<string, unknown> },
  dir: string,
): Promise<ExportResult> {
  const ours = new Set<string>(Object.values(EXPORT_FILES));
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) {
      throw new RangeError(`Cannot export to "${dir}": it is a file, not a folder`);
    }
    const others: string[] = [];
    for await (const entry of Deno.readDir(dir)) if (!ours.has(entry.name)) others.push(entry.name);
    if (others.length) {
      throw new RangeError(
        `Cannot export to "${dir}": it holds other files (${others.slice(0, 3).join(", ")}${
          others.length > 3 ? ", ..." : ""
        }); give an empty or new folder`,
      );
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const json = predictorJson(tree);
  const header = json.task === "regression"
    ? `// A soft regression tree predictor exported by softtree: depth ${json.depth}, ` +
      `${json.features} features, predicts ${json.target!.name}. No dependencies: Deno, Node, ` +
      `browsers.\n// Usage: import { predict } from "./predict.mjs"; predict(x) -> { value, ` +
      `mixtureValue, leaf, path, ... }\n`
    : `// A soft decision tree predictor exported by softtree: depth ${json.depth}, ` +
      `${json.features} features, ${json.classes} classes. No dependencies: Deno, Node, browsers.\n` +
      `// Usage: import { predict } from "./predict.mjs"; predict(x) -> { class, className, ` +
      `probabilities, leaf, path, ... }\n`;
  const files: [string, string][] = [
    [EXPORT_FILES.weights, JSON.stringify(json) + "\n"],
    [EXPORT_FILES.module, header + (await predictorSource()) + MODULE_TAIL],
    [EXPORT_FILES.readme, readme(json, tree.meta ?? {})],
  ];
  if (json.input.kind === "image") files.push([EXPORT_FILES.pixels, await pixelsSource()]);
  const written: string[] = [];
  for (const [name, text] of files) {
    const path = inDir(dir, name);
    await writeFileAtomic(path, text);
    written.push(path);
  }
  return { dir, files: written, json };
}
