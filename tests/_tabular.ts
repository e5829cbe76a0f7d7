/**
 * A small tabular run for the tests of feature names, importances, rules and ONNX export: a
 * CSV with named columns in their own units (ages, incomes, a constant column, noise), three
 * classes decided by two of the columns, and a depth-3 tree trained on it in a second.
 */
import { loadCsv } from "../lib/data/csv.ts";
import type { Splits } from "../lib/data/types.ts";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import type { TreeCheckpoint } from "../lib/io/types.ts";
import { SoftDecisionTree } from "../lib/train/soft_tree.ts";
import { Rng } from "../lib/util/random.ts";

/** The CSV's feature columns, in order. */
export const COLUMNS = ["age", "income", "constant", "noise_a", "noise_b"];

/**
 * `n` rows: `age` in [20, 80], `income` in [1000, 9000], `constant` always 7, two noise
 * columns; the class is `"low"`, `"mid"` or `"high"` by `age/60 + income/8000`.
 */
export function tabularCsv(n = 400, seed = 5): string {
  const rng = new Rng(seed);
  const lines = [[...COLUMNS, "risk"].join(",")];
  for (let i = 0; i < n; i++) {
    const age = 20 + 60 * rng.next();
    const income = 1000 + 8000 * rng.next();
    const score = (age - 20) / 60 + (income - 1000) / 8000;
    const risk = score < 0.7 ? "low" : score < 1.3 ? "mid" : "high";
    lines.push(
      [age.toFixed(1), income.toFixed(0), "7", rng.next().toFixed(3), rng.normal().toFixed(3), risk]
        .join(","),
    );
  }
  return lines.join("\n") + "\n";
}

/** A trained tabular run directory, its checkpoint, its CSV file and its splits. */
export interface TabularRun {
  dir: string;
  csv: string;
  tree: TreeCheckpoint;
  splits: Splits;
}

/** Writes the CSV into a new temporary folder and trains a depth-3 tree on it (seed 0 split). */
export async function tabularRun(depth = 3): Promise<TabularRun> {
  const dir = await Deno.makeTempDir({ prefix: "softtree-tabular-" });
  const csv = `${dir}/risk.csv`;
  await Deno.writeTextFile(csv, tabularCsv());
  const splits = await loadCsv(csv, { labelColumn: "risk" });
  const tree = await SoftDecisionTree.create(
    { depth, invTemp: 1, learningRate: 0.05, penaltyStrength: 1 },
    splits.train,
    { seed: 1 },
  );
  try {
    tree.fit(splits.train, splits.val, { epochs: 30, batchSize: 16, seed: 1 });
    const test = tree.evaluate(splits.test);
    await tree.save(dir, { command: "train (test fixture)", testAccuracy: test.accuracy });
  } finally {
    tree.dispose();
  }
  return { dir, csv, tree: await loadTreeCheckpoint(dir), splits };
}
