/**
 * The `export` formats beyond the standalone predictor: `onnx` (tree.onnx) and `rules`
 * (rules.md and rules.json, with their agreement on the test split).
 *
 * @module
 */
import type { TreeCheckpoint } from "../lib/io/types.ts";
import { inDir } from "../lib/io/atomic.ts";
import { exportOnnx } from "../lib/use/onnx_export.ts";
import { exportRules, treeRules } from "../lib/use/rules.ts";
import { HintedError, printJson } from "./common.ts";
import { info } from "./progress.ts";
import { loadDataFrom } from "./train.ts";
import { trainedShapeOptions } from "../lib/data/mod.ts";

/** What the `export` command passes on for `--format onnx|rules`. */
export interface FormatOptions {
  out: string;
  format: "onnx" | "rules";
  topK?: number;
  data?: string;
  labelColumn?: string;
  json?: boolean;
  quiet?: boolean;
}

async function outFolder(dir: string): Promise<void> {
  try {
    if (!(await Deno.stat(dir)).isDirectory) {
      throw new HintedError(
        `Cannot export to "${dir}": it is a file, not a folder`,
        "give --out a folder",
      );
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await Deno.mkdir(dir, { recursive: true });
  }
}

/** Writes tree.onnx, or the rules, for `export --format onnx|rules`. */
export async function exportFormat(tree: TreeCheckpoint, o: FormatOptions): Promise<void> {
  const quiet = Boolean(o.quiet);
  if (o.format === "onnx") {
    await outFolder(o.out);
    const path = inDir(o.out, "tree.onnx");
    const bytes = await exportOnnx(tree, path);
    if (o.json) {
      printJson({ command: "export", format: "onnx", out: o.out, files: [path], bytes });
    } else info(`wrote ${path} (${bytes} bytes)`, quiet);
    return;
  }
  const spec = o.data ?? tree.data.source;
  // The tree's own data is read as it was trained on (split seed, test set, label column).
  const trained = o.data
    ? trainedShapeOptions(tree.data)
    : trainedShapeOptions(tree.data, tree.meta);
  const size = trained.imageSize;
  let splits;
  try {
    splits = await loadDataFrom({
      data: spec,
      labelColumn: o.labelColumn ??
        (trained.labelColumn === undefined ? undefined : String(trained.labelColumn)),
      task: trained.task,
      seed: trained.seed,
      testData: trained.testData,
      imageSize: size ? `${size.width}x${size.height}` : undefined,
      channels: trained.channels ? String(trained.channels) as "1" | "3" : undefined,
    }, quiet);
  } catch (error) {
    throw new HintedError(
      `Cannot write rules: the data "${spec}" (for leaf shares and the agreement on the test ` +
        `split) cannot be loaded: ${(error as Error).message}`,
      "give the tree's data with --data (and --label-column for a CSV)",
      { cause: error },
    );
  }
  if (splits.train.features !== tree.config.features) {
    throw new HintedError(
      `Cannot write rules: the data "${spec}" has ${splits.train.features} features, the tree ` +
        `reads ${tree.config.features}`,
      "give the data the tree was trained on with --data",
    );
  }
  const rules = treeRules(tree, { topK: o.topK, train: splits.train, test: splits.test });
  await outFolder(o.out);
  const files = await exportRules(rules, o.out);
  const a = rules.agreement!;
  if (a.compares === "leaf") {
    // A regression tree: the agreement is of leaves (it has no classes).
    const m = a.metrics;
    if (o.json) {
      printJson({
        command: "export",
        format: "rules",
        out: o.out,
        files,
        task: "regression",
        target: rules.target,
        top_k: rules.topK,
        units: rules.units,
        test_samples: a.n,
        agreement_compares: "leaf",
        agreement_with_full_rules: a.withFullRules,
        agreement_with_max_leaf: a.withMaxLeaf,
        full_rules_agreement_with_max_leaf: a.fullRulesWithMaxLeaf,
        rules_r2: m?.r2 ?? null,
        rules_rmse: m?.rmse ?? null,
        rules_mae: m?.mae ?? null,
      });
    } else {
      info(`wrote ${files.join(", ")}`, quiet);
      info(
        `on ${a.n} test samples the rules${
          o.topK ? ` (${o.topK} terms per test)` : ""
        } reach the same leaf as the full rules on ${(100 * a.withFullRules).toFixed(1)}% and ` +
          `as the max-leaf prediction on ${(100 * a.withMaxLeaf).toFixed(1)}% (a regression ` +
          `tree's agreement counts leaves)` + (m ? `; rules' R² ${m.r2.toFixed(4)}` : ""),
        quiet,
      );
    }
    return;
  }
  if (o.json) {
    printJson({
      command: "export",
      format: "rules",
      out: o.out,
      files,
      top_k: rules.topK,
      units: rules.units,
      test_samples: a.n,
      agreement_with_full_rules: a.withFullRules,
      agreement_with_max_leaf: a.withMaxLeaf,
      full_rules_agreement_with_max_leaf: a.fullRulesWithMaxLeaf,
      rules_accuracy: a.accuracy,
    });
  } else {
    info(`wrote ${files.join(", ")}`, quiet);
    info(
      `on ${a.n} test samples the rules${
        o.topK ? ` (${o.topK} terms per test)` : ""
      } agree with the full rules on ${(100 * a.withFullRules).toFixed(1)}% and with the ` +
        `max-leaf prediction on ${(100 * a.withMaxLeaf).toFixed(1)}%`,
      quiet,
    );
  }
}
