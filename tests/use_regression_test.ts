/**
 * The "use a tree" commands on a regression tree: predict, draw, explain, export (module,
 * ONNX, rules) and eval's importances and hard tree, on the small regression run of
 * `_regression.ts` (its CSV has the feature columns and the target `price`).
 */
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { ort } from "../lib/deps_onnx.ts";
import { SoftDecisionTree } from "../lib/train/soft_tree.ts";
import { leafValues, valueText } from "../lib/tree/regression.ts";
import { treeSvg } from "../lib/render/tree_svg.ts";
import { prepareInputs } from "../lib/use/inputs.ts";
import { ONNX_NAMES, ONNX_REGRESSION_NAMES, treeOnnx } from "../lib/use/onnx_export.ts";
import { predictionsCsv, TreePredictor } from "../lib/use/predict.ts";
import { rulesMarkdown, treeRules } from "../lib/use/rules.ts";
import { featureReport } from "../cli/tabular.ts";
import { cliInProcess as cli } from "./_cli.ts";
import { REG_COLUMNS, regressionRun } from "./_regression.ts";

const run = await regressionRun();
const { tree, splits } = run;
const { test } = splits;
const F = REG_COLUMNS.length;
const target = tree.data.target!;
const values = leafValues(tree.params.phi, target);
globalThis.addEventListener("unload", () => Deno.removeSync(run.dir, { recursive: true }));

/** The raw (original-unit) rows of the test split. */
function rawTest(): Float32Array {
  const { min, max } = tree.data.scaling!;
  return Float32Array.from(test.x, (v, i) => min[i % F] + v * (max[i % F] - min[i % F]));
}

Deno.test("TreePredictor gives a regression tree's values: the max-leaf's and the mixture, as the backend's predictValues()", async () => {
  const predictor = new TreePredictor(tree);
  assert.equal(predictor.target, "price");
  const soft = await SoftDecisionTree.fromCheckpoint(tree);
  try {
    const v = soft.predictValues(test.x);
    for (let i = 0; i < test.n; i++) {
      const p = predictor.predict(test.x.subarray(i * F, (i + 1) * F));
      assert.equal(p.value, values[p.leaf]);
      assert.ok(Math.abs(p.value! - v.maxLeaf[i]) < 1e-9, `row ${i}`);
      // The backend's mixture is float32 in standardised units.
      assert.ok(Math.abs(p.mixtureValue! - v.mixture[i]) < 1e-5 * target.std, `row ${i}`);
    }
  } finally {
    soft.dispose();
  }
});

Deno.test("predict on the CSV prints values, and writes CSV and JSON with columns named after the target", async () => {
  const inputs = await prepareInputs([run.csv], tree);
  assert.equal(inputs.length, 300);
  // The target's column is read as each row's true value, not as a feature.
  assert.equal(inputs[0].label, (await Deno.readTextFile(run.csv)).split("\n")[1].split(",")[4]);
  const predictions = new TreePredictor(tree).predictInputs(inputs);
  const csv = predictionsCsv(predictions, "price").split("\n");
  assert.equal(
    csv[0],
    "input,price,price_mixture,leaf,leaf_probability,path,preprocessing,true_price",
  );
  assert.equal(Number(csv[1].split(",")[1]), predictions[0].value);

  const dir = await Deno.makeTempDir();
  const table = await cli(["predict", run.csv, "--model", run.dir, "--quiet"]);
  assert.equal(table.code, 0, table.err);
  const head = table.out.split("\n")[0];
  assert.match(head, /^input\s+price\s+mixture\s+leaf\s+P\(leaf\)\s+true price\s+preprocessing/);
  const out = await cli([
    "predict",
    run.csv,
    "--model",
    run.dir,
    "--out",
    `${dir}/p.csv`,
    "--json",
  ]);
  assert.equal(out.code, 0, out.err);
  const j = out.json();
  assert.equal(j.task, "regression");
  assert.equal(j.target, "price");
  const first = (j.predictions as Record<string, unknown>[])[0];
  assert.equal(first.value, predictions[0].value);
  assert.equal(first.mixture_value, predictions[0].mixtureValue);
  assert.equal(first.true_value, Number(inputs[0].label));
  assert.equal(first.class, undefined);
  assert.match(await Deno.readTextFile(`${dir}/p.csv`), /^input,price,price_mixture,/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("draw: a regression tree's leaves show their value, spread and share; --json gives the leaf values; --class is refused", async () => {
  const svg = treeSvg(tree);
  assert.match(svg, /Soft regression tree: depth 3, predicts price/);
  const spread = target.leaves!;
  for (let l = 0; l < 8; l++) {
    assert.match(svg, new RegExp(`class="leaf" data-leaf="${l}"[^>]*data-value="${values[l]}"`));
    assert.match(svg, new RegExp(`data-leaf="${l}"[^>]*data-share="${spread.share[l]}"`));
  }
  // Inner nodes keep the tabular weight lists by feature name.
  assert.match(svg, /income/);

  const x = test.x.subarray(0, F);
  const p = new TreePredictor(tree).predict(x);
  const path = treeSvg(tree, { input: x, trueValue: test.values![0] });
  assert.match(path, new RegExp(`data-max-leaf="${p.leaf}"[^>]*data-value="${p.value}"`));
  assert.match(path, /true price: \d/);
  assert.match(path, /predicted: \d/);

  const dir = await Deno.makeTempDir();
  const j = await cli(["draw", "--model", run.dir, "--out", `${dir}/tree.png`, "--json"]);
  assert.equal(j.code, 0, j.err);
  const s = j.json();
  assert.equal(s.target, "price");
  const leaves = s.leaves as { leaf: number; value: number; train_share: number }[];
  assert.deepEqual(leaves.map((v) => v.value), Array.from(values));
  assert.deepEqual(leaves.map((v) => v.train_share), spread.share);
  // A test row of the CSV, loaded as a regression target: its true value beside it.
  const item = await cli([
    "draw",
    ...["--model", run.dir, "--out", `${dir}/row.svg`, "--item", "2", "--json"],
  ]);
  assert.equal(item.code, 0, item.err);
  const row = item.json();
  assert.equal(typeof row.true_value, "number");
  assert.equal(typeof row.value, "number");
  assert.match(await Deno.readTextFile(`${dir}/row.svg`), /true price: \d/);
  const bad = await cli(["draw", "--model", run.dir, "--out", `${dir}/t.svg`, "--class", "3"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /regression tree has no classes/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("explain --json: a row's route, its leaf's value and spread, and each feature's contribution", async () => {
  const dir = await Deno.makeTempDir();
  const r = await cli([
    "explain",
    run.csv,
    "--item",
    "5",
    "--model",
    run.dir,
    "--out",
    `${dir}/row.svg`,
    "--json",
  ]);
  assert.equal(r.code, 0, r.err);
  const j = r.json();
  const [input] = (await prepareInputs([run.csv], tree)).slice(5);
  const p = new TreePredictor(tree).predict(input.x!);
  assert.equal(j.value, p.value);
  assert.equal(j.leaf_value, values[p.leaf]);
  assert.equal(j.mixture_value, p.mixtureValue);
  assert.equal(j.true_value, Number(input.label));
  assert.equal(j.leaf_train_share, target.leaves!.share[p.leaf]);
  assert.deepEqual(j.path, p.path);
  assert.deepEqual(Object.keys(j.contributions as object).sort(), [...REG_COLUMNS].sort());
  assert.equal((j.path_steps as unknown[]).length, 3);
  const text = await Deno.readTextFile(`${dir}/row.svg`);
  assert.ok(text.includes(`true price: ${valueText(Number(input.label))}<`));
  const bad = await cli([
    "explain",
    run.csv,
    "--item",
    "5",
    "--model",
    run.dir,
    "--out",
    `${dir}/row.svg`,
    "--class",
    "cheap",
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /true value: a number/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("export's module returns a regression tree's values, as the library predicts them", async () => {
  const dir = await Deno.makeTempDir();
  const r = await cli(["export", "--model", run.dir, "--out", `${dir}/p`, "--json"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.json().target, "price");
  const mod = await import(pathToFileURL(`${dir}/p/predict.mjs`).href);
  const predictor = new TreePredictor(tree);
  for (let i = 0; i < test.n; i++) {
    const x = test.x.subarray(i * F, (i + 1) * F);
    const a = mod.predict(x), b = predictor.predict(x);
    assert.equal(a.value, b.value);
    assert.equal(a.mixtureValue, b.mixtureValue);
  }
  const readme = await Deno.readTextFile(`${dir}/p/README.md`);
  assert.match(readme, /a regression tree: it predicts `price`/);
  assert.match(readme, /Its test R² when it was trained: 0\.\d{4}/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("tree.onnx of a regression tree gives the values of the whole test split within 1e-5, the standardisation inside", async () => {
  const session = await ort.InferenceSession.create(treeOnnx(tree));
  assert.deepEqual(
    [...session.outputNames].sort(),
    [
      ONNX_NAMES.leaf,
      ONNX_NAMES.leafProbability,
      ONNX_REGRESSION_NAMES.mixtureValue,
      ONNX_REGRESSION_NAMES.value,
    ]
      .sort(),
  );
  const out = await session.run({
    [ONNX_NAMES.input]: new ort.Tensor("float32", rawTest(), [test.n, F]),
  });
  const value = out[ONNX_REGRESSION_NAMES.value].data as Float64Array;
  const mixture = out[ONNX_REGRESSION_NAMES.mixtureValue].data as Float64Array;
  const predictor = new TreePredictor(tree);
  let largest = 0, leaves = 0;
  for (let i = 0; i < test.n; i++) {
    const p = predictor.predict(test.x.subarray(i * F, (i + 1) * F));
    if (Number(out[ONNX_NAMES.leaf].data[i]) !== p.leaf) leaves++;
    largest = Math.max(
      largest,
      Math.abs(value[i] - p.value!),
      Math.abs(mixture[i] - p.mixtureValue!),
    );
  }
  assert.equal(leaves, 0, "leaves differ");
  assert.ok(largest <= 1e-5, `values differ by up to ${largest}`);
  assert.deepEqual(out[ONNX_REGRESSION_NAMES.value].dims, [test.n]);
});

Deno.test("rules of a regression tree: each leaf's value, spread and share; --top-k agreement counts leaves", async () => {
  const rules = treeRules(tree, { train: splits.train, test });
  assert.equal(rules.task, "regression");
  assert.equal(rules.target, "price");
  const shares = rules.rules.reduce((a, r) => a + r.trainShare!, 0);
  assert.ok(Math.abs(shares - 1) < 1e-9);
  for (const r of rules.rules) {
    assert.equal(r.value, values[r.leaf]);
    assert.ok(r.trainShare === 0 ? r.trainStd === null : r.trainStd! >= 0);
  }
  const full = rules.agreement!;
  assert.equal(full.compares, "leaf");
  assert.equal(full.withFullRules, 1);
  assert.ok(full.metrics!.r2 > 0.5, `rules' R² ${full.metrics!.r2}`);
  const md = rulesMarkdown(rules);
  assert.match(md, /# Rules of a soft regression tree/);
  assert.match(
    md,
    /then \*\*price = \d[\d.]*\*\* \(± [\d.]+ in its training rows, [\d.]+% of training rows\)/,
  );
  assert.match(md, /reach the same leaf as the full rules on 100\.0%/);

  const one = treeRules(tree, { topK: 1, train: splits.train, test });
  assert.ok(one.agreement!.withFullRules <= 1);

  // The CLI loads the tree's CSV as a regression target: spreads and the rules' R².
  const dir = await Deno.makeTempDir();
  const r = await cli(["export", "--model", run.dir, "--out", dir, "--format", "rules", "--json"]);
  assert.equal(r.code, 0, r.err);
  const j = r.json();
  assert.equal(j.task, "regression");
  assert.equal(j.agreement_compares, "leaf");
  assert.equal(j.agreement_with_full_rules, 1);
  assert.equal(typeof j.rules_r2, "number");
  const written = JSON.parse(await Deno.readTextFile(`${dir}/rules.json`));
  assert.ok(written.rules.some((rule: { trainStd: number | null }) => rule.trainStd! > 0));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("eval's feature report on a regression tree: importances sum to 1, the hard tree's agreement is of leaves", async () => {
  const soft = await SoftDecisionTree.fromCheckpoint(tree);
  try {
    const r = await featureReport(tree, test, "test", {
      quiet: true,
      forward: (x) => soft.forward(x),
    });
    const imp = Object.values(r.feature_importances as Record<string, number>);
    assert.ok(Math.abs(imp.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    assert.equal((r.feature_importances as Record<string, number>).constant, 0);
    assert.ok((r.hard_tree_agreement as number) > 0.5);
    assert.equal(r.hard_tree_class_agreement, undefined);
    assert.equal(r.hard_tree_accuracy, undefined);
    assert.ok((r.hard_tree_r2 as number) > 0.5, `hard tree R² ${r.hard_tree_r2}`);
  } finally {
    soft.dispose();
  }
});

Deno.test("report --json of a regression tree: R², RMSE and MAE on the test split, no accuracy", async () => {
  const dir = await Deno.makeTempDir();
  const r = await cli(["report", "--model", run.dir, "--out", `${dir}/r.html`, "--json"]);
  assert.equal(r.code, 0, r.err);
  const j = r.json();
  assert.equal(j.task, "regression");
  assert.equal(j.scores_from, "test split");
  assert.equal(j.test_accuracy, undefined);
  for (const k of ["test_r2", "test_rmse", "test_mae", "test_r2_mixture"]) {
    assert.equal(typeof j[k], "number", k);
  }
  const html = await Deno.readTextFile(`${dir}/r.html`);
  assert.match(html, /Test scores: price/);
  await Deno.remove(dir, { recursive: true });
});
