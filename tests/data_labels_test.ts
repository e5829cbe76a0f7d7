/**
 * Labels checked, not guessed: a declared class count refuses labels outside it (naming the
 * file and the first bad position), and classes without training samples are reported.
 */
import assert from "node:assert/strict";
import { labelReport, loadData } from "../lib/data/mod.ts";
import { runCli } from "./_cli.ts";
import { rejectsWith } from "./_assert.ts";

/** An IDX file of uint8 values with the given dimensions. */
function idx(dims: number[], data: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/**
 * A folder of 8x8 IDX images: training labels 0..9 and one 11 (no 10), test labels holding a
 * 10 that training lacks unless `testTen` is false.
 */
async function idxFolder(testTen: boolean): Promise<string> {
  const dir = await Deno.makeTempDir();
  const train = [0, 1, 2, 3, 4, 5, 6, 7, 11, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2];
  const test = testTen ? [10, 1, 2, 3] : [0, 1, 2, 3];
  const pixels = (n: number) => Array.from({ length: n * 64 }, (_, i) => (i * 7) % 256);
  await Deno.writeFile(
    `${dir}/train-images-idx3-ubyte`,
    idx([train.length, 8, 8], pixels(train.length)),
  );
  await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, idx([train.length], train));
  await Deno.writeFile(
    `${dir}/t10k-images-idx3-ubyte`,
    idx([test.length, 8, 8], pixels(test.length)),
  );
  await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx([test.length], test));
  return dir;
}

Deno.test("labelReport() counts every class of every split and names those without training samples", async () => {
  const dir = await idxFolder(true);
  const splits = await loadData(`idx:${dir}`, { valSize: 4 });
  const r = splits.labels;
  assert.deepEqual(r, labelReport(splits));
  assert.equal(r.classes, 12);
  assert.equal(r.counts.train.reduce((a, b) => a + b, 0), 20);
  assert.equal(r.counts.test[10], 1);
  assert.deepEqual(r.missingInTrain.map((m) => [m.name, m.val, m.test]), [["10", 0, 1]]);
  assert.equal(r.warnings.length, 1);
  assert.match(
    r.warnings[0],
    /class "10" has no training samples but 1 in test and 0 in validation/,
  );

  const gap = await loadData(`idx:${await idxFolder(false)}`, { valSize: 4 });
  assert.match(
    gap.labels.warnings[0],
    /class "10" has no samples in any split: the label values skip it \(the largest is "11"\)/,
  );
  assert.deepEqual(
    labelReport(await loadData(`idx:${dir}`, { classes: 12, valSize: 4 })).classes,
    12,
  );
});

Deno.test("a declared class count refuses a label outside it, naming the file and the position", async () => {
  const dir = await idxFolder(false);
  await rejectsWith(
    () => loadData(`idx:${dir}`, { classes: 10 }),
    `${dir}/train-labels-idx1-ubyte`,
    `label "11" of item 8 is outside [0, 10) for 10 classes`,
  );
  const csv = `${dir}/t.csv`;
  await Deno.writeTextFile(csv, "a,label\n1,0\n2,1\n3,7\n4,1\n5,0\n6,1\n7,0\n");
  await rejectsWith(
    () => loadData(`csv:${csv}`, { classes: 2 }),
    csv,
    `line 4, column "label" holds "7", a label outside [0, 2) for 2 classes`,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the CLI warns about a gap in the labels, --json carries it, and --classes 10 with a label 11 exits 1", async () => {
  const dir = await idxFolder(false);
  const args = [
    "train",
    "--data",
    `idx:${dir}`,
    "--epochs",
    "1",
    "--restarts",
    "1",
    "--depth",
    "2",
  ];
  const r = await runCli([...args, "--out", `${dir}/run`, "--quiet", "--no-pictures", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: class "10" has no samples in any split/);
  const labels = r.json().labels as { missing_in_train: { name: string }[]; warnings: string[] };
  assert.deepEqual(labels.missing_in_train.map((m) => m.name), ["10"]);
  const bad = await runCli([...args, "--classes", "10", "--quiet"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /train-labels-idx1-ubyte": label "11" of item 8 is outside \[0, 10\)/);
  assert.match(bad.stderr, /hint: /);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a malformed --data spec is a usage error (exit 2) saying what is accepted", async () => {
  for (const spec of ["foo:bar", "idx:", "csv", "MNIST"]) {
    const r = await runCli(["train", "--data", spec]);
    assert.equal(r.code, 2, `${spec}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /--data must be "mnist", "idx:DIR" .* "csv:FILE" .* or "npy:X.npy,Y.npy"/,
    );
    assert.match(r.stderr, /see --help/);
  }
});
