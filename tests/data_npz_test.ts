import assert from "node:assert/strict";
import { join } from "node:path";
import { loadData, loadNpz } from "../lib/data/mod.ts";
import { rejectsWith } from "./_assert.ts";
import { inTempDir, npy, npyStrings, npz } from "./_data_files.ts";

/** Keras-like images: image i is filled with i (mod 256); label i % 3. */
function images(n: number, h = 4, w = 5): Uint8Array {
  return new Uint8Array(n * h * w).map((_, j) => Math.floor(j / (h * w)) % 256);
}
const labels = (n: number) => new Uint8Array(n).map((_, i) => i % 3);

Deno.test("an npz in Keras's mnist.npz layout keeps its test split and carves validation from train", async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, "mnist.npz");
    await Deno.writeFile(
      file,
      npz({
        x_train: npy(images(60), [60, 4, 5]),
        y_train: npy(labels(60), [60]),
        x_test: npy(images(9), [9, 4, 5]),
        y_test: npy(labels(9), [9]),
      }),
    );
    const { train, val, test, labels: report } = await loadData(`npz:${file}`, { seed: 1 });
    assert.deepEqual([train.n, val.n, test.n], [50, 10, 9]);
    assert.deepEqual(train.imageShape, [4, 5, 1]);
    assert.deepEqual(train.classNames, ["0", "1", "2"]);
    assert.equal(train.source, `npz:${file}`);
    assert.deepEqual(report.warnings, []);
    // Test rows in their own order, uint8 / 255, each with its own label.
    for (let i = 0; i < 9; i++) {
      assert.equal(test.x[i * 20], Math.fround(i / 255));
      assert.equal(test.y[i], i % 3);
    }
    // Train and validation partition the 60 training rows, each keeping its label.
    const rows = [
      ...train.x.filter((_, j) => j % 20 === 0),
      ...val.x.filter((_, j) => j % 20 === 0),
    ]
      .map((v) => Math.round(v * 255)).sort((a, b) => a - b);
    assert.deepEqual(rows, [...Array(60).keys()]);
    for (let i = 0; i < train.n; i++) {
      assert.equal(train.y[i], Math.round(train.x[i * 20] * 255) % 3);
    }
    // rows: train and validation share x_train's 0..59, test follows at 60..68.
    const where = (await loadData(`npz:${file}`, { seed: 1 })).rows!;
    assert.deepEqual([...where.train, ...where.val].sort((p, q) => p - q), [...Array(60).keys()]);
    for (let i = 0; i < train.n; i++) {
      assert.equal(Math.round(train.x[i * 20] * 255), where.train[i]);
    }
    assert.deepEqual(Array.from(where.test!), [60, 61, 62, 63, 64, 65, 66, 67, 68]);
    // valSize, and x_val when present.
    const small = await loadNpz(file, { valSize: 6 });
    assert.equal(small.val.n, 6);
    await Deno.writeFile(
      file,
      npz({
        x_train: npy(images(12), [12, 4, 5]),
        y_train: npy(labels(12), [12]),
        x_val: npy(images(4), [4, 4, 5]),
        y_val: npy(labels(4), [4]),
      }),
    );
    const withVal = await loadNpz(file, { testFraction: 0.25 });
    assert.deepEqual([withVal.train.n, withVal.val.n, withVal.test.n], [9, 4, 3]);
  });
});

Deno.test("npz images: (N, H, W, 3), (N, C, H, W) and floats in [0, 1] or [0, 255]", async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, "a.npz");
    const n = 12;
    // Channels last: pixel value = channel * 100.
    const hwc = new Float32Array(n * 2 * 2 * 3).map((_, j) => (j % 3) * 100);
    await Deno.writeFile(
      file,
      npz({ x_train: npy(hwc, [n, 2, 2, 3]), y_train: npy(labels(n), [n]) }),
    );
    const a = await loadNpz(file);
    assert.deepEqual(a.train.imageShape, [2, 2, 3]);
    assert.deepEqual(
      Array.from(a.train.x.subarray(0, 3)),
      [0, 100 / 255, 200 / 255].map(Math.fround),
    );
    // The same pixels channels first.
    const chw = new Float32Array(n * 3 * 2 * 2).map((_, j) => Math.floor((j % 12) / 4) * 0.25);
    await Deno.writeFile(
      file,
      npz({ x_train: npy(chw, [n, 3, 2, 2]), y_train: npy(labels(n), [n]) }),
    );
    const b = await loadNpz(file);
    assert.deepEqual(b.train.imageShape, [2, 2, 3]);
    assert.deepEqual(Array.from(b.train.x.subarray(0, 6)), [0, 0.25, 0.5, 0, 0.25, 0.5]);
    // Values outside [0, 255] are not pixels.
    const bad = new Float32Array(n * 4).fill(-1);
    await Deno.writeFile(file, npz({ x_train: npy(bad, [n, 2, 2]), y_train: npy(labels(n), [n]) }));
    await rejectsWith(() => loadNpz(file), file, "values from -1 to -1");
  });
});

Deno.test("npz rows (N, F) are tabular, min-max scaled, with feature and class names", async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, "t.npz");
    const n = 30;
    const x = new Float64Array(n * 2).map((_, j) => (j % 2 === 0 ? Math.floor(j / 2) : 5));
    const y = ["no", "yes", "maybe"];
    await Deno.writeFile(
      file,
      npz({
        x_train: npy(x, [n, 2]),
        y_train: npyStrings(Array.from({ length: n }, (_, i) => y[i % 3])),
        feature_names: npyStrings(["age", "const"]),
      }),
    );
    const { train, test } = await loadNpz(file);
    assert.equal(train.imageShape, null);
    assert.deepEqual(train.featureNames, ["age", "const"]);
    assert.deepEqual(train.classNames, ["maybe", "no", "yes"]);
    assert.ok(train.scaling);
    assert.equal(train.scaling.max[1], 5);
    assert.ok(train.x.every((v) => v >= 0 && v <= 1));
    for (let i = 0; i < test.n; i++) {
      const row = Math.round(
        test.x[i * 2] * (train.scaling.max[0] - train.scaling.min[0]) + train.scaling.min[0],
      );
      assert.equal(train.classNames![test.y[i]], y[row % 3]);
    }
    // One-hot labels and class_names.
    const hot = new Uint8Array(n * 3).map((_, j) => (j % 3 === Math.floor(j / 3) % 3 ? 1 : 0));
    await Deno.writeFile(
      file,
      npz({
        x_train: npy(x, [n, 2]),
        y_train: npy(hot, [n, 3]),
        class_names: npyStrings(["cat", "dog", "eel"]),
      }),
    );
    const oneHot = await loadNpz(file, { valSize: 0, testFraction: 0 });
    assert.deepEqual(oneHot.train.classNames, ["cat", "dog", "eel"]);
    assert.deepEqual(Array.from(oneHot.train.y.subarray(0, 4)), [0, 1, 2, 0]);
  });
});

Deno.test("bad npz files are refused, naming the arrays they hold", async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, "b.npz");
    await Deno.writeFile(file, npz({ images: npy(images(3), [3, 4, 5]), y: npy(labels(3), [3]) }));
    await rejectsWith(
      () => loadNpz(file),
      file,
      `no array "x_train"`,
      `"images" (3, 4, 5)`,
      `"y" (3,)`,
    );
    await Deno.writeFile(file, npz({ x_train: npy(images(3), [3, 4, 5]) }));
    await rejectsWith(() => loadNpz(file), `no array "y_train"`, `"x_train" (3, 4, 5)`);
    await Deno.writeFile(
      file,
      npz({
        x_train: npy(images(12), [12, 4, 5]),
        y_train: npy(labels(12), [12]),
        x_test: npy(images(3), [3, 5, 4]),
        y_test: npy(labels(3), [3]),
      }),
    );
    await rejectsWith(
      () => loadNpz(file),
      `"x_test" has shape (3, 5, 4)`,
      `"x_train" has (12, 4, 5)`,
    );
    await Deno.writeFile(
      file,
      npz({ x_train: npy(images(12), [12, 4, 5]), y_train: npy(labels(11), [11]) }),
    );
    await rejectsWith(() => loadNpz(file), `"y_train" has shape (11,)`, "12 samples");
    await Deno.writeFile(file, new TextEncoder().encode("not a zip"));
    await rejectsWith(() => loadNpz(file), file, "not a zip archive");
    await rejectsWith(() => loadNpz(join(dir, "none.npz")), "does not exist");
  });
});

Deno.test("--test-data as an npz must match the training images' shape; both shapes are named", async () => {
  await inTempDir(async (dir) => {
    const a = join(dir, "a.npz");
    const b = join(dir, "b.npz");
    await Deno.writeFile(
      a,
      npz({ x_train: npy(images(30), [30, 4, 5]), y_train: npy(labels(30), [30]) }),
    );
    await Deno.writeFile(
      b,
      npz({
        x_test: npy(images(6, 5, 5), [6, 5, 5]),
        y_test: npy(labels(6), [6]),
        x_train: npy(images(2, 5, 5), [2, 5, 5]),
        y_train: npy(labels(2), [2]),
      }),
    );
    await rejectsWith(
      () => loadData(`npz:${a}`, { testData: `npz:${b}` }),
      `Test data "npz:${b}"`,
      "5x5 images with 1 channel",
      "5x4 images with 1 channel",
    );
    // The same shape: its x_test becomes the test split, nothing is carved from a.
    await Deno.writeFile(
      b,
      npz({
        x_test: npy(images(6), [6, 4, 5]),
        y_test: npy(labels(6), [6]),
        x_train: npy(images(2), [2, 4, 5]),
        y_train: npy(labels(2), [2]),
      }),
    );
    const s = await loadData(`npz:${a}`, { testData: `npz:${b}` });
    assert.deepEqual([s.train.n + s.val.n, s.test.n], [30, 6]);
  });
});
