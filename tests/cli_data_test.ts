import assert from "node:assert/strict";
import { join } from "node:path";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { runCli } from "./_cli.ts";
import { inTempDir, npy, npz, writeColourFolder } from "./_data_files.ts";

const NAMES = ["blue", "green", "red"];
const QUICK = [
  "--depth",
  "2",
  "--epochs",
  "2",
  "--restarts",
  "1",
  "--batch-size",
  "8",
  "--inv-temp",
  "1",
];

/** `softtree train ...args <QUICK> --out OUT`: a small, fast training. */
const train = (out: string, ...args: string[]) =>
  runCli(["train", ...args, ...QUICK, "--out", out]);

Deno.test("train --data folder:DIR --json trains on colour images and keeps their class names", async () => {
  await inTempDir(async (dir) => {
    await writeColourFolder(join(dir, "colours"), 6);
    const out = join(dir, "run");
    const r = await train(out, "--data", `folder:${join(dir, "colours")}`, "--json", "--quiet");
    assert.equal(r.code, 0, r.stderr);
    const summary = r.json();
    const labels = summary.labels as { names: string[]; counts: { test: number[] } };
    assert.deepEqual(labels.names, NAMES);
    assert.deepEqual(labels.counts.test, [3, 3, 3]);
    assert.ok((summary.test_accuracy as number) >= 0 && (summary.test_accuracy as number) <= 1);
    const ckpt = await loadTreeCheckpoint(out);
    assert.deepEqual(ckpt.data.classNames, NAMES);
    assert.deepEqual(ckpt.data.imageShape, [5, 6, 3]);
    assert.equal(ckpt.data.source, `folder:${join(dir, "colours")}`);
    assert.ok((await Deno.stat(join(out, "tree.png"))).size > 0);

    // predict and draw name the classes.
    const p = await runCli([
      "predict",
      "--model",
      out,
      join(dir, "colours", "test", "red"),
      "--json",
    ]);
    assert.equal(p.code, 0, p.stderr);
    const predictions = p.json().predictions as { class: string }[];
    assert.equal(predictions.length, 3);
    for (const q of predictions) assert.ok(NAMES.includes(q.class), q.class);
    const d = await runCli([
      "draw",
      "--model",
      out,
      "--digit",
      "red",
      "--out",
      join(dir, "path.png"),
      "--json",
    ]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.json().label_name, "red");
    const e = await runCli([
      "explain",
      "--model",
      out,
      join(dir, "colours", "test", "blue", "blue-0.png"),
      "--out",
      join(dir, "e.png"),
    ]);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stderr, /predicted (blue|green|red)/);
    const h = await runCli(["report", "--model", out, "--out", join(dir, "r.html")]);
    assert.equal(h.code, 0, h.stderr);
    assert.match(
      await Deno.readTextFile(join(dir, "r.html")),
      /"classNames":\["blue","green","red"\]/,
    );
  });
});

Deno.test("train refuses a missing image folder and a test set of another shape, exit 1, no run written", async () => {
  await inTempDir(async (dir) => {
    const out = join(dir, "run");
    const missing = await train(out, "--data", `folder:${join(dir, "nope")}`);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope" does not exist/);
    const a = join(dir, "a.npz");
    const b = join(dir, "b.npz");
    const y = npy(new Uint8Array(20).map((_, i) => i % 2), [20]);
    await Deno.writeFile(a, npz({ x_train: npy(new Uint8Array(20 * 16), [20, 4, 4]), y_train: y }));
    await Deno.writeFile(
      b,
      npz({
        x: npy(new Float32Array(20 * 3), [20, 3]),
        x_train: npy(new Float32Array(20 * 3), [20, 3]),
        y_train: y,
      }),
    );
    const mismatch = await train(out, "--data", `npz:${a}`, "--test-data", `npz:${b}`);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /Test data "npz:.*b\.npz" does not fit the training data/);
    assert.match(mismatch.stderr, /3 features, the training data has 4x4 images with 1 channel/);
    await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);
    const badSize = await runCli([
      "train",
      "--data",
      `npz:${a}`,
      "--image-size",
      "28",
      "--out",
      out,
    ]);
    assert.equal(badSize.code, 2);
    assert.match(badSize.stderr, /--image-size "28"/);
    const badSpec = await runCli(["train", "--data", "npy:only-one.npy", "--out", out]);
    assert.equal(badSpec.code, 2);
  });
});

Deno.test("eval, draw and report read a folder at the trained size and channels, with its --test-data", async () => {
  await inTempDir(async (dir) => {
    await writeColourFolder(join(dir, "colours"), 6);
    const out = join(dir, "run");
    const data = ["--data", `folder:${join(dir, "colours", "train")}`];
    const testData = ["--test-data", `folder:${join(dir, "colours", "test")}`];
    const sized = ["--image-size", "3x3", "--channels", "1"];
    const r = await train(out, ...data, ...testData, ...sized, "--json", "--quiet");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((r.json().labels as { counts: { test: number[] } }).counts.test, [3, 3, 3]);
    assert.deepEqual((await loadTreeCheckpoint(out)).data.imageShape, [3, 3, 1]);
    const e = await runCli(["eval", "--model", out, "--json"]);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.json().samples, 9);
    assert.equal(e.json().test_accuracy, r.json().test_accuracy);
    const d = await runCli([
      "draw",
      "--model",
      out,
      "--index",
      "8",
      "--out",
      join(dir, "p.png"),
      "--json",
    ]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.json().label_name, "red");
    const h = await runCli(["report", "--model", out, "--out", join(dir, "r.html")]);
    assert.equal(h.code, 0, h.stderr);
  });
});
