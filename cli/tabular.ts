/**
 * What `eval` adds about a tree's features and its hard tree: the global feature importances
 * (by name) and how often routing by `p > 0.5` agrees with the max-leaf prediction.
 *
 * @module
 */
import type { Dataset } from "../lib/data/types.ts";
import type { TreeCheckpoint } from "../lib/io/types.ts";
import type { ForwardResult } from "../lib/backends/types.ts";
import {
  featureImportances,
  hardLeaves,
  pathContributions,
  RouteTally,
  topTerms,
} from "../lib/tree/importance.ts";
import { leafClasses } from "../lib/tree/inspect.ts";
import { leafValues, regressionMetrics, valueText } from "../lib/tree/regression.ts";
import { isRegression } from "../lib/tree/types.ts";
import { importanceSvg } from "../lib/render/features_svg.ts";
import { pictureFormat, writePicture } from "../lib/render/write.ts";
import { UsageError } from "./common.ts";
import { info } from "./progress.ts";

/** Checks that `value` names a .svg or .png file (a usage error otherwise). */
export function pictureArg(option: string, value: string): void {
  try {
    pictureFormat(value);
  } catch {
    throw new UsageError(`${option} must name a .svg or .png file, got "${value}"`);
  }
}

/** Feature names of a tree: its data's, else `x0 ..`. */
export function featureNamesOf(tree: Pick<TreeCheckpoint, "config" | "data">): string[] {
  const F = tree.config.features;
  const names = tree.data.featureNames;
  return names?.length === F ? names : Array.from({ length: F }, (_, f) => `x${f}`);
}

/**
 * The importances and hard-tree agreement of `tree` on `ds`, printed (unless quiet) and
 * returned as `eval --json` fields. A regression tree has no classes: its hard-tree
 * agreement is that of leaves, and where `ds` has values the hard tree's R², RMSE and MAE
 * (`hard_tree_r2`, ...) stand for its accuracy.
 */
export async function featureReport(
  tree: TreeCheckpoint,
  ds: Dataset,
  split: string,
  options: { quiet: boolean; picture?: string; forward: (x: Float32Array) => ForwardResult },
): Promise<Record<string, unknown>> {
  const quiet = options.quiet;
  const { config, params, data } = tree;
  const names = featureNamesOf(tree);
  // One forward pass of the backend gives both the node masses and the hard routes.
  const tally = new RouteTally(config.depth, leafClasses(params, config.classes));
  const F = config.features;
  const regression = isRegression(config);
  const I = 2 ** config.depth - 1;
  const values = regression ? leafValues(params.phi, data.target!) : null;
  const hardValues = new Float64Array(regression ? ds.n : 0);
  for (let start = 0; start < ds.n; start += 4096) {
    const end = Math.min(ds.n, start + 4096);
    const f = options.forward(ds.x.subarray(start * F, end * F));
    tally.add(f.inner, f.maxLeaf, regression ? undefined : ds.y.subarray(start, end));
    if (values) hardLeaves(f.inner, I).forEach((l, i) => hardValues[start + i] = values[l]);
  }
  const imp = featureImportances(params, config.depth, {
    mass: tally.mass,
    scaling: data.scaling,
  });
  const hard = tally.agreement();
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const hardMetrics = regression && ds.values && ds.n > 0
    ? regressionMetrics(hardValues, ds.values)
    : null;
  if (regression) {
    info(
      `hard tree (route by p > 0.5): same leaf as max-leaf on ${pct(hard.leaf)}` +
        (hardMetrics
          ? `, R² ${hardMetrics.r2.toFixed(4)}, RMSE ${valueText(hardMetrics.rmse)}`
          : "") +
        ` (${split})`,
      quiet,
    );
  } else {
    info(
      `hard tree (route by p > 0.5): same leaf as max-leaf on ${pct(hard.leaf)}, same class ` +
        `on ${pct(hard.class)}, accuracy ${pct(hard.accuracy!)} (${split})`,
      quiet,
    );
  }
  if (!data.imageShape) {
    const top = [...imp.keys()].sort((a, b) => imp[b] - imp[a]).slice(0, 5);
    info(
      `feature importances (${split}): ` +
        top.map((f) => `${names[f]} ${(100 * imp[f]).toFixed(1)}%`).join(", ") +
        (names.length > 5 ? ", ..." : ""),
      quiet,
    );
  }
  if (options.picture) {
    const svg = importanceSvg(imp, names, {
      caption: `|w| weighted by the probability mass reaching each node on the ${split} split ` +
        `(${ds.n} samples)`,
    });
    await writePicture(options.picture, svg);
    info(`wrote ${options.picture}`, quiet);
  }
  const importances = Object.fromEntries(names.map((n, f) => [n, imp[f]]));
  if (regression) {
    return {
      hard_tree_agreement: hard.leaf,
      ...(hardMetrics
        ? {
          hard_tree_r2: hardMetrics.r2,
          hard_tree_rmse: hardMetrics.rmse,
          hard_tree_mae: hardMetrics.mae,
        }
        : {}),
      feature_importances: importances,
    };
  }
  return {
    hard_tree_agreement: hard.leaf,
    hard_tree_class_agreement: hard.class,
    hard_tree_accuracy: hard.accuracy,
    feature_importances: importances,
  };
}

/**
 * `explain --json` fields: each feature's contribution along the input's decision path (by
 * name, largest first) and, per node on the path, `z` and its largest terms.
 */
export function contributionsJson(
  tree: TreeCheckpoint,
  x: ArrayLike<number>,
  terms = 5,
): Record<string, unknown> {
  const { config, params } = tree;
  const names = featureNamesOf(tree);
  const c = pathContributions(params, config.depth, config.classes, x);
  const order = [...c.total.keys()].sort((a, b) => Math.abs(c.total[b]) - Math.abs(c.total[a]));
  return {
    contributions: Object.fromEntries(order.map((f) => [names[f], c.total[f]])),
    path_steps: c.steps.map((s) => ({
      node: s.node,
      z: s.z,
      direction: s.right ? "right" : "left",
      bias: s.bias,
      terms: topTerms(s.terms, terms).indices.map((f) => ({ feature: names[f], term: s.terms[f] })),
    })),
  };
}
