/**
 * `--recipe`, `--augment` on `train`, and the teacher panels of `distill` (`--cross-fit`,
 * an ensemble through `--teacher a,b`) through the command line.
 */
import assert from "node:assert/strict";
import { recipeArgs } from "../cli/augment.ts";
import { runCli } from "./_cli.ts";

Deno.test("train --recipe deep sets its defaults, explicit options win, --augment adds copies", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli([
      "train",
      "--recipe",
      "deep",
      "--depth",
      "2",
      "--epochs",
      "1",
      "--limit",
      "200",
      "--augment",
      "1",
      "--no-pictures",
      "--json",
      "--out",
      `${dir}/run`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const s = r.json();
    assert.equal(s.depth, 2, "--depth given explicitly beats the recipe's 8");
    assert.equal(s.epochs_run, 1);
    assert.match(r.stderr, /augmented: 400 training images \(1 copies each\)/);
    const m = JSON.parse(await Deno.readTextFile(`${dir}/run/metrics.json`));
    assert.equal(m.data.train, 400);
    assert.equal(m.fitOptions.batchSize, 64, "the recipe's batch size");
    assert.equal(m.fitOptions.restarts, 1, "the recipe's single start");
    assert.equal(m.config.invTemp, 0.1);
    assert.equal(m.config.penaltyStrength, 30);

    const bad = await runCli(["train", "--recipe", "shallow", "--out", `${dir}/x`]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--recipe must be one of "deep", got "shallow"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("distill --cross-fit trains K teachers once, labels every image with one that never saw it", async () => {
  const dir = await Deno.makeTempDir();
  const args = [
    "distill",
    "--cross-fit",
    "2",
    "--teacher-epochs",
    "1",
    "--limit",
    "300",
    "--epochs",
    "1",
    "--restarts",
    "1",
    "--no-pictures",
    "--json",
    "--cache-dir",
    `${dir}/cache`,
  ];
  try {
    const r = await runCli([...args, "--out", `${dir}/a`]);
    assert.equal(r.code, 0, r.stderr);
    const s = r.json();
    assert.match(String(s.teacher), /cross-fit\/mnist-limit300-k2 \(2 cross-fitted teachers\)/);
    assert.equal(s.teacher_loaded, false);
    assert.match(r.stderr, /cross-fitted teacher 1 of 2: trained; test accuracy/);
    const soft = s.soft_labels as Record<string, number>;
    assert.equal(soft.samples, 300);
    const folds = JSON.parse(
      await Deno.readTextFile(`${dir}/cache/cross-fit/mnist-limit300-k2/folds.json`),
    );
    assert.deepEqual([folds.folds, folds.rows], [2, 300]);

    // Another run finds the teachers and their logits.
    const again = await runCli([...args, "--out", `${dir}/b`]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.json().teacher_loaded, true);
    assert.match(again.stderr, /cross-fitted teacher 2 of 2: loaded/);
    assert.equal(again.json().test_accuracy, s.test_accuracy);

    const both = await runCli([...args, "--teacher", `${dir}/t`, "--out", `${dir}/c`]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--cross-fit trains its own teachers/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recipeArgs() writes a recipe's options as the flags that set them", () => {
  assert.deepEqual(recipeArgs("deep", ["depth", "batchSize", "invTemp", "augmentRecenter"]), [
    "--depth",
    "8",
    "--batch-size",
    "64",
    "--inv-temp",
    "0.1",
    "--augment-recenter",
  ]);
  assert.throws(() => recipeArgs("deep", ["teacherKernels"]), /sets no option "teacherKernels"/);
});
