/**
 * `softtree explain`: the decision path of one's own image through a trained tree, as the
 * picture `draw` makes for a test image (SVG or PNG, correlation mode, or the two-frame GIF),
 * after the same preprocessing as `predict`.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { prepareInputs } from "../lib/use/inputs.ts";
import { TreePredictor } from "../lib/use/predict.ts";
import { HintedError, printJson, UsageError } from "./common.ts";
import {
  aliased,
  classOption,
  correlationOption,
  depthLimitOption,
  itemOption,
  jsonOption,
  labelAliasOption,
  modelOption,
  quietOption,
  scaleOption,
  widthOption,
} from "./options.ts";
import { outArg, writeTreeDrawing } from "./draw.ts";
import { fitOption, invertOption, prepareOptionsFrom } from "./predict.ts";
import { info } from "./progress.ts";
import { isRegression } from "../lib/tree/types.ts";
import { valueText } from "../lib/tree/regression.ts";
import { contributionsJson } from "./tabular.ts";

/** The `explain` command. */
export function explainCommand() {
  return new Command("explain")
    .description(
      "Draw the decision path of your own image (PNG or JPEG; or one item of an IDX or CSV " +
        "file) through a trained tree, prepared as `predict` prepares it (a regression tree: " +
        "the leaf's value, and --class gives the true value).",
    )
    .argument("<input>", "an image file, or an IDX or CSV file with --item")
    .addOption(modelOption())
    .requiredOption(
      "--out <file>",
      "output file: .svg, .png or .gif (the GIF shows the path plain, then in correlation mode)",
      outArg,
    )
    .addOption(fitOption())
    .addOption(invertOption())
    .addOption(itemOption("which item of an IDX or CSV file (0-based)"))
    .addOption(classOption(
      "the input's true class (a regression tree's: its true value), written beside it",
    ))
    .addOption(labelAliasOption())
    .addOption(correlationOption())
    .addOption(depthLimitOption())
    .addOption(scaleOption())
    .addOption(widthOption())
    .addOption(jsonOption())
    .addOption(quietOption())
    .action(async (input, o) => {
      const quiet = Boolean(o.quiet);
      const trueClass = aliased(o.class, o.label, ["--class", "--label"]);
      const { path: out, format } = o.out;
      if (o.scale !== undefined && o.width !== undefined) {
        throw new UsageError("Give either --scale or --width, not both");
      }
      if (format === "svg" && (o.scale !== undefined || o.width !== undefined)) {
        throw new UsageError("--scale and --width apply to .png and .gif output, not .svg");
      }
      if (format === "gif" && o.correlation) {
        throw new UsageError(
          "A GIF shows both the plain and the correlation picture: drop --correlation",
        );
      }
      const tree = await loadTreeCheckpoint(o.model);
      const { config, data } = tree;
      const regression = isRegression(config);
      let label: number | undefined;
      let trueValue: number | undefined;
      if (trueClass !== undefined && regression) {
        trueValue = Number(trueClass);
        if (trueClass.trim() === "" || !Number.isFinite(trueValue)) {
          throw new UsageError(
            `--class gives a regression tree's true value: a number, got "${trueClass}"`,
          );
        }
      } else if (trueClass !== undefined) {
        label = data.classNames.indexOf(trueClass);
        if (label < 0) {
          throw new UsageError(
            `--class "${trueClass}" is not a class of this tree; its classes are ` +
              data.classNames.map((c) => `"${c}"`).join(", "),
          );
        }
      }
      const inputs = await prepareInputs([input], tree, prepareOptionsFrom(o));
      if (inputs.length === 0) {
        throw new HintedError(`No input: "${input}" holds no image`, "give one PNG or JPEG file");
      }
      if (inputs.length > 1 && o.item === undefined) {
        throw new UsageError(`"${input}" holds ${inputs.length} inputs: pick one with --item N`);
      }
      const index = o.item ?? 0;
      if (index >= inputs.length) {
        throw new UsageError(`--item must be below ${inputs.length}, got ${index}`);
      }
      const chosen = inputs[index];
      if (!chosen.x) {
        throw new HintedError(
          chosen.error ?? `Cannot use "${chosen.name}"`,
          "give a PNG or JPEG file the tree can read; --fit and --invert change how it is prepared",
        );
      }
      if (regression && trueValue === undefined && chosen.label !== undefined) {
        const v = Number(chosen.label);
        if (chosen.label.trim() !== "" && Number.isFinite(v)) trueValue = v;
      } else if (!regression && label === undefined && chosen.label !== undefined) {
        const k = data.classNames.indexOf(chosen.label);
        if (k >= 0) label = k;
      }
      info(`${chosen.name}: ${chosen.steps.join("; ")}`, quiet);
      const depthLimit = o.depthLimit === undefined
        ? undefined
        : Math.min(o.depthLimit, config.depth);
      await writeTreeDrawing(tree, o.out, {
        input: chosen.x,
        label,
        trueValue,
        correlation: o.correlation,
        depthLimit,
        caption: `input: ${chosen.name}`,
        scale: o.scale,
        width: o.width,
      });
      const p = new TreePredictor(tree).predict(chosen.x);
      if (o.json && regression) {
        printJson({
          command: "explain",
          input: chosen.name,
          out,
          format,
          task: "regression",
          target: data.target!.name,
          value: p.value,
          mixture_value: p.mixtureValue,
          true_value: trueValue ?? null,
          leaf: p.leaf,
          leaf_value: p.value,
          ...(data.target!.leaves
            ? {
              leaf_train_share: data.target!.leaves.share[p.leaf],
              leaf_train_std: data.target!.leaves.std[p.leaf],
            }
            : {}),
          leaf_probability: p.leafProbability,
          path: p.path,
          preprocessing: chosen.steps,
          ...contributionsJson(tree, chosen.x),
        });
      } else if (o.json) {
        printJson({
          command: "explain",
          input: chosen.name,
          out,
          format,
          class: p.className,
          class_index: p.class,
          probability: p.probabilities[p.class],
          mixture_class: data.classNames[p.mixtureClass],
          mixture_probability: p.mixture[p.mixtureClass],
          leaf: p.leaf,
          leaf_probability: p.leafProbability,
          path: p.path,
          preprocessing: chosen.steps,
          ...contributionsJson(tree, chosen.x),
        });
      } else {
        info(
          `wrote ${out}: predicted ${
            regression ? `${data.target!.name} ${valueText(p.value!)}` : p.className
          } (leaf ${p.leaf}, path probability ${p.leafProbability.toFixed(3)})`,
          quiet,
        );
      }
    });
}
