/**
 * The report of a regression tree: its data (R², RMSE and MAE on the test values, each
 * leaf's value, spread and test error) and, in Chromium (see report_browser_test.ts for the
 * set-up), its page: scores instead of accuracy, leaves as values, and a row typed into the
 * form of the features routed to the value softtree predicts. A screenshot is left in the
 * test's temporary folder. The browser part is skipped, with a message, where Chromium is
 * missing.
 */
import assert from "node:assert/strict";
import puppeteer from "npm:puppeteer-core@25.16.0";
import { buildReportData, reportHtml } from "../lib/report/mod.ts";
import { SoftDecisionTree } from "../lib/train/soft_tree.ts";
import { leafValues } from "../lib/tree/regression.ts";
import { TreePredictor } from "../lib/use/predict.ts";
import { REG_COLUMNS, regressionRun } from "./_regression.ts";

const CHROMIUM = Deno.env.get("SOFTTREE_CHROMIUM") ?? "/usr/bin/chromium";
const chromium = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
if (!chromium) {
  console.warn(
    `Chromium is not at ${CHROMIUM}: the regression report's browser test is skipped ` +
      "(install it with `apt-get install -y chromium`, or set SOFTTREE_CHROMIUM)",
  );
}

const run = await regressionRun();
const { tree, splits } = run;
globalThis.addEventListener("unload", () => Deno.removeSync(run.dir, { recursive: true }));

Deno.test("a regression tree's report data: R², RMSE and MAE on the test values, leaves as values with spreads", async () => {
  const data = buildReportData(tree, { train: splits.train, test: splits.test });
  const soft = await SoftDecisionTree.fromCheckpoint(tree);
  try {
    const ev = soft.evaluateRegression(splits.test);
    const r = data.regression!;
    assert.equal(r.source, "test split");
    assert.equal(r.target, "price");
    assert.ok(Math.abs(r.maxLeaf!.r2 - ev.maxLeaf.r2) < 1e-9);
    assert.ok(Math.abs(r.maxLeaf!.rmse - ev.maxLeaf.rmse) < 1e-9);
    assert.ok(Math.abs(r.mixture!.mae - ev.mixture.mae) < 1e-4);
  } finally {
    soft.dispose();
  }
  assert.equal(data.accuracy.tree, null);
  assert.deepEqual(data.confusion.tree, []);
  assert.equal(data.features.hardTree.class, null);
  const values = leafValues(tree.params.phi, tree.data.target!);
  const I = 7;
  for (let l = 0; l < 8; l++) {
    const v = data.nodes[I + l].values!;
    assert.equal(v.lo, values[l]);
    assert.equal(v.hi, values[l]);
    // The training rows ending here are those the checkpoint's spreads were measured on.
    const std = tree.data.target!.leaves!.std[l];
    if (std === null) assert.equal(v.trainStd, null);
    else assert.ok(Math.abs(v.trainStd! - std) < 1e-6, `leaf ${l}: ${v.trainStd} vs ${std}`);
  }
  assert.equal(data.nodes[0].values!.lo, Math.min(...values));
  assert.equal(data.nodes[0].values!.hi, Math.max(...values));
  // Samples sorted by their value, which the page shows.
  const sv = data.samples.values!;
  assert.ok(sv.every((v, i) => i === 0 || sv[i - 1] <= v));

  // Without the test values, the scores recorded in the checkpoint.
  const bare = { ...splits.test, values: undefined };
  const recorded = buildReportData(tree, { train: splits.train, test: bare, meta: tree.meta });
  assert.equal(recorded.regression!.source, "recorded");
  assert.equal(recorded.regression!.maxLeaf!.r2, tree.meta.test_r2);
});

Deno.test({
  name:
    "the report of a regression tree works in Chromium: scores, leaf values, a typed row's value",
  ignore: !chromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "softtree-regression-report-" });
    const data = buildReportData(tree, { train: splits.train, test: splits.test, meta: tree.meta });
    await Deno.writeTextFile(`${dir}/report.html`, await reportHtml(tree, data));
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        `--user-data-dir=${dir}/chromium-profile`,
      ],
    });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1400, height: 1000 });
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warn") problems.push(m.text());
      });
      page.on("pageerror", (e) => problems.push(String(e)));
      await page.goto(`file://${dir}/report.html`);
      await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });

      const chips = await page.$eval("#chips", (e) => e.textContent ?? "");
      assert.match(chips, /test R² 0\.\d{4}, RMSE [\d.]+ \(max-leaf\)/);
      assert.doesNotMatch(chips, /accuracy/);
      assert.match(await page.$eval("#matrices", (e) => e.textContent ?? ""), /R²RMSEMAE/);
      assert.equal(await page.$$eval("#tree-box g.leaf[data-value]", (g) => g.length), 8);

      // A leaf's details: its value, and the spread of its training rows.
      const values = leafValues(tree.params.phi, tree.data.target!);
      await page.click('#tree-box g.leaf[data-leaf="3"] rect.bar');
      const leaf = await page.$eval("#node", (e) => e.textContent ?? "");
      assert.match(leaf, /Leaf 3/);
      assert.ok(leaf.includes(`price = ${Number(values[3].toPrecision(4))}`), leaf);
      assert.match(leaf, /their price ± [\d.]+/);

      // Type a row in original units and route it: the page shows softtree's value.
      const raw = [61.5, 7200, 7, 0.25];
      const inputs = await page.$$("#row-form input");
      assert.equal(inputs.length, REG_COLUMNS.length);
      for (const [f, el] of inputs.entries()) {
        await el.click({ count: 3 });
        await el.type(String(raw[f]));
      }
      await page.click("#row-route");
      const shown = await page.evaluate(
        `({ ...document.getElementById("result").dataset })`,
      ) as Record<string, string>;
      const { min, max } = tree.data.scaling!;
      const x = Float32Array.from(
        raw,
        (v, f) => max[f] > min[f] ? (v - min[f]) / (max[f] - min[f]) : 0,
      );
      const p = new TreePredictor(tree).predict(x);
      assert.equal(Number(shown.leaf), p.leaf);
      assert.equal(Number(shown.value), p.value);
      assert.equal(Number(shown.mixtureValue), p.mixtureValue);
      assert.match(await page.$eval("#predicted", (e) => e.textContent ?? ""), /^price = \d/);
      assert.equal(await page.$$eval("#contributions tr", (r) => r.length), REG_COLUMNS.length);

      // A test row from the sample shows its true value.
      await page.click('#samples button[data-sample="0"]');
      const result = await page.$eval("#result", (e) => e.textContent ?? "");
      assert.match(result, /true price [\d.]+/);
      await page.screenshot({ path: `${dir}/report.png`, fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  },
});
