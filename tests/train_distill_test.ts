/**
 * `distill` as the README describes it (lib/train/distill.ts through the command line):
 * fidelity is the tree's agreement with the teacher's own predictions on the test split,
 * computed here independently, and `--augment N` lets the teacher label N moved copies of
 * every training image, so the tree trains on N + 1 times as many.
 */
import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";
import { loadData } from "../lib/data/mod.ts";
import { loadTeacher } from "../lib/teacher/io.ts";
import { teacherPredict } from "../lib/teacher/mod.ts";
import { SoftDecisionTree } from "../lib/train/soft_tree.ts";

function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

Deno.test("distill reports fidelity to the teacher's predictions, and --augment 2 triples the transfer set", async () => {
  const dir = await Deno.makeTempDir();
  const n = 200;
  const limit = ["--limit", String(n)];
  const teacher = await runCli([
    ...["teacher", "train", ...limit, "--epochs", "1", "--filters", "2,4", "--dense", "8"],
    ...["--out", `${dir}/teacher`, "--quiet"],
  ]);
  assert.equal(teacher.code, 0, teacher.stderr);
  const out = `${dir}/run`;
  const r = await runCli([
    ...["distill", ...limit, "--teacher", `${dir}/teacher`, "--epochs", "2", "--batch-size", "16"],
    ...["--inv-temp", "1", "--restarts", "1", "--augment", "2", "--out", out],
    ...["--cache-dir", `${dir}/cache`, "--backend", "tfjs", "--json", "--quiet", "--no-pictures"],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const s = r.json();
  const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));

  // The teacher's and the saved tree's predictions on the same test split, here.
  const { test } = await loadData("mnist", { limit: { train: n, val: n, test: n } });
  const t = await loadTeacher(`${dir}/teacher`);
  const teacherSays = await teacherPredict(t, test.x);
  t.dispose();
  const tree = await SoftDecisionTree.load(out, { backend: "tfjs" });
  const e = tree.evaluate(test);
  tree.dispose();
  const fidelity = agreement(e.predMaxLeaf, teacherSays);
  assert.equal(s.test_accuracy, agreement(e.predMaxLeaf, test.y), "the same tree and split");
  assert.notEqual(
    fidelity,
    s.test_accuracy,
    "a weak teacher: agreeing with it differs from agreeing with the labels",
  );
  assert.equal(s.fidelity, fidelity);
  assert.equal(s.fidelity_mixture, agreement(e.predMixture, teacherSays));
  assert.equal(metrics.fidelity, fidelity);

  // The tree trained on the training images and two moved copies of each.
  assert.equal(metrics.data.train, 3 * n);
  assert.equal(metrics.augmentCopies, 2);
  await Deno.remove(dir, { recursive: true });
});
