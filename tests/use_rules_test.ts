import assert from "node:assert/strict";
import { main } from "../cli.ts";
import { hardLeaf } from "../lib/tree/importance.ts";
import { rulesMarkdown, testText, treeRules } from "../lib/use/rules.ts";
import { COLUMNS, tabularRun } from "./_tabular.ts";

const run = await tabularRun();
const { tree, splits } = run;
const F = COLUMNS.length;
globalThis.addEventListener("unload", () => Deno.removeSync(run.dir, { recursive: true }));

/** The raw (original-unit) values of training row `i`. */
function rawRow(i: number): number[] {
  const { min, max } = tree.data.scaling!;
  return COLUMNS.map((_, f) => min[f] + splits.train.x[i * F + f] * (max[f] - min[f]));
}

/** The leaf the written rules send a raw row to. */
function ruleLeaf(rules: ReturnType<typeof treeRules>, raw: number[]): number {
  const I = rules.tests.length;
  let n = 0;
  while (n < I) {
    const t = rules.tests[n];
    const s = t.terms.reduce((a, term) => a + term.weight * raw[term.index], 0);
    n = s > t.threshold ? 2 * n + 2 : 2 * n + 1;
  }
  return n - I;
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const [log, error] = [console.log, console.error];
  let out = "", err = "";
  console.log = (...a: unknown[]) => void (out += a.join(" ") + "\n");
  console.error = (...a: unknown[]) => void (err += a.join(" ") + "\n");
  try {
    return { code: await main(args), out, err };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

/** `softtree export --model <the run> --out OUT --format FORMAT ...extra`, in process. */
const exportAs = (out: string, format: string, ...extra: string[]) =>
  cli(["export", "--model", run.dir, "--out", out, "--format", format, ...extra]);

Deno.test("treeRules() writes tests in the CSV's original units that route rows as the hard tree does", () => {
  // The CSV's column and class names travel with the tree in its checkpoint.
  assert.deepEqual(tree.data.featureNames, COLUMNS);
  assert.deepEqual(tree.data.classNames, ["high", "low", "mid"]);
  const rules = treeRules(tree, { train: splits.train });
  assert.equal(rules.units, "original");
  assert.deepEqual(rules.features, COLUMNS);
  for (const t of rules.tests) {
    // The constant column reads as 0 after scaling: it is no term of any test.
    assert.ok(t.terms.every((term) => term.feature !== "constant"));
    assert.equal(t.omitted, 0);
  }
  let differ = 0;
  for (let i = 0; i < splits.train.n; i++) {
    const scaled = splits.train.x.subarray(i * F, (i + 1) * F);
    if (ruleLeaf(rules, rawRow(i)) !== hardLeaf(tree.params, tree.config.depth, scaled)) differ++;
  }
  // Float rounding may move a row sitting on a threshold, nothing more.
  assert.ok(differ <= 1, `${differ} training rows routed differently`);
  const shares = rules.rules.reduce((a, r) => a + r.trainShare!, 0);
  assert.ok(Math.abs(shares - 1) < 1e-9);
});

Deno.test("treeRules() with topK keeps the K largest terms and measures agreement with the full rules", () => {
  const full = treeRules(tree, { train: splits.train, test: splits.test });
  const top1 = treeRules(tree, { topK: 1, train: splits.train, test: splits.test });
  const all = treeRules(tree, { topK: F, train: splits.train, test: splits.test });
  assert.equal(top1.topK, 1);
  for (const [i, t] of top1.tests.entries()) {
    assert.equal(t.terms.length, 1);
    assert.equal(t.terms[0].index, full.tests[i].terms[0].index);
    assert.ok(t.share > 0 && t.share < 1);
  }
  assert.equal(all.agreement!.withFullRules, 1);
  assert.equal(full.agreement!.withFullRules, 1);
  for (const v of Object.values(top1.agreement!)) assert.ok(v >= 0 && v <= splits.test.n);
  assert.equal(top1.agreement!.n, splits.test.n);
  // The class is decided by age and income: the full rules follow the soft tree closely.
  assert.ok(full.agreement!.fullRulesWithMaxLeaf >= 0.9);
  assert.throws(() => treeRules(tree, { topK: 0 }), /topK "0"/);
});

Deno.test("rulesMarkdown() names the features and writes one rule per leaf that training rows reach", () => {
  const rules = treeRules(tree, { topK: 2, train: splits.train, test: splits.test });
  const md = rulesMarkdown(rules);
  assert.match(md, /^# Rules of a soft decision tree/);
  assert.match(md, /age/);
  assert.match(md, /income/);
  assert.match(md, /original units/);
  assert.match(md, /## Agreement/);
  const reached = rules.rules.filter((r) => r.trainShare! > 0).length;
  assert.equal(md.split("\n").filter((l) => l.startsWith("- **leaf ")).length, reached);
  const t = { node: 0, terms: [], omitted: 0, share: 1, threshold: -1.5 };
  assert.equal(testText(t), "0 > −1.5");
  assert.equal(
    testText({
      ...t,
      terms: [
        { index: 0, feature: "a", weight: 2, scaledWeight: 2 },
        { index: 1, feature: "b", weight: -0.5, scaledWeight: -1 },
      ],
    }, { show: 1, right: false }),
    "2·a + 1 smaller term ≤ −1.5",
  );
});

Deno.test("export --format rules writes rules.md and rules.json and reports the top-k agreement", async () => {
  const out = `${run.dir}/rules`;
  const r = await exportAs(out, "rules", "--top-k", "2", "--json");
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out);
  assert.equal(summary.format, "rules");
  assert.equal(summary.top_k, 2);
  assert.equal(summary.test_samples, splits.test.n);
  assert.ok(summary.agreement_with_full_rules >= 0 && summary.agreement_with_full_rules <= 1);
  const json = JSON.parse(await Deno.readTextFile(`${out}/rules.json`));
  assert.equal(json.format, "softtree-rules");
  assert.equal(json.tests.length, 7);
  assert.ok(json.tests.every((t: { terms: unknown[] }) => t.terms.length === 2));
  assert.match(await Deno.readTextFile(`${out}/rules.md`), /income/);
  const bad = await exportAs(out, "onnx", "--top-k", "2");
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--top-k applies to --format rules only/);
});

Deno.test("eval --json reports feature importances by name and the hard-tree agreement", async () => {
  const picture = `${run.dir}/importances.svg`;
  const r = await cli([
    "eval",
    "--model",
    run.dir,
    "--json",
    "--backend",
    "tfjs",
    "--importances",
    picture,
  ]);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  const imp = j.feature_importances as Record<string, number>;
  assert.deepEqual(Object.keys(imp), COLUMNS);
  assert.ok(Math.abs(Object.values(imp).reduce((a, v) => a + v, 0) - 1) < 1e-9);
  assert.equal(imp.constant, 0);
  assert.ok(imp.age > imp.noise_a && imp.income > imp.noise_b, JSON.stringify(imp));
  assert.ok(j.hard_tree_agreement >= 0.8 && j.hard_tree_agreement <= j.hard_tree_class_agreement);
  // The bar chart: one bar per feature, the most important first.
  const svg = await Deno.readTextFile(picture);
  const bars = [...svg.matchAll(/data-feature="([^"]*)"/g)].map((m) => m[1]);
  assert.equal(bars.length, COLUMNS.length);
  assert.equal(imp[bars[0]], Math.max(...Object.values(imp)));
  const bad = await cli(["eval", "--model", run.dir, "--importances", "chart.jpg"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--importances must name a \.svg or \.png file/);
});

Deno.test("explain --json gives each feature's contribution along the path of a CSV row", async () => {
  const out = `${run.dir}/row.svg`;
  const r = await cli([
    "explain",
    run.csv,
    "--item",
    "3",
    "--model",
    run.dir,
    "--out",
    out,
    "--json",
  ]);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.deepEqual(Object.keys(j.contributions).sort(), [...COLUMNS].sort());
  assert.equal(j.path_steps.length, tree.config.depth);
  assert.deepEqual(j.path_steps.map((s: { node: number }) => s.node), j.path.slice(0, -1));
  for (const s of j.path_steps) assert.equal(s.direction, s.z > 0 ? "right" : "left");
  assert.equal(j.contributions.constant, 0);
});

Deno.test("export says what is wrong when the rules' data is missing or --out is a file", async () => {
  const moved = await exportAs(`${run.dir}/r2`, "rules", "--data", `csv:${run.dir}/nowhere.csv`);
  assert.equal(moved.code, 1);
  assert.match(moved.err, /Cannot write rules: the data "csv:.*nowhere\.csv".*cannot be loaded/);
  assert.match(moved.err, /hint: give the tree's data with --data/);
  await assert.rejects(Deno.stat(`${run.dir}/r2`), "nothing written");
  const file = `${run.dir}/a-file`;
  await Deno.writeTextFile(file, "x");
  const onnx = await exportAs(file, "onnx");
  assert.equal(onnx.code, 1);
  assert.match(onnx.err, /Cannot export to ".*a-file": it is a file, not a folder/);
  const badData = await exportAs(`${run.dir}/r3`, "rules", "--data", "zip:x");
  assert.equal(badData.code, 2);
});
