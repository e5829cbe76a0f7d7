import assert from "node:assert/strict";
import { join } from "node:path";
import { loadData, loadNpyPair, parseNpy, readNpy } from "../lib/data/mod.ts";
import { DatasetError } from "../lib/errors.ts";
import { rejectsWith } from "./_assert.ts";
import { inTempDir, npy, npyStrings } from "./_data_files.ts";

function refused(bytes: Uint8Array, ...parts: string[]) {
  assert.throws(() => parseNpy(bytes, "a.npy"), (error: unknown) => {
    assert.ok(error instanceof DatasetError, String(error));
    assert.ok(error.message.startsWith(`Cannot read NPY file "a.npy"`), error.message);
    for (const part of parts) {
      assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
    }
    return true;
  });
}

Deno.test("parseNpy() reads every numeric type it accepts, in C order", () => {
  const cases = [
    new Uint8Array([0, 7, 255, 1, 2, 3]),
    new Int8Array([-128, 0, 127, 1, 2, 3]),
    new Int16Array([-5, 300, 0, 1, 2, 3]),
    new Int32Array([-70000, 7, 0, 1, 2, 3]),
    new Float32Array([0.5, -1.25, 3, 1, 2, 3]),
    new Float64Array([1e-300, 2, 3, 1, 2, 3]),
  ];
  for (const data of cases) {
    const a = parseNpy(npy(data, [2, 3]), "a.npy");
    assert.deepEqual(a.shape, [2, 3]);
    assert.deepEqual(Array.from(a.data as ArrayLike<number>), Array.from(data));
  }
  const big = parseNpy(npy(new BigInt64Array([-3n, 2n ** 40n]), [2]), "a.npy");
  assert.equal(big.dtype, "int64");
  assert.deepEqual(Array.from(big.data as Float64Array), [-3, 2 ** 40]);
  const bools = parseNpy(npy(new Uint8Array([1, 0]), [2], { descr: "|b1" }), "a.npy");
  assert.equal(bools.dtype, "bool");
  const words = parseNpy(npyStrings(["cat", "dög", ""]), "a.npy");
  assert.deepEqual(words, { dtype: "string", shape: [3], data: ["cat", "dög", ""] });
  // A subarray at an odd offset (as inside a zip) still reads.
  const file = npy(new Float32Array([1, 2]), [2]);
  const shifted = new Uint8Array(file.length + 1);
  shifted.set(file, 1);
  assert.deepEqual(Array.from(parseNpy(shifted.subarray(1), "a.npy").data as Float32Array), [1, 2]);
});

Deno.test("parseNpy() refuses what it does not read and says what it is", () => {
  refused(new TextEncoder().encode("just text, not numpy"), "not a NumPy .npy file");
  refused(npy(new Float32Array(4), [4], { descr: ">f4" }), "big-endian");
  refused(npy(new Float32Array(4), [2, 2], { fortran: true }), "Fortran order");
  refused(npy(new Uint16Array(4) as unknown as Uint8Array, [4], { descr: "<f2" }), "float16");
  refused(npy(new Float64Array(4), [2], { descr: "<c16" }), "complex numbers");
  refused(npy(new Uint8Array(8), [1], { descr: "|O" }), "Python objects");
  refused(npy(new Float32Array(3), [4]), "declares shape (4,)", "16 bytes", "holds 12");
  refused(npy(new BigInt64Array([2n ** 60n]), [1]), "beyond the integers a float64 holds");
});

Deno.test("readNpy() names a missing file", async () => {
  await rejectsWith(() => readNpy("/no/such/x.npy"), `"/no/such/x.npy"`, "does not exist");
});

Deno.test("npy:X,Y splits samples and labels 70/15/15 by a seeded shuffle", async () => {
  await inTempDir(async (dir) => {
    const n = 40;
    const x = new Float32Array(n * 3).map((_, i) => Math.floor(i / 3) * 10 + (i % 3));
    const y = new Int32Array(n).map((_, i) => i % 4);
    await Deno.writeFile(join(dir, "x.npy"), npy(x, [n, 3]));
    await Deno.writeFile(join(dir, "y.npy"), npy(y, [n]));
    const spec = `npy:${join(dir, "x.npy")},${join(dir, "y.npy")}`;
    const { train, val, test } = await loadData(spec, { seed: 3 });
    assert.deepEqual([train.n, val.n, test.n], [28, 6, 6]);
    assert.equal(train.classes, 4);
    assert.deepEqual(train.classNames, ["0", "1", "2", "3"]);
    assert.deepEqual(train.featureNames, ["x0", "x1", "x2"]);
    assert.equal(train.source, spec);
    // Tabular rows are min-max scaled by the training rows; every row keeps its label.
    assert.ok(train.scaling);
    const { min, max } = train.scaling;
    for (const ds of [train, val, test]) {
      for (let i = 0; i < ds.n; i++) {
        const row: number = Math.round(ds.x[i * 3] * (max[0] - min[0]) + min[0]) / 10;
        assert.equal(ds.y[i], row % 4);
      }
    }
    await Deno.writeFile(join(dir, "y.npy"), npy(new Int32Array(n - 1), [n - 1]));
    await rejectsWith(() => loadData(spec), "39 labels for the 40 samples");
    await Deno.writeFile(join(dir, "y.npy"), npy(new Float32Array(n).fill(0.5), [n]));
    await rejectsWith(
      () => loadData(spec, { task: "classification" }),
      "holds 0.5 at row 0",
      "integers",
    );
    // Left to "auto", labels that are not whole numbers are a regression target.
    assert.ok((await loadData(spec)).train.values);
    await assert.rejects(() => loadData(`npy:${join(dir, "x.npy")}`), /takes two files/);
    await Deno.writeFile(join(dir, "x.npy"), npy(x, [n * 3]));
    await rejectsWith(() => loadData(spec), "has shape (120,)", "expected rows of features (N, F)");
    await Deno.writeFile(join(dir, "x.npy"), npy(new Uint8Array(n * 2 * 2 * 5), [n, 2, 2, 5]));
    await rejectsWith(() => loadData(spec), "has shape (40, 2, 2, 5)", "1 or 3 channels");
  });
});

Deno.test("npy images (N, H, W) of uint8 become [0, 1] pixels with an image shape", async () => {
  await inTempDir(async (dir) => {
    const x = new Uint8Array(20 * 4 * 3).map((_, i) => i % 256);
    await Deno.writeFile(join(dir, "x.npy"), npy(x, [20, 4, 3]));
    await Deno.writeFile(join(dir, "y.npy"), npy(new Uint8Array(20).map((_, i) => i % 2), [20]));
    const { train } = await loadNpyPair(join(dir, "x.npy"), join(dir, "y.npy"));
    assert.deepEqual(train.imageShape, [4, 3, 1]);
    assert.equal(train.scaling, undefined);
    assert.ok(train.x.every((v) => v >= 0 && v <= 1));
    // Pixel (0, 0) of each image is its index * 12 (mod 256), over 255.
    const rows = [...Array(20).keys()].filter((i) =>
      train.x[0] === Math.fround((i * 12 % 256) / 255)
    );
    assert.ok(rows.length >= 1);
  });
});
