/**
 * `softtree export`: a trained tree as a standalone, dependency-free ES module predictor with
 * its weights and a README, for Deno, Node and browsers.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { exportPredictor } from "../lib/use/export.ts";
import { HintedError, printJson } from "./common.ts";
import { info } from "./progress.ts";

/** The `export` command. */
export function exportCommand() {
  return new Command("export")
    .description(
      "Write a trained tree as a standalone predictor: predict.mjs (one ES module, no " +
        "dependencies; Deno, Node, browsers), tree.json (its weights) and a README.",
    )
    .requiredOption("--model <path>", "run directory or tree checkpoint file")
    .requiredOption("--out <dir>", "the folder to write (new, empty, or an earlier export)")
    .option("--json", "print one JSON summary on stdout")
    .option("--quiet", "no notes on stderr")
    .action(async (o) => {
      const tree = await loadTreeCheckpoint(o.model);
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
        });
      } else {
        info(`wrote ${result.files.join(", ")}`, Boolean(o.quiet));
      }
    });
}
