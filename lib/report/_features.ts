/**
 * The report's facts about a tree's features and its hard tree: global importances on the
 * test split and how often routing by `p > 0.5` agrees with the max-leaf prediction.
 *
 * @module
 */
import { featureImportances, hardTreeAgreement } from "../tree/importance.ts";
import type { UsableTree } from "../use/model.ts";
import type { LabelledRows } from "./data.ts";

/** What the report shows about features (see {@linkcode featureFacts}). */
export interface FeatureFacts {
  /** Feature names (`x0 ..` where the data has none), `[F]`. */
  names: string[];
  /** Global importances on the test split, summing to 1, `[F]`. */
  importances: number[];
  /** The hard tree on the test split: same leaf, same class, its accuracy. */
  hardTree: { leaf: number; class: number; accuracy: number };
}

/** Importances and hard-tree agreement of `tree` on the test rows. */
export function featureFacts(tree: UsableTree, test: LabelledRows): FeatureFacts {
  const { config, params, data } = tree;
  const F = config.features;
  const names = data.featureNames?.length === F
    ? data.featureNames
    : Array.from({ length: F }, (_, f) => `x${f}`);
  const imp = featureImportances(params, config.depth, { rows: test, scaling: data.scaling });
  const hard = hardTreeAgreement(params, config.depth, config.classes, test);
  return {
    names,
    importances: Array.from(imp),
    hardTree: { leaf: hard.leaf, class: hard.class, accuracy: hard.accuracy! },
  };
}
