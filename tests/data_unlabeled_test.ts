import assert from "node:assert/strict";
import { join } from "node:path";
import { loadData, loadUnlabeled } from "../lib/data/mod.ts";
import { rejectsWith } from "./_assert.ts";
import { colourImage, inTempDir, npy, npz, png, writeColourFolder } from "./_data_files.ts";

Deno.test("loadUnlabeled() reads a folder of loose images, resized to the training data's shape", async () => {
  await inTempDir(async (dir) => {
    await writeColourFolder(join(dir, "labelled"), 4);
    const { train } = await loadData(`folder:${join(dir, "labelled")}`);
    const loose = join(dir, "loose");
    await Deno.mkdir(join(loose, "more"), { recursive: true });
    await Deno.writeFile(join(loose, "a.png"), png(6, 5, 3, colourImage("red", 1)));
    await Deno.writeFile(join(loose, "b.png"), png(12, 10, 1, new Uint8Array(120).fill(51)));
    await Deno.writeFile(join(loose, "more", "c.png"), png(6, 5, 3, colourImage("blue", 2)));
    await Deno.writeTextFile(join(loose, "README.txt"), "ignored");
    const u = await loadUnlabeled(`folder:${loose}`, { like: train });
    assert.equal(u.n, 3);
    assert.deepEqual(Array.from(u.y), [-1, -1, -1]);
    assert.deepEqual(u.imageShape, [5, 6, 3]);
    assert.deepEqual(u.classNames, train.classNames);
    assert.equal(u.source, `folder:${loose}`);
    // a.png as it is; b.png gray, repeated into RGB, shrunk (a flat level stays); c.png in more/.
    const a = colourImage("red", 1);
    for (let i = 0; i < 90; i++) assert.ok(Math.abs(u.x[i] - a[i] / 255) < 1e-6);
    for (let i = 90; i < 180; i++) assert.ok(Math.abs(u.x[i] - 0.2) < 1e-6);
    assert.ok(Math.abs(u.x[180 + 2] - colourImage("blue", 2)[2] / 255) < 1e-6);
    // Without `like`: the most common size and colour.
    const own = await loadUnlabeled(`folder:${loose}`, { limit: 2 });
    assert.deepEqual([own.n, ...own.imageShape!], [2, 5, 6, 3]);
  });
});

Deno.test("loadUnlabeled() reads an npz with x or x_train, and a .npy, as pixels", async () => {
  await inTempDir(async (dir) => {
    const x = new Uint8Array(5 * 4 * 5).fill(255);
    await Deno.writeFile(join(dir, "u.npz"), npz({ x: npy(x, [5, 4, 5]) }));
    await Deno.writeFile(
      join(dir, "v.npz"),
      npz({ x_train: npy(x, [5, 4, 5]), y_train: npy(new Uint8Array(5), [5]) }),
    );
    await Deno.writeFile(join(dir, "u.npy"), npy(x, [5, 4, 5]));
    for (const spec of ["npz:u.npz", "npz:v.npz", "npy:u.npy"]) {
      const [kind, file] = spec.split(":");
      const u = await loadUnlabeled(`${kind}:${join(dir, file)}`);
      assert.equal(u.n, 5);
      assert.deepEqual(u.imageShape, [4, 5, 1]);
      assert.ok(u.x.every((v) => v === 1));
      assert.ok(u.y.every((v) => v === -1));
    }
    await Deno.writeFile(join(dir, "w.npz"), npz({ images: npy(x, [5, 4, 5]) }));
    await rejectsWith(
      () => loadUnlabeled(`npz:${join(dir, "w.npz")}`),
      `no array "x" or "x_train"`,
      `"images" (5, 4, 5)`,
    );
    // Shaped like a training set of other images: resized; of features: refused, both named.
    const like =
      (await loadData(`npz:${join(dir, "v.npz")}`, { valSize: 0, testFraction: 0 })).train;
    await Deno.writeFile(
      join(dir, "big.npy"),
      npy(new Uint8Array(2 * 8 * 10).fill(255), [2, 8, 10]),
    );
    const big = await loadUnlabeled(`npy:${join(dir, "big.npy")}`, { like });
    assert.deepEqual(big.imageShape, [4, 5, 1]);
    assert.ok(big.x.every((v) => Math.abs(v - 1) < 1e-6));
    await Deno.writeFile(join(dir, "rows.npy"), npy(new Float32Array(6), [2, 3]));
    await rejectsWith(
      () => loadUnlabeled(`npy:${join(dir, "rows.npy")}`, { like }),
      "3 features",
      "5x4 images with 1 channel",
    );
  });
});

Deno.test("loadUnlabeled() reads a CSV without labels, scaled by the training split's ranges", async () => {
  await inTempDir(async (dir) => {
    const rows = ["a,b,kind"];
    for (let i = 0; i < 20; i++) rows.push(`${i},${100 + i * 2},${i % 2 ? "x" : "y"}`);
    await Deno.writeTextFile(join(dir, "train.csv"), rows.join("\n"));
    const { train } = await loadData(`csv:${join(dir, "train.csv")}`);
    // Columns in another order, an extra one, no label.
    await Deno.writeTextFile(join(dir, "more.csv"), "note,b,a\n1,110,5\n2,300,-1\n");
    const u = await loadUnlabeled(`csv:${join(dir, "more.csv")}`, { like: train });
    assert.equal(u.n, 2);
    assert.deepEqual(u.featureNames, ["a", "b"]);
    const { min, max } = train.scaling!;
    const scaled = (v: number, f: number) => Math.fround((v - min[f]) / (max[f] - min[f]));
    assert.deepEqual(Array.from(u.x), [
      scaled(5, 0),
      scaled(110, 1),
      scaled(-1, 0),
      scaled(300, 1),
    ]);
    assert.deepEqual(Array.from(u.y), [-1, -1]);
    // Without a header, by position: the column count must match.
    await Deno.writeTextFile(join(dir, "plain.csv"), "1,2,3\n");
    await rejectsWith(
      () => loadUnlabeled(`csv:${join(dir, "plain.csv")}`, { like: train }),
      "3 features",
      "2 features",
    );
  });
});

Deno.test("loadUnlabeled() refuses an empty folder, an unknown spec and npy pairs", async () => {
  await inTempDir(async (dir) => {
    await rejectsWith(() => loadUnlabeled(`folder:${dir}`), dir, "no PNG or JPEG images");
    await assert.rejects(() => loadUnlabeled("mnist"), TypeError);
    await assert.rejects(() => loadUnlabeled(`npy:${dir}/x.npy,${dir}/y.npy`), /one \.npy file/);
  });
});
