import assert from "node:assert/strict";
import { cliInProcess } from "./_cli.ts";
import { buildReportData, reportHtml } from "../lib/report/mod.ts";
import { route } from "../lib/tree/inspect.ts";
import { SoftDecisionTree } from "../lib/train/soft_tree.ts";
import { predictorSource } from "../lib/use/_sources.ts";
import { smallRun } from "./_use.ts";

const run = await smallRun();
const { tree, splits } = run;
const { train, test } = splits;
const metrics = JSON.parse(await Deno.readTextFile(`${run.dir}/metrics.json`));
// A stand-in teacher: right on all but every seventh test input.
const teacher = Int32Array.from(test.y, (y, i) => i % 7 === 0 ? (y + 1) % 10 : y);
const data = buildReportData(tree, {
  train,
  test,
  metrics,
  meta: tree.meta,
  teacher: { predictions: teacher, file: "teacher/model.json" },
  samples: 50,
  prototypes: 4,
});
const [I, L] = [15, 16];

/** Run the CLI in-process; returns the exit status and what it printed. */
async function runCli(args: string[]) {
  const r = await cliInProcess(args);
  return { code: r.code, stdout: r.out, stderr: r.err, json: r.json };
}

Deno.test("the report's node counts follow the inputs' most probable paths through the tree", () => {
  assert.equal(data.nodes.length, I + L);
  assert.equal(data.nodes[0].train.count, train.n);
  assert.equal(data.nodes[0].test.count, test.n);
  for (let n = 0; n < I; n++) {
    const [node, left, right] = [data.nodes[n], data.nodes[2 * n + 1], data.nodes[2 * n + 2]];
    assert.equal(left.train.count + right.train.count, node.train.count, `node ${n}`);
    assert.equal(left.test.count + right.test.count, node.test.count, `node ${n}`);
    assert.ok(Math.abs(left.train.mass + right.train.mass - node.train.mass) < 1e-6);
    assert.equal(node.leaf, null);
  }
  assert.ok(Math.abs(data.nodes[0].train.mass - train.n) < 1e-6);
  // Per-leaf test accuracy adds up to the tree's accuracy, which is the backend's.
  const correct = data.nodes.slice(I).reduce((s, n) => s + n.test.correct, 0);
  assert.equal(correct / test.n, data.accuracy.tree);
  assert.equal(data.accuracy.tree, tree.meta.testAccuracy);
  assert.deepEqual(data.nodes.slice(I).map((n) => n.leaf), Array.from({ length: L }, (_, l) => l));
});

Deno.test("prototypes are the training inputs with the highest path probability at each node", () => {
  assert.deepEqual(data.nodes[0].prototypes, []);
  for (let n = 1; n < I + L; n++) {
    const node = data.nodes[n];
    assert.equal(node.prototypes.length, 4);
    for (let r = 0; r < 4; r++) {
      const i = data.prototypes.index[node.prototypes[r]];
      const reach = route(tree.params, 4, 10, train.x.subarray(i * 784, (i + 1) * 784)).reach[n];
      assert.equal(node.prototypeReach[r], reach, `node ${n}, prototype ${r}`);
      assert.equal(data.prototypes.labels[node.prototypes[r]], train.y[i]);
      if (r > 0) assert.ok(node.prototypeReach[r] <= node.prototypeReach[r - 1]);
    }
    // Nothing in the training split reaches it with more than the last prototype's probability
    // unless it is among the prototypes.
    const kept = new Set(node.prototypes.map((j) => data.prototypes.index[j]));
    for (let i = 0; i < 400; i++) {
      const p = route(tree.params, 4, 10, train.x.subarray(i * 784, (i + 1) * 784)).reach[n];
      if (!kept.has(i)) assert.ok(p <= node.prototypeReach[3], `node ${n}, training input ${i}`);
    }
  }
});

Deno.test("the confusion matrices count the tree, the teacher and their agreement on the test split", async () => {
  const engine = await SoftDecisionTree.fromCheckpoint(tree);
  const ev = engine.evaluate(test);
  engine.dispose();
  const { tree: m, teacher: t, fidelity: f } = data.confusion;
  for (let k = 0; k < 10; k++) {
    for (let j = 0; j < 10; j++) {
      let [mm, tt, ff] = [0, 0, 0];
      for (let i = 0; i < test.n; i++) {
        if (test.y[i] === k && ev.predMaxLeaf[i] === j) mm++;
        if (test.y[i] === k && teacher[i] === j) tt++;
        if (teacher[i] === k && ev.predMaxLeaf[i] === j) ff++;
      }
      assert.deepEqual([m[k][j], t![k][j], f![k][j]], [mm, tt, ff], `cell ${k}, ${j}`);
    }
  }
  assert.equal(data.accuracy.treeMixture, ev.accuracyMixture);
  assert.ok(Math.abs(data.accuracy.teacher! - (1 - Math.ceil(test.n / 7) / test.n)) < 1e-12);
  const agree = ev.predMaxLeaf.filter((k, i) => k === teacher[i]).length / test.n;
  assert.equal(data.accuracy.fidelity, agree);
});

Deno.test("the sample of test inputs is spread over the classes and holds them exactly", () => {
  const { labels, index } = data.samples;
  assert.equal(labels.length, 50);
  for (let k = 0; k < 10; k++) assert.equal(labels.filter((y) => y === k).length, 5);
  const bytes = Uint8Array.from(atob(data.samples.data), (c) => c.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  index.forEach((i, j) => {
    assert.equal(test.y[i], labels[j]);
    for (let f = 0; f < 784; f += 7) {
      assert.equal(view.getFloat32((j * 784 + f) * 4, true), test.x[i * 784 + f]);
    }
  });
});

Deno.test("the report is one self-contained HTML file: inline script and style, data as JSON, no network", async () => {
  const html = await reportHtml(tree, data);
  assert.ok(html.startsWith("<!doctype html>"));
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'/);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|@import|url\(http/);
  const urls = html.match(/https?:\/\/[^\s"'<>)]+/g) ?? [];
  assert.deepEqual([...new Set(urls)], ["http://www.w3.org/2000/svg"]);
  const json =
    /<script type="application\/json" id="softtree-data">(.*?)<\/script>/s.exec(html)![1];
  assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(data)));
  // The page's maths is predictor.js's code.
  const body = (await predictorSource()).replace(/^export /gm, "");
  assert.ok(html.includes(body));
  assert.equal(data.run.command, metrics.command);
  assert.equal(data.history.length, metrics.history.length);
  assert.match(html, /class="softtree-curves"/);
  assert.equal((html.match(/<g class="inner"/g) ?? []).length, I);
  assert.equal((html.match(/<g class="leaf"/g) ?? []).length, L);
});

Deno.test("report on a run whose teacher is gone still writes the page, and says why the teacher is missing", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.copyFile(`${run.dir}/tree.sdt`, `${dir}/tree.sdt`);
  await Deno.writeTextFile(
    `${dir}/metrics.json`,
    JSON.stringify({ ...metrics, teacher: `${dir}/gone/model.json`, fidelity: 0.5 }),
  );
  /** `softtree report --model MODEL --out <dir>/PAGE ...extra`. */
  const report = (model: string, page: string, ...extra: string[]) =>
    runCli(["report", "--model", model, "--out", `${dir}/${page}`, ...extra]);
  const out = await report(dir, "report.html", "--limit", "500", "--samples", "20", "--json");
  assert.equal(out.code, 0, out.stderr);
  const s = out.json();
  assert.equal(s.teacher_test_accuracy, null);
  assert.equal(s.samples, 20);
  assert.equal(s.test_samples, 500);
  const html = await Deno.readTextFile(`${dir}/report.html`);
  assert.match(
    html,
    /could not be loaded \([^)]*\), so its confusion matrix and the fidelity are missing/,
  );
  const left = await report(dir, "b.html", "--limit", "500", "--no-teacher", "--quiet");
  assert.equal(left.code, 0, left.stderr);
  assert.match(await Deno.readTextFile(`${dir}/b.html`), /The teacher was left out of this report/);
  const missing = await report(`${dir}/nope`, "c.html");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Cannot read tree checkpoint/);
});
