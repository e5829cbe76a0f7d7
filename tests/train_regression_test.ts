/**
 * Regression trees from data to results: a CSV's numeric target (auto-detected or asked for),
 * standardised targets, training and scoring by R² / RMSE / MAE, the checkpoint's target,
 * distillation from a regression teacher (a file of values, an ONNX model) with fidelity as
 * R², and the target on scikit-learn's diabetes data: a depth-4 tree beats
 * scikit-learn's depth-4 DecisionTreeRegressor on the same held-out rows.
 */
import assert from "node:assert/strict";
import { parseCsvDataset } from "../lib/data/csv.ts";
import { loadData } from "../lib/data/mod.ts";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { SoftDecisionTree } from "../lib/train/soft_tree.ts";
import { trainOrLoad } from "../lib/train/run.ts";
import { regressionMetrics, targetScale } from "../lib/tree/regression.ts";
import { Rng } from "../lib/util/random.ts";
import { cliInProcess } from "./_cli.ts";

const FIX = new URL("./fixtures/diabetes/", import.meta.url).pathname;
const BASELINES = JSON.parse(await Deno.readTextFile(`${FIX}baselines.json`));
/** The tabular recipe of docs/tabular.md, used for the diabetes runs. */
const RECIPE = [
  "--depth",
  "4",
  "--inv-temp",
  "1",
  "--learning-rate",
  "0.05",
  "--penalty-strength",
  "1",
  "--batch-size",
  "16",
  "--epochs",
  "100",
  "--patience",
  "30",
  "--no-pictures",
  "--quiet",
  "--json",
];
const DIABETES = [
  "--data",
  `csv:${FIX}train.csv`,
  "--test-data",
  `csv:${FIX}test.csv`,
  "--task",
  "regression",
];

/** A CSV of a piecewise target: 40 + 30·[a > 0.5] + 20·b + noise, in its own units. */
function stepCsv(n = 600, seed = 3): string {
  const rng = new Rng(seed);
  const lines = ["a,b,c,y"];
  for (let i = 0; i < n; i++) {
    const a = rng.next(), b = rng.next(), c = rng.next();
    const y = 40 + (a > 0.5 ? 30 : 0) + 20 * b + 0.5 * rng.normal();
    lines.push(`${a.toFixed(4)},${b.toFixed(4)},${c.toFixed(4)},${y.toFixed(3)}`);
  }
  return lines.join("\n") + "\n";
}

Deno.test("csv: a column of numbers that are not whole is a regression target; --task decides otherwise", () => {
  const s = parseCsvDataset(stepCsv(100), "step.csv");
  assert.ok(s.train.values, "auto: decimals are a regression target");
  assert.equal(s.train.classes, 1);
  assert.deepEqual(s.train.classNames, ["y"]);
  assert.equal(s.train.values!.length, s.train.n);
  // The target is standardised by the training split's values, the same object in every split.
  assert.deepEqual(s.val.targetScaling, s.train.targetScaling);
  const scale = targetScale(s.train.values!);
  assert.ok(Math.abs(scale.mean - s.train.targetScaling!.mean) < 1e-9);
  // Whole numbers are classes unless --task regression says otherwise.
  const ints = "x,n\n1,3\n2,5\n3,3\n4,9\n5,5\n6,3\n7,9\n8,5\n";
  assert.equal(parseCsvDataset(ints, "ints.csv").train.values, undefined);
  const asked = parseCsvDataset(ints, "ints.csv", { task: "regression", seed: 1 });
  assert.ok(asked.train.values);
  assert.deepEqual(
    [...asked.train.values!].sort(),
    [...asked.train.sourceRows!].map((r) => [3, 5, 3, 9, 5, 3, 9, 5][r]).sort(),
  );
  // A regression target that is not a number is named by line and column.
  assert.throws(
    () => parseCsvDataset("x,y\n1,2.5\n2,abc\n3,1.5\n", "bad.csv", { task: "regression" }),
    /line 3, column "y" holds "abc", not a number/,
  );
  assert.throws(
    () => parseCsvDataset("x,y\n1,2.5\n2,1e39\n3,1.5\n", "big.csv", { task: "regression" }),
    /line 3, column "y" holds "1e39", too large/,
  );
});

Deno.test("regression: a depth-3 tree learns a piecewise target, in the target's own units", async () => {
  const splits = parseCsvDataset(stepCsv(), "step.csv");
  const tree = await SoftDecisionTree.create(
    { depth: 3, invTemp: 1, learningRate: 0.05, penaltyStrength: 1 },
    splits.train,
    { seed: 1, backend: "native" },
  );
  try {
    assert.equal(tree.config.task, "regression");
    tree.fit(splits.train, splits.val, { epochs: 40, batchSize: 16, seed: 1 });
    const r = tree.evaluate(splits.test);
    assert.ok(r.regression, "a regression tree's evaluation has its scores");
    assert.ok(r.regression.maxLeaf.r2 > 0.9, `max-leaf R² ${r.regression.maxLeaf.r2}`);
    // The mixture blurs the step at a = 0.5 a little (soft routing).
    assert.ok(r.regression.mixture.r2 > 0.8, `mixture R² ${r.regression.mixture.r2}`);
    assert.equal(r.accuracy, r.regression.maxLeaf.r2);
    // The values are in the target's units (40 .. 90), and the scores are theirs.
    const v = tree.predictValues(splits.test.x);
    assert.ok(v.mixture.every((y) => y > 30 && y < 100), "values in the target's units");
    const m = regressionMetrics(v.maxLeaf, splits.test.values!);
    assert.equal(m.rmse, r.regression.maxLeaf.rmse);
    assert.ok(m.rmse < 5, `RMSE ${m.rmse} (the target spans 40 to 90)`);
    assert.throws(() => tree.engine.evaluate(splits.test.x, splits.test.y), /regression/);
  } finally {
    tree.dispose();
  }
});

Deno.test("regression: trainOrLoad saves the target with leaf spreads and R², RMSE, MAE", async () => {
  const out = await Deno.makeTempDir({ prefix: "softtree-reg-" });
  try {
    const splits = parseCsvDataset(stepCsv(), "step.csv");
    const r = await trainOrLoad(splits, {
      out,
      config: { depth: 2, invTemp: 1, learningRate: 0.05, penaltyStrength: 1 },
      fit: { epochs: 15, batchSize: 16 },
      backend: "native",
    });
    r.tree.dispose();
    const ckpt = await loadTreeCheckpoint(out);
    assert.equal(ckpt.config.task, "regression");
    const t = ckpt.data.target!;
    assert.equal(t.name, "y");
    assert.deepEqual({ mean: t.mean, std: t.std }, splits.train.targetScaling);
    assert.equal(t.leaves!.share.length, 4);
    assert.ok(Math.abs(t.leaves!.share.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    assert.ok(t.leaves!.std.some((s) => s !== null && s > 0));
    for (const key of ["testR2", "testRmse", "testMae", "testR2Mixture", "valR2"]) {
      assert.equal(typeof ckpt.meta[key], "number", key);
    }
    assert.equal(ckpt.meta.testR2, r.test.regression!.maxLeaf.r2);
    // A classification run in the same folder is a tree of another task.
    const cls = parseCsvDataset(stepCsv(), "step.csv", { task: "classification" });
    await assert.rejects(
      () => trainOrLoad(cls, { out, config: { depth: 2 }, fit: { epochs: 1 }, backend: "native" }),
      /task/,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("regression: train --json on the diabetes data beats the depth-4 DecisionTreeRegressor", async () => {
  const out = await Deno.makeTempDir({ prefix: "softtree-diabetes-" });
  try {
    const r = await cliInProcess(["train", ...DIABETES, ...RECIPE, "--out", out]);
    assert.equal(r.code, 0, r.err);
    const j = r.json();
    assert.equal(j.task, "regression");
    assert.equal(j.test_accuracy, undefined, "no accuracy for a regression tree");
    for (const k of ["test_r2", "test_rmse", "test_mae", "test_r2_mixture", "val_r2"]) {
      assert.equal(typeof j[k], "number", k);
    }
    const dt = BASELINES.decision_tree_depth_4.r2;
    assert.ok(
      (j.test_r2 as number) > dt,
      `max-leaf R² ${j.test_r2} vs DecisionTreeRegressor ${dt}`,
    );
    assert.ok((j.test_r2_mixture as number) > dt, `mixture R² ${j.test_r2_mixture}`);
    // eval reloads the CSV as a regression target and reports the same scores.
    const e = await cliInProcess(["eval", "--model", out, "--json", "--quiet"]);
    assert.equal(e.code, 0, e.err);
    assert.equal(e.json().test_r2, j.test_r2);
    assert.equal(e.json().r2_mixture, j.test_r2_mixture);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("regression: distill from a file of values and from an ONNX teacher; fidelity is R²", async () => {
  const out = await Deno.makeTempDir({ prefix: "softtree-diabetes-distill-" });
  try {
    const file = await cliInProcess([
      "distill",
      ...DIABETES,
      ...RECIPE,
      "--soft-labels",
      `${FIX}teacher_values.csv`,
      "--out",
      `${out}/file`,
    ]);
    assert.equal(file.code, 0, file.err);
    const f = file.json();
    assert.ok(Number.isNaN(f.fidelity as number) || f.fidelity === null, "no outputs for test");
    const onnx = await cliInProcess([
      "distill",
      ...DIABETES,
      ...RECIPE,
      "--teacher",
      `${FIX}teacher.onnx`,
      "--out",
      `${out}/onnx`,
    ]);
    assert.equal(onnx.code, 0, onnx.err);
    const j = onnx.json();
    // The ONNX teacher's outputs on the training rows are the file's values: the same tree.
    assert.ok(Math.abs((j.test_r2 as number) - (f.test_r2 as number)) < 1e-3);
    const teacher = BASELINES.teacher_mlp.r2;
    assert.ok(Math.abs((j.teacher_test_r2 as number) - teacher) < 1e-4, `${j.teacher_test_r2}`);
    assert.ok((j.fidelity as number) > 0.6, `fidelity R² ${j.fidelity}`);
    assert.ok((j.fidelity_mixture as number) > 0.6, `fidelity R² ${j.fidelity_mixture}`);
    assert.ok((j.test_r2_mixture as number) > BASELINES.decision_tree_depth_4.r2);
    // A classification teacher's options that make no sense for a regression tree are refused.
    const bad = await cliInProcess([
      "distill",
      ...DIABETES,
      ...RECIPE,
      "--teacher",
      `${FIX}teacher.onnx`,
      "--augment",
      "1",
      "--out",
      `${out}/bad`,
    ]);
    assert.notEqual(bad.code, 0);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("regression: --test-data of class labels for a regression tree is refused, naming both", async () => {
  const dir = await Deno.makeTempDir({ prefix: "softtree-reg-test-" });
  try {
    await Deno.writeTextFile(`${dir}/train.csv`, stepCsv(60));
    await Deno.writeTextFile(`${dir}/test.csv`, "a,b,c,y\n0.1,0.2,0.3,low\n0.5,0.5,0.5,high\n");
    await assert.rejects(
      () => loadData(`csv:${dir}/train.csv`, { testData: `csv:${dir}/test.csv` }),
      /not a number/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("npy and npz: float labels are a regression target; whole numbers with --task regression too", async () => {
  const { npy, npz } = await import("./_data_files.ts");
  const { loadNpyPair, loadNpz } = await import("../lib/data/npz.ts");
  const dir = await Deno.makeTempDir({ prefix: "softtree-reg-npy-" });
  try {
    const rng = new Rng(4);
    const n = 60, F = 3;
    const x = Float32Array.from({ length: n * F }, () => rng.next());
    const y = Float64Array.from({ length: n }, (_, i) => 10 + x[i * F] * 5 + 0.25);
    await Deno.writeFile(`${dir}/x.npy`, npy(x, [n, F]));
    await Deno.writeFile(`${dir}/y.npy`, npy(y, [n]));
    const s = await loadNpyPair(`${dir}/x.npy`, `${dir}/y.npy`, { seed: 1 });
    assert.equal(s.train.classes, 1);
    assert.ok(s.train.values && s.val.values && s.test.values);
    // Every split's values are the file's values of its rows.
    for (const key of ["train", "val", "test"] as const) {
      const ds = s[key], rows = s.rows![key]!;
      for (let i = 0; i < ds.n; i++) assert.equal(ds.values![i], Math.fround(y[rows[i]]));
    }
    assert.deepEqual(s.val.targetScaling, s.train.targetScaling);
    // Whole-number labels are classes unless --task regression says otherwise.
    const whole = Int32Array.from({ length: n }, (_, i) => i % 7);
    await Deno.writeFile(`${dir}/c.npy`, npy(whole, [n]));
    assert.equal((await loadNpyPair(`${dir}/x.npy`, `${dir}/c.npy`)).train.values, undefined);
    const asked = await loadNpyPair(`${dir}/x.npy`, `${dir}/c.npy`, { task: "regression" });
    assert.equal(asked.train.classes, 1);
    // An npz with its own test split: values in both.
    await Deno.writeFile(
      `${dir}/d.npz`,
      npz({
        x_train: npy(x.subarray(0, 40 * F), [40, F]),
        y_train: npy(y.subarray(0, 40), [40]),
        x_test: npy(x.subarray(40 * F), [20, F]),
        y_test: npy(y.subarray(40), [20]),
      }),
    );
    const z = await loadNpz(`${dir}/d.npz`);
    assert.equal(z.test.n, 20);
    assert.equal(z.test.values![3], Math.fround(y[43]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
