import assert from "node:assert/strict";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { runCli } from "./_cli.ts";

Deno.test("distill --compare trains on a teacher's soft labels and reports accuracy and fidelity as fractions", async () => {
  const dir = await Deno.makeTempDir();
  const limit = ["--limit", "300"];
  const teacher = await runCli([
    "teacher",
    "train",
    ...limit,
    "--epochs",
    "1",
    "--filters",
    "4,8",
    "--dense",
    "16",
    "--out",
    `${dir}/teacher`,
    "--quiet",
    "--json",
  ]);
  assert.equal(teacher.code, 0, teacher.stderr);
  const args = [
    "distill",
    ...limit,
    "--teacher",
    `${dir}/teacher`,
    "--epochs",
    "2",
    "--batch-size",
    "16",
    "--inv-temp",
    "1",
    "--temperature",
    "2",
    "--out",
    `${dir}/run`,
    "--cache-dir",
    `${dir}/cache`,
    "--compare",
    "--backend",
    "tfjs",
    "--json",
    "--no-pictures",
  ];
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  const s = r.json();
  for (const k of ["teacher_test_accuracy", "test_accuracy", "test_accuracy_mixture", "fidelity"]) {
    const v = s[k] as number;
    assert.ok(typeof v === "number" && v >= 0 && v <= 1, `${k} = ${v}`);
  }
  assert.equal(s.teacher_test_accuracy, teacher.json().test_accuracy);
  assert.equal(s.temperature, 2);
  assert.equal(s.epochs_run, 2);
  const hard = s.hard_labels as Record<string, number>;
  assert.ok(hard.test_accuracy >= 0 && hard.test_accuracy <= 1);
  assert.match(r.stderr, /soft labels: computed and cached/);
  // The soft labels' diagnostics: 300 images, confidence and entropy in range, and the
  // teacher's agreement with the labels equal to its accuracy on the training images.
  const soft = s.soft_labels as Record<string, number>;
  assert.equal(soft.samples, 300);
  assert.ok(soft.mean_top_probability > 0.1 && soft.mean_top_probability <= 1);
  assert.ok(soft.mean_entropy >= 0 && soft.mean_entropy <= Math.log(10));
  assert.ok(soft.nearly_one_hot >= 0 && soft.nearly_one_hot <= 1);
  assert.ok(soft.teacher_accuracy >= 0 && soft.teacher_accuracy <= 1);
  assert.match(r.stderr, /soft labels at T 2: 300 images, mean top probability 0\.\d{4}/);

  const metrics = JSON.parse(await Deno.readTextFile(`${dir}/run/metrics.json`));
  assert.equal(metrics.fidelity, s.fidelity);
  assert.equal(metrics.softLabels.meanEntropy, soft.mean_entropy);
  assert.equal(metrics.temperature, 2);
  assert.equal(metrics.history.length, 2);
  assert.ok(metrics.command.startsWith("distill"));

  // A second run finds the soft labels in the cache and the tree in the run directory.
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /soft labels: cached/);
  assert.equal(again.json().loaded, true);
  assert.equal(again.json().test_accuracy, s.test_accuracy);

  // A teacher whose input shape does not fit the data is a clear runtime error.
  await Deno.writeTextFile(
    `${dir}/tab.csv`,
    "a,b,c,label\n" +
      Array.from({ length: 40 }, (_, i) => `${i % 3},${i % 5},${i % 7},${i % 2}`).join("\n"),
  );
  const bad = await runCli([
    "distill",
    "--data",
    `csv:${dir}/tab.csv`,
    "--teacher",
    `${dir}/teacher`,
    "--quiet",
  ]);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /error: .*teacher/i);
  assert.match(bad.stderr, /hint: /);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("distill --hard-weight 1 trains exactly the hard-label tree of --compare, augmented copies included", async () => {
  const dir = await Deno.makeTempDir();
  const limit = ["--limit", "200"];
  const teacher = await runCli([
    ...["teacher", "train", ...limit, "--epochs", "1", "--filters", "2,4", "--dense", "8"],
    ...["--out", `${dir}/teacher`, "--quiet"],
  ]);
  assert.equal(teacher.code, 0, teacher.stderr);
  const r = await runCli([
    ...["distill", ...limit, "--teacher", `${dir}/teacher`, "--epochs", "2", "--batch-size", "8"],
    ...["--inv-temp", "1", "--hard-weight", "1", "--out", `${dir}/run`, "--cache-dir", `${dir}/c`],
    ...["--compare", "--json", "--quiet", "--no-pictures"],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const s = r.json();
  const hard = s.hard_labels as Record<string, number>;
  assert.equal(s.test_accuracy, hard.test_accuracy);
  assert.equal(s.val_accuracy, hard.val_accuracy);
  // With augmented copies too: the twin trains on the same images (copies included).
  const aug = await runCli([
    ...["distill", ...limit, "--teacher", `${dir}/teacher`, "--epochs", "2", "--batch-size", "8"],
    ...["--inv-temp", "1", "--hard-weight", "1", "--out", `${dir}/aug`, "--cache-dir", `${dir}/c`],
    ...["--augment", "1", "--compare", "--json", "--quiet", "--no-pictures"],
  ]);
  assert.equal(aug.code, 0, aug.stderr);
  const a = aug.json();
  const twin = a.hard_labels as Record<string, number>;
  assert.equal(a.test_accuracy, twin.test_accuracy);
  assert.equal(a.val_accuracy, twin.val_accuracy);
  assert.deepEqual(
    (await loadTreeCheckpoint(`${dir}/aug`)).params,
    (await loadTreeCheckpoint(`${dir}/aug/hard-labels`)).params,
    "the same weights",
  );
  const bad = await runCli(["distill", "--hard-weight", "1.5"]);
  assert.equal(bad.code, 2);
  await Deno.remove(dir, { recursive: true });
});
