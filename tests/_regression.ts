/**
 * A small regression run for the tests of the "use a tree" commands on regression trees: a
 * CSV with named columns in their own units (as `_tabular.ts`'s) and a numeric target
 * `price`, split and scaled by hand (the data loaders' regression support is not needed), and
 * a depth-3 regression tree trained on it with the engine, saved with its target's
 * standardisation and leaf spreads.
 */
import type { Dataset, Splits } from "../lib/data/types.ts";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import type { TreeCheckpoint } from "../lib/io/types.ts";
import { SoftDecisionTree } from "../lib/train/soft_tree.ts";
import { leafSpread, standardise, targetScale } from "../lib/tree/regression.ts";
import { Rng } from "../lib/util/random.ts";

/** The CSV's feature columns, in order. */
export const REG_COLUMNS = ["age", "income", "constant", "noise_a"];

/** `n` rows of the features and `price = 100 + 2 age + income / 50 + noise`. */
export function regressionRows(n = 300, seed = 7): { raw: number[][]; price: number[] } {
  const rng = new Rng(seed);
  const raw: number[][] = [], price: number[] = [];
  for (let i = 0; i < n; i++) {
    const age = Number((20 + 60 * rng.next()).toFixed(1));
    const income = Math.round(1000 + 8000 * rng.next());
    raw.push([age, income, 7, Number(rng.next().toFixed(3))]);
    price.push(Number((100 + 2 * age + income / 50 + 5 * rng.normal()).toFixed(2)));
  }
  return { raw, price };
}

/** The rows as CSV text with a header (`price` last). */
export function regressionCsv(rows = regressionRows()): string {
  const lines = [[...REG_COLUMNS, "price"].join(",")];
  rows.raw.forEach((r, i) => lines.push([...r, rows.price[i]].join(",")));
  return lines.join("\n") + "\n";
}

/** A trained regression run directory, its checkpoint, its CSV and its (scaled) splits. */
export interface RegressionRun {
  dir: string;
  csv: string;
  tree: TreeCheckpoint;
  splits: Splits;
}

/** Splits of the rows: the first 70% train, then 15% val, 15% test; min-max on train. */
export function regressionSplits(rows = regressionRows(), source = "csv:price.csv"): Splits {
  const n = rows.raw.length, F = REG_COLUMNS.length;
  const nTrain = Math.round(0.7 * n), nVal = Math.round(0.15 * n);
  const min = new Array(F).fill(Infinity), max = new Array(F).fill(-Infinity);
  for (let i = 0; i < nTrain; i++) {
    for (let f = 0; f < F; f++) {
      min[f] = Math.min(min[f], rows.raw[i][f]);
      max[f] = Math.max(max[f], rows.raw[i][f]);
    }
  }
  const scale = targetScale(rows.price.slice(0, nTrain));
  const split = (from: number, to: number): Dataset => {
    const m = to - from;
    const x = new Float32Array(m * F);
    for (let i = 0; i < m; i++) {
      for (let f = 0; f < F; f++) {
        const v = rows.raw[from + i][f];
        x[i * F + f] = max[f] > min[f] ? (v - min[f]) / (max[f] - min[f]) : 0;
      }
    }
    return {
      x,
      y: new Int32Array(m),
      n: m,
      features: F,
      classes: 1,
      imageShape: null,
      featureNames: [...REG_COLUMNS],
      source,
      classNames: ["price"],
      scaling: { min, max },
      values: Float32Array.from(rows.price.slice(from, to)),
      targetScaling: scale,
    };
  };
  return {
    train: split(0, nTrain),
    val: split(nTrain, nTrain + nVal),
    test: split(nTrain + nVal, n),
  };
}

/** Writes the CSV into a new temporary folder and trains a depth-`depth` regression tree. */
export async function regressionRun(depth = 3): Promise<RegressionRun> {
  const dir = await Deno.makeTempDir({ prefix: "softtree-regression-" });
  const csv = `${dir}/price.csv`;
  const rows = regressionRows();
  await Deno.writeTextFile(csv, regressionCsv(rows));
  const splits = regressionSplits(rows, `csv:${csv}`);
  const { train } = splits;
  const tree = await SoftDecisionTree.create(
    { depth, invTemp: 1, learningRate: 0.05, penaltyStrength: 1 },
    train,
    { seed: 1 },
  );
  try {
    const t = standardise(train.values!, train.targetScaling!);
    tree.engine.setTrainData(train.x, t);
    const rng = new Rng(3);
    for (let epoch = 0; epoch < 40; epoch++) {
      const order = Int32Array.from({ length: train.n }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      tree.engine.trainSamples(order, 16);
    }
    const maxLeaf = tree.forward(train.x).maxLeaf;
    tree.data.target!.leaves = leafSpread(maxLeaf, train.values!, 2 ** depth);
    const test = tree.evaluateRegression(splits.test);
    await tree.save(dir, {
      command: "train (test fixture)",
      test_r2: test.maxLeaf.r2,
      test_rmse: test.maxLeaf.rmse,
      test_mae: test.maxLeaf.mae,
    });
  } finally {
    tree.dispose();
  }
  return { dir, csv, tree: await loadTreeCheckpoint(dir), splits };
}
