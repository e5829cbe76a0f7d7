/**
 * `softtree predict`: a trained tree's predictions for images (PNG, JPEG, folders of them),
 * IDX image files and CSV rows of one's own, each with the preprocessing said aloud. Inputs
 * that cannot be used get one error line each; the others are still predicted, and the exit
 * status is 1 when any failed.
 *
 * @module
 */
import { jsonOption, modelOption, quietOption } from "./options.ts";
import { describeTeacherRecord } from "../lib/teacher/any.ts";
import { Command, Option } from "@commander-js/extra-typings";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { prepareInputs } from "../lib/use/inputs.ts";
import type { PrepareOptions } from "../lib/image/pixels.js";
import { type InputPrediction, predictionsCsv, TreePredictor } from "../lib/use/predict.ts";
import { valueText } from "../lib/tree/regression.ts";
import { HintedError, printJson } from "./common.ts";
import { info } from "./progress.ts";

/** `--fit`, shared by `predict` and `explain`. */
export function fitOption() {
  return new Option(
    "--fit <mode>",
    "bring images to the tree's size: auto (digit framing for digit trees, else stretch; " +
      "nothing when the size fits), digit (MNIST's framing: crop to the ink, 20x20 box, " +
      "centre of mass), stretch, or none",
  ).choices(["auto", "digit", "stretch", "none"] as const).default("auto" as const);
}

/** `--invert`, shared by `predict` and `explain`. */
export function invertOption() {
  return new Option(
    "--invert <mode>",
    "invert images: auto (light backgrounds, for trees of light-on-dark images), always, never",
  ).choices(["auto", "always", "never"] as const).default("auto" as const);
}

/** The preprocessing options from parsed `--fit` and `--invert`. */
export function prepareOptionsFrom(o: { fit: string; invert: string }): PrepareOptions {
  return {
    fit: o.fit as PrepareOptions["fit"],
    invert: o.invert as PrepareOptions["invert"],
  };
}

/** A table with left-aligned text and right-aligned numbers, columns two spaces apart. */
function table(head: string[], rows: string[][], numeric: boolean[]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) =>
    cells.map((s, c) =>
      c === cells.length - 1 ? s : numeric[c] ? s.padStart(widths[c]) : s.padEnd(widths[c])
    ).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}

/** A regression tree's predictions as a table for people. */
function valueTable(predictions: InputPrediction[], target: string): string {
  const withLabel = predictions.some((p) => p.label !== undefined);
  const head = ["input", target, "mixture", "leaf", "P(leaf)"];
  if (withLabel) head.push(`true ${target}`);
  head.push("preprocessing");
  const rows = predictions.map((p) => [
    p.input,
    valueText(p.value!),
    valueText(p.mixtureValue!),
    String(p.leaf),
    p.leafProbability.toFixed(3),
    ...(withLabel ? [p.label ?? ""] : []),
    p.steps.join("; "),
  ]);
  return table(head, rows, [false, true, true, true, true, true, false]);
}

/** The predictions as a table for people. */
function predictionTable(predictions: InputPrediction[]): string {
  const withLabel = predictions.some((p) => p.label !== undefined);
  const head = ["input", "class", "p", "mixture", "p", "leaf", "P(leaf)"];
  if (withLabel) head.push("label");
  head.push("preprocessing");
  const rows = predictions.map((p) => [
    p.input,
    p.className,
    p.probability.toFixed(3),
    p.mixtureClassName,
    p.mixtureProbability.toFixed(3),
    String(p.leaf),
    p.leafProbability.toFixed(3),
    ...(withLabel ? [p.label ?? ""] : []),
    p.steps.join("; "),
  ]);
  const numeric = [false, false, true, false, true, true, true, false, false];
  return table(head, rows, numeric);
}

/** A prediction in the JSON output's snake_case. */
function predictionJson(p: InputPrediction): Record<string, unknown> {
  if (p.value !== undefined) {
    return {
      input: p.input,
      value: p.value,
      mixture_value: p.mixtureValue,
      leaf: p.leaf,
      leaf_probability: p.leafProbability,
      path: p.path,
      preprocessing: p.steps,
      ...(p.label !== undefined ? { true_value: Number(p.label) } : {}),
    };
  }
  return {
    input: p.input,
    class: p.className,
    class_index: p.classIndex,
    probability: p.probability,
    mixture_class: p.mixtureClassName,
    mixture_class_index: p.mixtureClassIndex,
    mixture_probability: p.mixtureProbability,
    leaf: p.leaf,
    leaf_probability: p.leafProbability,
    path: p.path,
    preprocessing: p.steps,
    ...(p.label !== undefined ? { label: p.label } : {}),
  };
}

/** The `predict` command. */
export function predictCommand() {
  return new Command("predict")
    .description(
      "Predict the class of images (PNG, JPEG; a folder means every image in it), IDX " +
        "image files or CSV rows with a trained tree (a regression tree: their values), " +
        "saying how each input was prepared.",
    )
    .argument("<inputs...>", "image files, folders of images, IDX files, CSV files")
    .addOption(modelOption())
    .addOption(fitOption())
    .addOption(invertOption())
    .option("--out <file>", "write the predictions as CSV to this file")
    .addOption(jsonOption())
    .addOption(quietOption())
    .action(async (inputs, o) => {
      const quiet = Boolean(o.quiet);
      const tree = await loadTreeCheckpoint(o.model);
      for (const t of tree.data.teacher ?? []) {
        info(`distilled from the teacher ${describeTeacherRecord(t)}`, quiet);
      }
      const prepared = await prepareInputs(inputs, tree, {
        ...prepareOptionsFrom(o),
        onSkip: (path, why) => info(`skipped ${path}: ${why}`, quiet),
      });
      const predictor = new TreePredictor(tree);
      const predictions = predictor.predictInputs(prepared);
      const target = predictor.target;
      const errors = prepared.filter((p) => p.error !== undefined);

      if (o.out) {
        await writeFileAtomic(o.out, predictionsCsv(predictions, target));
        info(`wrote ${o.out} (${predictions.length} predictions)`, quiet);
      }
      if (o.json) {
        printJson({
          command: "predict",
          model: o.model,
          teachers: tree.data.teacher ?? null,
          ...(target !== null ? { task: "regression", target } : {}),
          predictions: predictions.map(predictionJson),
          errors: errors.map((e) => ({ input: e.name, error: e.error })),
          failed: errors.length,
        });
      } else if (!o.out && predictions.length) {
        console.log(
          target !== null ? valueTable(predictions, target) : predictionTable(predictions),
        );
      }
      for (const e of errors) console.error(`error: ${e.error}`);
      if (prepared.length === 0) {
        throw new HintedError(
          `No inputs: ${inputs.map((s) => `"${s}"`).join(", ")} hold no images`,
          "give PNG or JPEG files, folders holding them, IDX image files or CSV files",
        );
      }
      if (errors.length) {
        throw new HintedError(
          `${errors.length} of ${prepared.length} inputs could not be predicted (see above)`,
          "fix or remove the inputs named above; --fit and --invert change how images are prepared",
        );
      }
    });
}
