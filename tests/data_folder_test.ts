import assert from "node:assert/strict";
import { join } from "node:path";
import { loadData, loadImageFolder, parseImageSize } from "../lib/data/mod.ts";
import { dataInfo } from "../lib/train/soft_tree.ts";
import { prepareInputs } from "../lib/use/inputs.ts";
import { decodeImage } from "../lib/image/decode.ts";
import { initParams } from "../lib/tree/params.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../lib/io/checkpoint.ts";
import { DEFAULT_TREE_CONFIG } from "../lib/tree/types.ts";
import { rejectsWith } from "./_assert.ts";
import { colourImage, COLOURS, inTempDir, jpeg, png, writeColourFolder } from "./_data_files.ts";

const DIGITS = new URL("./fixtures/digits-folder", import.meta.url).pathname;
const NAMES = ["blue", "green", "red"];

Deno.test("the digits folder loads as 8x8 gray images in train/ and test/ with classes 0-9", async () => {
  const { train, val, test, labels } = await loadData(`folder:${DIGITS}`);
  assert.equal(train.n + val.n, 1442);
  assert.equal(val.n, Math.round(1442 / 6)); // carved as MNIST's validation split is
  assert.equal(test.n, 355);
  for (const ds of [train, val, test]) {
    assert.deepEqual(ds.imageShape, [8, 8, 1]);
    assert.equal(ds.features, 64);
    assert.deepEqual(ds.classNames, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    assert.equal(ds.source, `folder:${DIGITS}`);
    assert.ok(ds.x.every((v) => v >= 0 && v <= 1));
  }
  assert.deepEqual(labels.warnings, []);
  assert.ok(labels.counts.test.every((c) => c >= 34 && c <= 36));
  // The first test sample is the first file of test/0, scaled to [0, 1].
  const first = (await Array.fromAsync(Deno.readDir(join(DIGITS, "test", "0"))))
    .map((e) => e.name).sort()[0];
  const raster = decodeImage(await Deno.readFile(join(DIGITS, "test", "0", first)), first);
  assert.equal(test.y[0], 0);
  assert.deepEqual(
    Array.from(test.x.subarray(0, 64)),
    Array.from(raster.data, (v) => Math.fround(v / 255)),
  );
});

Deno.test("a colour folder (PNG and JPEG) loads as RGB with the folder names as classes", async () => {
  await inTempDir(async (dir) => {
    await writeColourFolder(dir);
    const { train, val, test } = await loadImageFolder(dir);
    assert.deepEqual(train.imageShape, [5, 6, 3]);
    assert.deepEqual(train.classNames, NAMES);
    assert.equal(train.n + val.n, 36);
    assert.equal(test.n, 9);
    // test/ in class order, then file order: blue-0, blue-1, blue-2, green-0, ...
    assert.deepEqual(Array.from(test.y), [0, 0, 0, 1, 1, 1, 2, 2, 2]);
    const want = colourImage("green", 100);
    const got = test.x.subarray(3 * 90, 4 * 90);
    for (let i = 0; i < 90; i++) assert.equal(got[i], Math.fround(want[i] / 255));
    // Every class has its images in train and validation (4 of them JPEGs), none lost.
    const counts = [0, 0, 0];
    for (const ds of [train, val]) for (const y of ds.y) counts[y]++;
    assert.deepEqual(counts, [12, 12, 12]);
  });
});

Deno.test("a JPEG image reads back within a few levels of its pixels", async () => {
  await inTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "red"), { recursive: true });
    const rgb = colourImage("red", 0);
    await Deno.writeFile(join(dir, "red", "a.jpg"), jpeg(6, 5, rgb));
    await Deno.writeFile(join(dir, "red", "b.png"), png(6, 5, 3, rgb));
    const { train, val, test } = await loadImageFolder(dir, { valSize: 0, testFraction: 0 });
    assert.equal(train.n + val.n + test.n, 2);
    let worst = 0;
    for (let i = 0; i < 90; i++) worst = Math.max(worst, Math.abs(train.x[i] - train.x[90 + i]));
    assert.ok(worst < 40 / 255, `largest JPEG difference ${worst * 255} levels`);
  });
});

Deno.test("channels: gray images give 1, --channels 1 turns colour to gray by luma, 3 repeats gray", async () => {
  await inTempDir(async (dir) => {
    await writeColourFolder(dir, 4);
    const gray = await loadImageFolder(dir, { channels: 1 });
    assert.deepEqual(gray.test.imageShape, [5, 6, 1]);
    const [r, g, b] = COLOURS.blue;
    const corner = colourImage("blue", 100).subarray(0, 3); // pixel (0, 0) of test blue-0
    const luma = (0.299 * corner[0] + 0.587 * corner[1] + 0.114 * corner[2]) / 255;
    assert.ok(
      Math.abs(gray.test.x[0] - luma) < 1e-6,
      `${gray.test.x[0]} vs ${luma} (${r},${g},${b})`,
    );
  });
  const rgb = await loadImageFolder(DIGITS, { channels: 3 });
  assert.deepEqual(rgb.train.imageShape, [8, 8, 3]);
  assert.equal(rgb.train.x[3 * 10], rgb.train.x[3 * 10 + 1]);
});

Deno.test("images of other sizes are resized to the most common size, or to imageSize", async () => {
  await inTempDir(async (dir) => {
    for (const [cls, level] of [["dark", 40], ["light", 200]] as const) {
      await Deno.mkdir(join(dir, cls));
      for (let i = 0; i < 3; i++) {
        await Deno.writeFile(
          join(dir, cls, `${i}.png`),
          png(4, 4, 1, new Uint8Array(16).fill(level)),
        );
      }
      // One larger image: a flat level survives resizing unchanged.
      await Deno.writeFile(join(dir, cls, "big.png"), png(8, 6, 1, new Uint8Array(48).fill(level)));
    }
    const opts = { valSize: 0, testFraction: 0 };
    const common = await loadImageFolder(dir, opts);
    assert.deepEqual(common.train.imageShape, [4, 4, 1]);
    assert.equal(common.train.n, 8);
    for (let i = 0; i < common.train.n; i++) {
      const want = Math.fround((common.train.y[i] === 0 ? 40 : 200) / 255);
      for (const v of common.train.x.subarray(i * 16, (i + 1) * 16)) {
        assert.ok(Math.abs(v - want) < 1e-6);
      }
    }
    const sized = await loadImageFolder(dir, { ...opts, imageSize: "3x2" });
    assert.deepEqual(sized.train.imageShape, [2, 3, 1]);
    assert.equal(sized.train.features, 6);
  });
});

Deno.test("a folder of class folders is split by a seeded shuffle; the seed decides which rows", async () => {
  await inTempDir(async (dir) => {
    for (const cls of ["a", "b"]) {
      await Deno.mkdir(join(dir, cls));
      for (let i = 0; i < 20; i++) {
        await Deno.writeFile(
          join(dir, cls, `${i}.png`),
          png(2, 2, 1, new Uint8Array(4).fill(i * 10)),
        );
      }
    }
    const one = await loadImageFolder(dir, { seed: 1 });
    assert.deepEqual([one.train.n, one.val.n, one.test.n], [28, 6, 6]);
    const again = await loadImageFolder(dir, { seed: 1 });
    assert.deepEqual(again.test.x, one.test.x);
    const other = await loadImageFolder(dir, { seed: 2 });
    assert.notDeepEqual(other.test.x, one.test.x);
    // With a separate test set, nothing is carved for test.
    const noTest = await loadImageFolder(dir, { carveTest: false, valSize: 4 });
    assert.deepEqual([noTest.train.n, noTest.val.n, noTest.test.n], [36, 4, 0]);
  });
});

Deno.test("bad image folders are refused with the folder or file named", async () => {
  await inTempDir(async (dir) => {
    await rejectsWith(
      () => loadImageFolder(join(dir, "nope")),
      join(dir, "nope"),
      "does not exist",
    );
    await rejectsWith(() => loadImageFolder(dir), dir, "holds no class folders");
    await Deno.writeFile(join(dir, "loose.png"), png(2, 2, 1, new Uint8Array(4)));
    await rejectsWith(() => loadImageFolder(dir), "holds 1 images but no class folders");
    await Deno.mkdir(join(dir, "cat"));
    await Deno.mkdir(join(dir, "dog"));
    await Deno.writeFile(join(dir, "cat", "1.png"), png(2, 2, 1, new Uint8Array(4)));
    await Deno.writeTextFile(join(dir, "dog", "notes.txt"), "not an image");
    await rejectsWith(
      () => loadImageFolder(dir),
      `class folder "${join(dir, "dog")}"`,
      "no PNG or JPEG",
    );
    await Deno.writeTextFile(join(dir, "dog", "broken.png"), "not really a PNG");
    await rejectsWith(
      () => loadImageFolder(dir),
      join(dir, "dog", "broken.png"),
      "not a PNG or JPEG",
    );
    const truncated = png(2, 2, 1, new Uint8Array(4)).subarray(0, 30);
    await Deno.writeFile(join(dir, "dog", "broken.png"), truncated);
    await rejectsWith(() => loadImageFolder(dir), join(dir, "dog", "broken.png"));
  });
  await inTempDir(async (dir) => {
    await writeColourFolder(dir, 4);
    await Deno.mkdir(join(dir, "test", "purple"));
    await Deno.writeFile(join(dir, "test", "purple", "p.png"), png(6, 5, 3, colourImage("red", 0)));
    await rejectsWith(() => loadImageFolder(dir), `"purple"`, join(dir, "train"));
  });
  assert.throws(() => parseImageSize("28"), /Invalid image size "28"/);
  assert.throws(() => parseImageSize("0x5"), RangeError);
});

Deno.test("a separate test folder replaces the test split and is resized to the training size", async () => {
  await inTempDir(async (dir) => {
    await writeColourFolder(join(dir, "a"), 5);
    // A test folder of larger images with two of the three classes.
    for (const cls of ["red", "blue"]) {
      await Deno.mkdir(join(dir, "b", cls), { recursive: true });
      await Deno.writeFile(
        join(dir, "b", cls, "x.png"),
        png(12, 10, 3, new Uint8Array(360).fill(90)),
      );
    }
    const splits = await loadData(`folder:${join(dir, "a", "train")}`, {
      testData: `folder:${join(dir, "b")}`,
    });
    assert.equal(splits.train.n + splits.val.n, 15); // no test carved from the training data
    assert.equal(splits.test.n, 2);
    assert.deepEqual(splits.test.imageShape, [5, 6, 3]);
    // Numbered by the training data's classes: blue 0, red 2.
    assert.deepEqual(Array.from(splits.test.y), [0, 2]);
    assert.equal(splits.test.source, `folder:${join(dir, "b")}`);
    // A class the training data lacks.
    await Deno.mkdir(join(dir, "b", "purple"));
    await Deno.writeFile(join(dir, "b", "purple", "x.png"), png(6, 5, 3, new Uint8Array(90)));
    await rejectsWith(
      () => loadData(`folder:${join(dir, "a", "train")}`, { testData: `folder:${join(dir, "b")}` }),
      `Test data "folder:${join(dir, "b")}"`,
      `"purple"`,
      `"blue", "green", "red"`,
    );
  });
});

Deno.test("predict prepares a folder's own images exactly as the folder loader does", async () => {
  await inTempDir(async (dir) => {
    await writeColourFolder(dir, 4);
    const { train, test } = await loadImageFolder(dir);
    const config = { ...DEFAULT_TREE_CONFIG, depth: 2, features: 90, classes: 3 };
    const tree = { config, params: initParams(config, 0), data: dataInfo(train) };
    assert.deepEqual(tree.data.classNames, NAMES);
    const inputs = await prepareInputs(
      [join(dir, "test", "blue"), join(dir, "test", "green")],
      tree,
    );
    assert.equal(inputs.length, 6);
    inputs.forEach((input, i) => {
      assert.equal(input.error, undefined);
      assert.deepEqual(input.x, test.x.subarray(i * 90, (i + 1) * 90));
    });
  });
});

Deno.test("rows give each sample's place in the folder's order: class, then file name", async () => {
  await inTempDir(async (dir) => {
    // Image k (in folder order) is filled with level k.
    let k = 0;
    for (const cls of ["a", "b"]) {
      await Deno.mkdir(join(dir, cls));
      for (let i = 0; i < 10; i++) {
        const name = `${String(i).padStart(2, "0")}.png`;
        await Deno.writeFile(join(dir, cls, name), png(2, 2, 1, new Uint8Array(4).fill(k++)));
      }
    }
    const splits = await loadData(`folder:${dir}`, { seed: 4, limit: { train: 10 } });
    const rows = splits.rows!;
    assert.equal(rows.train.length, 10);
    const seen: number[] = [];
    for (const key of ["train", "val", "test"] as const) {
      const ds = splits[key];
      const where = rows[key]!;
      for (let i = 0; i < ds.n; i++) {
        assert.equal(Math.round(ds.x[i * 4] * 255), where[i]);
        assert.equal(ds.y[i], where[i] < 10 ? 0 : 1);
        seen.push(where[i]);
      }
    }
    assert.equal(new Set(seen).size, seen.length);
  });
});

Deno.test("gray images dark on light are kept so: predict does not invert the folder's own images", async () => {
  await inTempDir(async (dir) => {
    // Dark strokes on white paper, in two classes.
    for (const cls of ["h", "v"]) {
      await Deno.mkdir(join(dir, cls));
      for (let i = 0; i < 4; i++) {
        const px = new Uint8Array(25).fill(250);
        for (let j = 0; j < 5; j++) {
          px[cls === "h" ? (1 + (i % 3)) * 5 + j : j * 5 + 1 + (i % 3)] = 10;
        }
        await Deno.writeFile(join(dir, cls, `${i}.png`), png(5, 5, 1, px));
      }
    }
    const { train } = await loadImageFolder(dir, { valSize: 0, testFraction: 0 });
    assert.equal(train.lightOnDark, false);
    const config = { ...DEFAULT_TREE_CONFIG, depth: 1, features: 25, classes: 2 };
    const bytes = encodeCheckpoint(config, initParams(config, 0), dataInfo(train));
    const tree = decodeCheckpoint(bytes, "tree.sdt");
    assert.equal(tree.data.lightOnDark, false);
    const inputs = await prepareInputs([join(dir, "h")], tree);
    inputs.forEach((input, i) => {
      assert.ok(!input.steps.some((s) => s.includes("inverted")), input.steps.join("; "));
      assert.deepEqual(input.x, train.x.subarray(i * 25, (i + 1) * 25));
    });
    // The digits folder is light on dark, as MNIST.
    assert.equal((await loadImageFolder(DIGITS, { valSize: 0 })).train.lightOnDark, true);
  });
});

Deno.test("a validation/ folder is the validation split; rows run train, validation, test", async () => {
  await inTempDir(async (dir) => {
    await writeColourFolder(dir, 4);
    for (const cls of NAMES) {
      await Deno.mkdir(join(dir, "validation", cls), { recursive: true });
      await Deno.writeFile(
        join(dir, "validation", cls, "v.png"),
        png(6, 5, 3, colourImage(cls, 50)),
      );
    }
    const s = await loadData(`folder:${dir}`);
    assert.deepEqual([s.train.n, s.val.n, s.test.n], [12, 3, 9]);
    assert.deepEqual(Array.from(s.val.y), [0, 1, 2]);
    assert.deepEqual(Array.from(s.rows!.train), [...Array(12).keys()]);
    assert.deepEqual(Array.from(s.rows!.val), [12, 13, 14]);
    assert.deepEqual(Array.from(s.rows!.test!), [15, 16, 17, 18, 19, 20, 21, 22, 23]);
  });
});
