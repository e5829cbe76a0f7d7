import assert from "node:assert/strict";
import { loadMnist } from "../lib/data/mnist.ts";
import { runCli } from "./_cli.ts";
import { inTempDir, npy, npz } from "./_data_files.ts";

const FIX = new URL("./fixtures/onnx/", import.meta.url).pathname;
const QUICK = ["--depth", "3", "--epochs", "2", "--batch-size", "32", "--no-pictures", "--json"];
const TEACHER = ["--teacher", `${FIX}mnist_convnet.onnx`, "--teacher-mean", "0.5"];
const TEACHER_STD = ["--teacher-std", "0.5", "--backend", "tfjs", "--restarts", "1"];

/** An npz of `n` MNIST test images as uint8 `x (n, 28, 28)`: unlabeled transfer data. */
async function transferNpz(file: string, n: number): Promise<void> {
  const { test } = await loadMnist();
  const x = new Uint8Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = Math.round(test.x[i] * 255);
  await Deno.writeFile(file, npz({ x: npy(x, [n, 28, 28]) }));
}

Deno.test("distill --transfer: the teacher labels unlabeled data and the tree trains on it too", async () => {
  await inTempDir(async (dir) => {
    await transferNpz(`${dir}/extra.npz`, 250);
    const args = ["distill", ...TEACHER, ...TEACHER_STD, "--limit", "300", ...QUICK];
    const r = await runCli([
      ...args,
      "--transfer",
      `npz:${dir}/extra.npz`,
      "--compare",
      "--out",
      `${dir}/run`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const s = r.json();
    assert.deepEqual(s.transfer, { source: `npz:${dir}/extra.npz`, samples: 250 });
    // The tree trained on both; the statistics of the soft labels count the labelled rows only.
    assert.equal(s.train_samples, 550);
    assert.equal((s.soft_labels as Record<string, number>).samples, 300);
    // The hard-label twin has no labels for the transfer rows: it trains on the 300 alone.
    assert.equal((s.hard_labels as Record<string, number>).train_samples, 300);
    const metrics = JSON.parse(await Deno.readTextFile(`${dir}/run/metrics.json`));
    assert.deepEqual(metrics.transfer, { source: `npz:${dir}/extra.npz`, samples: 250 });
    // Without --transfer the same run trains on 300 samples.
    const plain = await runCli([...args, "--out", `${dir}/plain`]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.json().train_samples, 300);
  });
});

Deno.test("distill --transfer refuses data of another shape, naming both", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/small.npz`, npz({ x: npy(new Float32Array(5 * 30), [5, 30]) }));
    const r = await runCli([
      "distill",
      ...TEACHER,
      ...TEACHER_STD,
      "--limit",
      "100",
      ...QUICK,
      "--transfer",
      `npz:${dir}/small.npz`,
      "--out",
      `${dir}/run`,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /small\.npz/);
    assert.match(r.stderr, /30/);
    assert.match(r.stderr, /28|784/);
    assert.equal(await Deno.stat(`${dir}/run/tree.sdt`).then(() => true, () => false), false);
  });
});
