/**
 * `softtree export`: a trained tree as a standalone, dependency-free ES module predictor with
 * its weights and a README, for Deno, Node and browsers.
 *
 * @module
 */
import { jsonOption, modelOption, quietOption } from "./options.ts";
import { Command } from "@commander-js/extra-typings";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { exportPredictor } from "../lib/use/export.ts";
import { choiceArg, HintedError, intArg, printJson, UsageError } from "./common.ts";
import { exportFormat } from "./export_formats.ts";
import { dataSpecArg } from "./train.ts";
import { info } from "./progress.ts";

/** The `export` command. */
export function exportCommand() {
  return new Command("export")
    .description(
      "Write a trained tree as a standalone predictor: predict.mjs (one ES module, no " +
        "dependencies; Deno, Node, browsers), tree.json (its weights) and a README; or as " +
        "tree.onnx (--format onnx), or as if-then rules (--format rules).",
    )
    .addOption(modelOption())
    .requiredOption("--out <dir>", "the folder to write (new, empty, or an earlier export)")
    .option(
      "--format <name>",
      "module (predict.mjs), onnx (tree.onnx) or rules (rules.md and rules.json)",
      choiceArg("--format", ["module", "onnx", "rules"] as const),
      "module" as const,
    )
    .option("--top-k <k>", "rules: keep the K largest terms of each test", intArg("--top-k", 1))
    .option(
      "--data <spec>",
      "rules: the tree's data (default: the data it was trained on)",
      dataSpecArg,
    )
    .option("--label-column <col>", "rules: the CSV's label column, by name or 0-based index")
    .addOption(jsonOption())
    .addOption(quietOption())
    .action(async (o) => {
      if (o.topK !== undefined && o.format !== "rules") {
        throw new UsageError("--top-k applies to --format rules only");
      }
      const tree = await loadTreeCheckpoint(o.model);
      if (o.format !== "module") {
        await exportFormat(tree, { ...o, format: o.format });
        return;
      }
      let result;
      try {
        result = await exportPredictor(tree, o.out);
      } catch (error) {
        if (error instanceof RangeError) {
          throw new HintedError(error.message, "give --out a new or empty folder", {
            cause: error,
          });
        }
        throw error;
      }
      if (o.json) {
        printJson({
          command: "export",
          out: o.out,
          files: result.files,
          depth: result.json.depth,
          features: result.json.features,
          classes: result.json.classes,
          ...(result.json.task === "regression"
            ? { task: "regression", target: result.json.target!.name }
            : {}),
        });
      } else {
        info(`wrote ${result.files.join(", ")}`, Boolean(o.quiet));
      }
    });
}
