/**
 * The report's facts about a tree's features and its hard tree: global importances on the
 * test split and how often routing by `p > 0.5` agrees with the max-leaf prediction.
 *
 * @module
 */
import { featureImportances, hardLeaf } from "../tree/importance.ts";
import { leafClasses } from "../tree/inspect.ts";
import type { UsableTree } from "../use/model.ts";
import { isRegression } from "../tree/types.ts";

/** A labelled split, as plain arrays. */
export interface LabelledRows {
  /** Inputs `[N, F]`, scaled as the tree reads them. */
  x: Float32Array;
  /** Labels `[N]`. */
  y: Int32Array;
  /** `N`. */
  n: number;
  /** A regression tree's split: each input's true value `[N]` (the labels are then all 0). */
  values?: ArrayLike<number>;
}

/** What the report shows about features (see {@linkcode featureFacts}). */
export interface FeatureFacts {
  /** Feature names (`x0 ..` where the data has none), `[F]`. */
  names: string[];
  /** Global importances on the test split, summing to 1, `[F]`. */
  importances: number[];
  /**
   * The hard tree on the test split: same leaf, same class, its accuracy (`null` for a
   * regression tree, which has no classes).
   */
  hardTree: { leaf: number; class: number | null; accuracy: number | null };
}

/**
 * Importances and hard-tree agreement of `tree` on the test rows, from what the report has
 * already computed: the mass reaching each inner node `[I]` and each row's max-leaf `[N]`.
 */
export function featureFacts(
  tree: UsableTree,
  test: LabelledRows,
  routes: { mass: ArrayLike<number>; maxLeaf: ArrayLike<number> },
): FeatureFacts {
  const { config, params, data } = tree;
  const F = config.features;
  const names = data.featureNames?.length === F
    ? data.featureNames
    : Array.from({ length: F }, (_, f) => `x${f}`);
  const imp = featureImportances(params, config.depth, {
    mass: routes.mass,
    scaling: data.scaling,
  });
  const leafCls = leafClasses(params, config.classes);
  let sameLeaf = 0, sameClass = 0, correct = 0;
  for (let i = 0; i < test.n; i++) {
    const hard = hardLeaf(params, config.depth, test.x.subarray(i * F, (i + 1) * F));
    if (hard === routes.maxLeaf[i]) sameLeaf++;
    if (leafCls[hard] === leafCls[routes.maxLeaf[i]]) sameClass++;
    if (leafCls[hard] === test.y[i]) correct++;
  }
  const n = Math.max(1, test.n);
  const regression = isRegression(config);
  return {
    names,
    importances: Array.from(imp),
    hardTree: {
      leaf: sameLeaf / n,
      class: regression ? null : sameClass / n,
      accuracy: regression ? null : correct / n,
    },
  };
}
