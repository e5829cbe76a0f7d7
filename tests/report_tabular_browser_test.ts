/**
 * The report of a tabular tree in Chromium (see report_browser_test.ts for the set-up): the
 * tree's nodes list their largest weights by feature name, the page shows the feature
 * importances, and a row typed into the form of the features (original units) is scaled,
 * routed and explained as softtree does. A screenshot is left in the test's temporary folder.
 * Skipped, with a message, where Chromium is missing.
 */
import assert from "node:assert/strict";
import puppeteer from "npm:puppeteer-core@25.16.0";
import { pathContributions } from "../lib/tree/importance.ts";
import { TreePredictor } from "../lib/use/predict.ts";
import { runCli } from "./_cli.ts";
import { COLUMNS, tabularRun } from "./_tabular.ts";

const CHROMIUM = Deno.env.get("SOFTTREE_CHROMIUM") ?? "/usr/bin/chromium";
const chromium = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
if (!chromium) {
  console.warn(
    `Chromium is not at ${CHROMIUM}: the tabular report's browser test is skipped ` +
      "(install it with `apt-get install -y chromium`, or set SOFTTREE_CHROMIUM)",
  );
}

Deno.test({
  name:
    "the report of a tabular tree works in Chromium: weights by name, importances, a typed row routed and explained as softtree does",
  ignore: !chromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = await tabularRun();
    const { dir, tree } = run;
    const report = await runCli([
      "report",
      ...["--model", dir, "--out", `${dir}/report.html`, "--json", "--quiet"],
    ]);
    assert.equal(report.code, 0, report.stderr);

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

      // The tree: every inner node lists weights by feature name; no pixel pictures.
      assert.equal(await page.$$eval("#tree-box g.features", (g) => g.length), 7);
      assert.equal(await page.$$eval("#tree-box image", (g) => g.length), 0);
      // The importances: one bar per feature, summing to 1.
      const imp = await page.$$eval(
        "#importances g.importance",
        (g) =>
          g.map((e) => [e.getAttribute("data-feature"), Number(e.getAttribute("data-importance"))]),
      ) as [string, number][];
      assert.deepEqual(imp.map(([n]) => n).sort(), [...COLUMNS].sort());
      assert.ok(Math.abs(imp.reduce((a, [, v]) => a + v, 0) - 1) < 1e-4);
      assert.match(await page.$eval("#chips", (e) => e.textContent ?? ""), /hard tree/);

      // The root's details: its largest weights by name.
      await page.click('#tree-box g.inner[data-node="0"] .frame');
      const listed = await page.$$eval(
        "#node table.weights tr",
        (r) => r.map((e) => e.getAttribute("data-feature")),
      );
      const w = [...tree.params.w.subarray(0, COLUMNS.length)].map(Math.abs);
      assert.equal(listed[0], COLUMNS[w.indexOf(Math.max(...w))]);

      // Type a row in original units and route it.
      const raw = [61.5, 7200, 7, 0.25, -0.3];
      const inputs = await page.$$("#row-form input");
      assert.equal(inputs.length, COLUMNS.length);
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
      assert.equal(shown.source, "form");
      assert.equal(Number(shown.class), p.class);
      assert.equal(Number(shown.leaf), p.leaf);
      // Its contributions, largest first, as the library's.
      const c = pathContributions(tree.params, tree.config.depth, tree.config.classes, x).total;
      const order = [...c.keys()].sort((a, b) => Math.abs(c[b]) - Math.abs(c[a]));
      const pageOrder = await page.$$eval(
        "#contributions tr",
        (r) => r.map((e) => e.getAttribute("data-feature")),
      );
      assert.deepEqual(pageOrder, order.map((f) => COLUMNS[f]));
      await page.screenshot({ path: `${dir}/report.png`, fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  },
});
