import assert from "node:assert/strict";
import { rejectsWith } from "./_assert.ts";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { idxFileRole, loadData, loadIdxDir, parseIdx, readIdx } from "../lib/data/mod.ts";

const CODES = { uint8: 0x08, int8: 0x09, int16: 0x0b, int32: 0x0c, float32: 0x0d, float64: 0x0e };
const SIZES = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 };

/** Builds the bytes of an IDX file, big-endian as the format requires. */
function idx(type: keyof typeof CODES, shape: number[], values: ArrayLike<number>): Uint8Array {
  const header = 4 + 4 * shape.length;
  const bytes = new Uint8Array(header + values.length * SIZES[type]);
  const view = new DataView(bytes.buffer);
  bytes.set([0, 0, CODES[type], shape.length]);
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  for (let i = 0; i < values.length; i++) {
    const at = header + i * SIZES[type];
    const v = values[i];
    if (type === "uint8") view.setUint8(at, v);
    else if (type === "int8") view.setInt8(at, v);
    else if (type === "int16") view.setInt16(at, v);
    else if (type === "int32") view.setInt32(at, v);
    else if (type === "float32") view.setFloat32(at, v);
    else view.setFloat64(at, v);
  }
  return bytes;
}

function range(n: number, f: (i: number) => number = (i) => i): number[] {
  return Array.from({ length: n }, (_, i) => f(i));
}

Deno.test("parseIdx() reads uint8 data with its shape", () => {
  const out = parseIdx(idx("uint8", [2, 3], [0, 1, 2, 253, 254, 255]), "a.idx");
  assert.equal(out.type, "uint8");
  assert.deepEqual(out.shape, [2, 3]);
  assert.deepEqual([...out.data], [0, 1, 2, 253, 254, 255]);
});

Deno.test("parseIdx() reads every other IDX type big-endian", () => {
  const cases = {
    int8: [-128, -1, 0, 127],
    int16: [-32768, -2, 513, 32767],
    int32: [-2147483648, -3, 16909060, 2147483647],
    float32: [-1.5, 0, 0.25, 2 ** 100],
    float64: [-1e300, Math.PI, 0, 1e-300],
  } as const;
  for (const [type, values] of Object.entries(cases)) {
    const out = parseIdx(idx(type as keyof typeof CODES, [2, 2], values), `${type}.idx`);
    assert.equal(out.type, type);
    assert.deepEqual(out.shape, [2, 2]);
    assert.deepEqual([...out.data], [...values], type);
  }
});

Deno.test("readIdx() gives the same result for a gzipped file as for the raw one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = idx("int16", [3, 2, 2], range(12, (i) => i * 1000 - 5000));
    await Deno.writeFile(join(dir, "x.idx"), bytes);
    await Deno.writeFile(join(dir, "x.idx.gz"), gzipSync(bytes));
    const raw = await readIdx(join(dir, "x.idx"));
    const gz = await readIdx(join(dir, "x.idx.gz"));
    assert.deepEqual(gz, raw);
    assert.deepEqual(raw.shape, [3, 2, 2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseIdx() names the file and the problem for every kind of bad header or data", async () => {
  const good = idx("uint8", [3, 2], range(6));
  await rejectsWith(() => parseIdx(good.subarray(0, 3), "short.idx"), `"short.idx"`, "3 bytes");
  await rejectsWith(
    () => parseIdx(new Uint8Array([1, 2, 8, 1, 0, 0, 0, 0]), "magic.idx"),
    `Cannot read IDX file "magic.idx"`,
    `magic number "0x01020801"`,
    "not an IDX file",
  );
  await rejectsWith(
    () => parseIdx(new Uint8Array([0, 0, 0x0a, 1, 0, 0, 0, 0]), "type.idx"),
    `"type.idx"`,
    `type code "0x0a"`,
  );
  await rejectsWith(
    () => parseIdx(good.subarray(0, 10), "header.idx"),
    `"header.idx"`,
    "header declares 2 dimensions (12 bytes of header) but the file holds 10 bytes",
  );
  await rejectsWith(
    () => parseIdx(good.subarray(0, good.length - 2), "data.idx"),
    `Cannot read IDX file "data.idx": header declares 3 items but the file holds 2`,
  );
  await rejectsWith(
    () => parseIdx(good.subarray(0, good.length - 1), "part.idx"),
    "header declares 3 items but the file holds 2 and 1 bytes of another",
  );
  const trailing = new Uint8Array([...good, 9, 9]);
  await rejectsWith(
    () => parseIdx(trailing, "tail.idx"),
    `"tail.idx"`,
    "2 bytes after the 3 items its header declares",
  );
  const badGzip = gzipSync(good).subarray(0, 15);
  await rejectsWith(() => parseIdx(badGzip, "bad.gz"), `"bad.gz"`, "gzip data is corrupt");
  await rejectsWith(() => readIdx("/nonexistent/x.idx"), `"/nonexistent/x.idx"`, "does not exist");
});

Deno.test("parseIdx() reports a truncated file inside gzip just as a raw one", async () => {
  const good = idx("uint8", [60000], new Uint8Array(60000));
  const truncated = good.subarray(0, good.length - 1);
  await rejectsWith(
    () => parseIdx(gzipSync(truncated), "labels.gz"),
    `Cannot read IDX file "labels.gz": header declares 60000 items but the file holds 59999`,
  );
});

Deno.test("idxFileRole() recognizes MNIST, Fashion-MNIST and EMNIST file names", () => {
  assert.equal(idxFileRole("train-images-idx3-ubyte"), "train images");
  assert.equal(idxFileRole("train-labels-idx1-ubyte.gz"), "train labels");
  assert.equal(idxFileRole("t10k-images-idx3-ubyte.gz"), "test images");
  assert.equal(idxFileRole("emnist-balanced-test-labels-idx1-ubyte"), "test labels");
  assert.equal(idxFileRole("emnist-balanced-mapping.txt"), null);
  assert.equal(idxFileRole("README.md"), null);
});

/** A small MNIST-like set: 12 training and 6 test images of 2x3 pixels. */
function tinySet(h = 2, w = 3) {
  const trainImages = idx("uint8", [12, h, w], range(12 * h * w, (i) => (i * 7) % 256));
  const trainLabels = idx("uint8", [12], range(12, (i) => i % 4));
  const testImages = idx("uint8", [6, h, w], range(6 * h * w, (i) => 255 - i));
  const testLabels = idx("uint8", [6], range(6, (i) => (i + 1) % 4));
  return { trainImages, trainLabels, testImages, testLabels };
}

async function writeSet(
  dir: string,
  names: [string, string, string, string],
  set = tinySet(),
  gzip = false,
): Promise<void> {
  const files = [set.trainImages, set.trainLabels, set.testImages, set.testLabels];
  for (let i = 0; i < 4; i++) {
    await Deno.writeFile(join(dir, names[i]), gzip ? gzipSync(files[i]) : files[i]);
  }
}

const MNIST_NAMES: [string, string, string, string] = [
  "train-images-idx3-ubyte",
  "train-labels-idx1-ubyte",
  "t10k-images-idx3-ubyte",
  "t10k-labels-idx1-ubyte",
];

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadIdxDir() splits an MNIST-like folder and scales pixels to [0, 1]", async () => {
  await withDir(async (dir) => {
    await writeSet(dir, MNIST_NAMES);
    const { train, val, test } = await loadIdxDir(dir);
    // Default validation size: a sixth of the 12 training images, taken from the end.
    assert.deepEqual([train.n, val.n, test.n], [10, 2, 6]);
    assert.equal(train.features, 6);
    assert.deepEqual(train.imageShape, [2, 3, 1]);
    assert.equal(train.classes, 4);
    assert.deepEqual(train.classNames, ["0", "1", "2", "3"]);
    assert.deepEqual([...val.y], [10 % 4, 11 % 4]);
    // Training image 10, pixel 0, was byte (10 * 6 * 7) % 256 = 164.
    assert.equal(val.x[0], Math.fround(164 / 255));
    assert.equal(test.x[0], 1);
    assert.equal(test.x[1], Math.fround(254 / 255));
    assert.equal(train.x.length, 10 * 6);
    assert.equal(train.source, `idx:${dir}`);
  });
});

Deno.test("loadIdxDir() reads gzipped files to the same splits as raw ones", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(join(dir, "raw"));
    await Deno.mkdir(join(dir, "gz"));
    await writeSet(join(dir, "raw"), MNIST_NAMES);
    await writeSet(
      join(dir, "gz"),
      MNIST_NAMES.map((n) => `${n}.gz`) as typeof MNIST_NAMES,
      tinySet(),
      true,
    );
    const opts = { valSize: 3, source: "same" };
    assert.deepEqual(
      await loadIdxDir(join(dir, "gz"), opts),
      await loadIdxDir(join(dir, "raw"), opts),
    );
  });
});

Deno.test("loadIdxDir() transposes EMNIST images and honours valSize and classes", async () => {
  await withDir(async (dir) => {
    const names = MNIST_NAMES.map((n) =>
      `emnist-digits-${n.replace("t10k", "test")}`
    ) as typeof MNIST_NAMES;
    await writeSet(dir, names);
    const { train, val } = await loadIdxDir(dir, { valSize: 4, classes: 10 });
    assert.deepEqual([train.n, val.n], [8, 4]);
    assert.equal(train.classes, 10);
    // Stored 2x3 row-major, read as 3x2: pixel (row 1, col 0) was (row 0, col 1).
    assert.deepEqual(train.imageShape, [3, 2, 1]);
    assert.equal(train.x[2], Math.fround(7 / 255));
    const plain = await loadIdxDir(dir, { valSize: 4, transpose: false });
    assert.deepEqual(plain.train.imageShape, [2, 3, 1]);
    assert.equal(plain.train.x[1], Math.fround(7 / 255));
  });
});

Deno.test("loadIdxDir() reports mismatched counts, bad labels and missing files by name", async () => {
  await withDir(async (dir) => {
    const set = tinySet();
    set.trainLabels = idx("uint8", [11], range(11));
    await writeSet(dir, MNIST_NAMES, set);
    await rejectsWith(
      () => loadIdxDir(dir),
      `"${join(dir, "train-labels-idx1-ubyte")}"`,
      `holds 11 labels but "${join(dir, "train-images-idx3-ubyte")}" holds 12 images`,
    );
  });
  await withDir(async (dir) => {
    const set = tinySet();
    set.testLabels = idx("uint8", [6], [0, 1, 2, 12, 0, 0]);
    await writeSet(dir, MNIST_NAMES, set);
    await rejectsWith(
      () => loadIdxDir(dir, { classes: 10 }),
      `"${join(dir, "t10k-labels-idx1-ubyte")}"`,
      `label "12" of item 3 is outside [0, 10) for 10 classes`,
    );
  });
  await withDir(async (dir) => {
    const set = tinySet();
    set.trainLabels = idx("int8", [12], range(12, (i) => (i === 5 ? -1 : 0)));
    await writeSet(dir, MNIST_NAMES, set);
    await rejectsWith(() => loadIdxDir(dir), `label "-1" of item 5 is negative`);
  });
  await withDir(async (dir) => {
    const set = tinySet();
    set.testImages = tinySet(3, 3).testImages;
    await writeSet(dir, MNIST_NAMES, set);
    await rejectsWith(
      () => loadIdxDir(dir),
      `"${join(dir, "t10k-images-idx3-ubyte")}"`,
      "its items are 3x3 but the training images",
      "are 2x3",
    );
  });
  await withDir(async (dir) => {
    await writeSet(dir, MNIST_NAMES);
    await Deno.remove(join(dir, "t10k-labels-idx1-ubyte"));
    await rejectsWith(
      () => loadIdxDir(dir),
      `Cannot load IDX folder "${dir}": found no file for test labels`,
      `"t10k-labels-idx1-ubyte[.gz]"`,
    );
  });
  await withDir(async (dir) => {
    await writeSet(dir, MNIST_NAMES);
    await Deno.writeFile(join(dir, "fashion-train-images-idx3-ubyte"), new Uint8Array(0));
    await rejectsWith(
      () => loadIdxDir(dir),
      "found 2 files for train images",
      `"fashion-train-images-idx3-ubyte"`,
      "`match`",
    );
  });
  await rejectsWith(() => loadIdxDir("/nonexistent/dir"), `"/nonexistent/dir"`, "does not exist");
});

Deno.test("loadIdxDir() prefers the raw file when a folder holds it gzipped too", async () => {
  await withDir(async (dir) => {
    await writeSet(dir, MNIST_NAMES);
    await Deno.writeFile(join(dir, "train-images-idx3-ubyte.gz"), new Uint8Array([1, 2, 3]));
    const { train } = await loadIdxDir(dir);
    assert.equal(train.n, 10);
  });
});

Deno.test("loadData() takes an idx: spec and keeps the first n of each split", async () => {
  await withDir(async (dir) => {
    await writeSet(dir, MNIST_NAMES);
    const full = await loadData(`idx:${dir}`);
    const small = await loadData(`idx:${dir}`, { limit: { train: 4, test: 100 } });
    assert.deepEqual([small.train.n, small.val.n, small.test.n], [4, 2, 6]);
    assert.deepEqual(small.train.x, full.train.x.subarray(0, 4 * 6));
    assert.deepEqual(small.train.y, full.train.y.subarray(0, 4));
    assert.equal(small.train.source, `idx:${dir}`);
    // rows: the training file's items, then the test file's.
    const n = full.train.n + full.val.n;
    assert.deepEqual(Array.from(small.rows!.train), [0, 1, 2, 3]);
    assert.deepEqual(Array.from(small.rows!.val), [full.train.n, full.train.n + 1]);
    assert.deepEqual(Array.from(small.rows!.test!), [n, n + 1, n + 2, n + 3, n + 4, n + 5]);
    await assert.rejects(() => loadData(`idx:${dir}`, { limit: { val: -1 } }), RangeError);
  });
});

Deno.test("loadData() rejects an unknown spec with a TypeError naming the accepted forms", async () => {
  for (const spec of ["mnsit", "idx:", "csv", "png:x"]) {
    await assert.rejects(() => loadData(spec), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.equal(
        error.message,
        `Unknown data spec "${spec}": expected "mnist", "idx:DIR", "csv:FILE", "folder:DIR", ` +
          `"npz:FILE" or "npy:X.npy,Y.npy"`,
      );
      return true;
    });
  }
});
