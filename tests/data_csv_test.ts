import assert from "node:assert/strict";
import { rejectsWith } from "./_assert.ts";
import { join } from "node:path";
import { loadCsv, loadData, parseCsvDataset } from "../lib/data/mod.ts";

const SPECIES = ["setosa", "versicolor", "virginica"];

/** An iris-like table: 20 rows, 4 numeric features, a text label; row i has a = i. */
function irisText(header = true): string {
  const lines = header ? ["a,b,c,d,species"] : [];
  for (let i = 0; i < 20; i++) {
    lines.push(`${i},${(i * 0.5).toFixed(1)},${-i},7,${SPECIES[(i * 2) % 3]}`);
  }
  return lines.join("\n") + "\n";
}

async function withFile(name: string, text: string, fn: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, name);
    await Deno.writeTextFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("parseCsvDataset() splits 70/15/15 and maps text labels to sorted class indices", () => {
  const { train, val, test } = parseCsvDataset(irisText(), "iris.csv");
  assert.deepEqual([train.n, val.n, test.n], [14, 3, 3]);
  for (const split of [train, val, test]) {
    assert.equal(split.features, 4);
    assert.equal(split.classes, 3);
    assert.deepEqual(split.classNames, SPECIES);
    assert.deepEqual(split.featureNames, ["a", "b", "c", "d"]);
    assert.equal(split.imageShape, null);
    assert.equal(split.source, "csv:iris.csv");
    assert.equal(split.x.length, split.n * 4);
  }
  // Every row kept its own label: feature a (scaled) gives back the row index.
  const { min, max } = train.scaling!;
  for (const split of [train, val, test]) {
    for (let r = 0; r < split.n; r++) {
      const i = Math.round(min[0] + split.x[r * 4] * (max[0] - min[0]));
      assert.equal(SPECIES[split.y[r]], SPECIES[(i * 2) % 3]);
    }
  }
  const seen = new Set([train, val, test].flatMap((s) => [...s.x].filter((_, j) => j % 4 === 0)));
  assert.equal(seen.size, 20);
});

Deno.test("parseCsvDataset() rows give each sample's data row in the file", () => {
  const splits = parseCsvDataset(irisText(), "iris.csv", { seed: 5 });
  const { min, max } = splits.train.scaling!;
  const all: number[] = [];
  for (const key of ["train", "val", "test"] as const) {
    const ds = splits[key];
    const rows = splits.rows![key]!;
    assert.equal(rows.length, ds.n);
    for (let r = 0; r < ds.n; r++) {
      assert.equal(Math.round(min[0] + ds.x[r * 4] * (max[0] - min[0])), rows[r]); // a = row
      all.push(rows[r]);
    }
  }
  assert.deepEqual(all.sort((p, q) => p - q), [...Array(20).keys()]);
});

Deno.test("parseCsvDataset() min-max scales features by the training split only", () => {
  const { train, val, test } = parseCsvDataset(irisText(), "iris.csv", { seed: 3 });
  for (let f = 0; f < 3; f++) {
    const column = [...train.x].filter((_, j) => j % 4 === f);
    assert.equal(Math.min(...column), 0);
    assert.equal(Math.max(...column), 1);
  }
  // Column d is constant, so it becomes 0.
  assert.ok([...train.x, ...val.x, ...test.x].filter((_, j) => j % 4 === 3).every((v) => v === 0));
  // Validation and test rows use the training range: scaling back gives their raw values.
  const { min, max } = train.scaling!;
  assert.deepEqual(val.scaling, train.scaling);
  const raw = [train, val, test].flatMap((s) =>
    [...s.x].filter((_, j) => j % 4 === 0).map((v) => min[0] + v * (max[0] - min[0]))
  );
  assert.deepEqual(raw.map((v) => Math.round(v) + 0).sort((p, q) => p - q), [...Array(20).keys()]);
  assert.ok(raw.every((v) => Math.abs(v - Math.round(v)) < 1e-4));
});

Deno.test("parseCsvDataset() gives the same splits for the same seed and others for another", () => {
  const a = parseCsvDataset(irisText(), "iris.csv", { seed: 42 });
  const b = parseCsvDataset(irisText(), "iris.csv", { seed: 42 });
  const c = parseCsvDataset(irisText(), "iris.csv", { seed: 43 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.train.y, c.train.y);
});

Deno.test("parseCsvDataset() uses integer labels as class indices as they are", () => {
  const text = "x,y,label\n1,2,0\n3,4,2\n5,6,1\n7,8,2\n9,10,0\n";
  const { train, val, test } = parseCsvDataset(text, "n.csv", { valFraction: 0, testFraction: 0 });
  assert.deepEqual([train.n, val.n, test.n], [5, 0, 0]);
  assert.equal(train.classes, 3);
  assert.deepEqual(train.classNames, ["0", "1", "2"]);
  // Label = (x + 1) / 2 - 1 rows: x=1 -> 0, x=3 -> 2, x=5 -> 1, x=7 -> 2, x=9 -> 0.
  const byX = new Map([[0, 0], [0.25, 2], [0.5, 1], [0.75, 2], [1, 0]]);
  for (let r = 0; r < 5; r++) assert.equal(train.y[r], byX.get(train.x[r * 2]));
  const five = parseCsvDataset(text, "n.csv", { classes: 5, valFraction: 0, testFraction: 0 });
  assert.equal(five.train.classes, 5);
});

Deno.test("parseCsvDataset() sorts non-integer numeric labels by value as classes when asked", () => {
  const text = "1,10\n2,-1\n3,2.5\n4,10\n";
  const opts = { valFraction: 0, testFraction: 0 };
  const { train } = parseCsvDataset(text, "r.csv", { ...opts, task: "classification" });
  assert.deepEqual(train.classNames, ["-1", "2.5", "10"]);
  // Left to "auto", numbers that are not all whole are a regression target.
  const values = parseCsvDataset(text, "r.csv", opts).train.values!;
  assert.deepEqual([...values].sort((a, b) => a - b), [-1, 2.5, 10, 10]);
});

Deno.test("parseCsvDataset() finds the label column by name, index or from the end", () => {
  const text = "species,a,b\nx,1,2\ny,3,4\nx,5,6\ny,7,8\n";
  const opts = { valFraction: 0, testFraction: 0 };
  const byName = parseCsvDataset(text, "s.csv", { ...opts, labelColumn: "species" });
  const byIndex = parseCsvDataset(text, "s.csv", { ...opts, labelColumn: 0 });
  const fromEnd = parseCsvDataset(text, "s.csv", { ...opts, labelColumn: -3 });
  assert.deepEqual(byName.train.featureNames, ["a", "b"]);
  assert.deepEqual(byIndex, byName);
  assert.deepEqual(fromEnd, byName);
  assert.deepEqual(byName.train.classNames, ["x", "y"]);
});

Deno.test("parseCsvDataset() tells a header row from data and accepts none", () => {
  const withHeader = parseCsvDataset(irisText(true), "h.csv");
  const without = parseCsvDataset(irisText(false), "h.csv");
  assert.deepEqual(without.train.x, withHeader.train.x);
  assert.deepEqual(without.train.featureNames, ["x0", "x1", "x2", "x3"]);
  const numericHeader = "1,2,3\n4,5,0\n6,7,1\n8,9,0\n";
  const forced = parseCsvDataset(numericHeader, "n.csv", {
    header: true,
    valFraction: 0,
    testFraction: 0,
  });
  assert.equal(forced.train.n, 3);
  assert.deepEqual(forced.train.featureNames, ["1", "2"]);
});

Deno.test("parseCsvDataset() reads quoted cells, CRLF line ends, tabs and a BOM", () => {
  const quoted = '\ufeff"width, cm","say ""hi""",label\r\n1,2,"a,b"\r\n3,4,c\r\n\r\n5,6,"a,b"\r\n';
  const { train } = parseCsvDataset(quoted, "q.csv", { valFraction: 0, testFraction: 0 });
  assert.deepEqual(train.featureNames, ["width, cm", 'say "hi"']);
  assert.deepEqual(train.classNames, ["a,b", "c"]);
  assert.equal(train.n, 3);
  const tsv = parseCsvDataset("a\tb\tlabel\n1\t2\tx\n3\t4\ty\n", "t.tsv", {
    valFraction: 0,
    testFraction: 0,
  });
  assert.deepEqual(tsv.train.featureNames, ["a", "b"]);
});

Deno.test("loadCsv() names the file, line and column of every bad input", async () => {
  const lines = irisText().split("\n");
  lines[16] = "1,2,3,setosa"; // line 17
  await rejectsWith(
    () => parseCsvDataset(lines.join("\n"), "iris.csv"),
    `Cannot read CSV file "iris.csv": line 17 has 4 cells, expected 5`,
  );
  const nan = irisText().replace("\n3,1.5,", "\n3,abc,");
  await rejectsWith(
    () => parseCsvDataset(nan, "iris.csv"),
    `"iris.csv"`,
    `line 5, column "b" holds "abc", which is not a number`,
  );
  await rejectsWith(
    () => parseCsvDataset(irisText(false).replace("\n3,1.5,", "\n3,,"), "raw.csv"),
    `"raw.csv"`,
    "line 4, column 1 (counting from 0) is empty",
  );
  await rejectsWith(() => parseCsvDataset("", "empty.csv"), `"empty.csv": the file is empty`);
  await rejectsWith(() => parseCsvDataset("\n\n", "blank.csv"), `"blank.csv"`, "empty");
  await rejectsWith(
    () => parseCsvDataset("a,b,label\n", "head.csv"),
    `"head.csv"`,
    "a header row but no data rows",
  );
  await rejectsWith(
    () => parseCsvDataset(irisText(), "iris.csv", { labelColumn: "specie" }),
    `"iris.csv"`,
    `no column "specie"`,
    `"species"`,
  );
  await rejectsWith(
    () => parseCsvDataset(irisText(), "iris.csv", { labelColumn: 5 }),
    `"iris.csv"`,
    `label column "5" does not exist`,
  );
  await rejectsWith(
    () => parseCsvDataset(irisText(false), "raw.csv", { labelColumn: "species" }),
    `"raw.csv"`,
    "no header row",
  );
  await rejectsWith(
    () => parseCsvDataset("a,label\n1,0\n2,3\n3,1\n", "k.csv", { classes: 3 }),
    `"k.csv"`,
    `line 3, column "label" holds "3", a label outside [0, 3) for 3 classes`,
  );
  await rejectsWith(
    () => parseCsvDataset(irisText(), "iris.csv", { classes: 2 }),
    `"iris.csv"`,
    "3 distinct labels, more than the 2 classes",
  );
  await rejectsWith(
    () => parseCsvDataset('a,b\n1,"x\n2,y\n', "q.csv"),
    `"q.csv"`,
    "the quote opened on line 2 is never closed",
  );
  await rejectsWith(
    () => parseCsvDataset("a,b\n1,x\n2,y\n", "two.csv", { valFraction: 0.5, testFraction: 0.45 }),
    `"two.csv"`,
    "2 data rows, too few to split",
  );
  await rejectsWith(
    () => loadCsv("/nonexistent/iris.csv"),
    `"/nonexistent/iris.csv"`,
    "does not exist",
  );
});

Deno.test("parseCsvDataset() rejects out-of-range options with a RangeError", () => {
  assert.throws(() => parseCsvDataset(irisText(), "i.csv", { valFraction: 1 }), RangeError);
  assert.throws(
    () => parseCsvDataset(irisText(), "i.csv", { valFraction: 0.5, testFraction: 0.5 }),
    RangeError,
  );
  assert.throws(() => parseCsvDataset(irisText(), "i.csv", { classes: 0 }), RangeError);
  assert.throws(() => parseCsvDataset(irisText(), "i.csv", { labelColumn: 1.5 }), RangeError);
});

Deno.test("loadData() reads a csv: spec with its options and the same seed gives the same splits", async () => {
  await withFile("iris.csv", irisText(), async (path) => {
    const a = await loadData(`csv:${path}`, { labelColumn: "species", seed: 9 });
    const b = await loadCsv(path, { labelColumn: "species", seed: 9 });
    assert.deepEqual(a.train.x, b.train.x);
    assert.deepEqual(a.test.y, b.test.y);
    assert.equal(a.train.source, `csv:${path}`);
    const small = await loadData(`csv:${path}`, { limit: { train: 5, val: 1 } });
    assert.deepEqual([small.train.n, small.val.n, small.test.n], [5, 1, 3]);
  });
});
