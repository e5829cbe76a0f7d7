import assert from "node:assert/strict";
import { parseCsvDataset } from "../lib/data/csv.ts";
import { CheckpointError, DatasetError } from "../lib/errors.ts";
import { openSoftLabelsTeacher, sourceRowCount, transferRows } from "../lib/teacher/file_labels.ts";
import { softLabelsPanel } from "../lib/teacher/panel.ts";
import { softmaxT } from "../lib/teacher/soft_labels.ts";

/** A CSV of 20 rows `a,b,label` whose label is row % 2. */
function csv(rows = 20): string {
  const lines = ["a,b,label"];
  for (let r = 0; r < rows; r++) lines.push(`${r},${(r * 7) % 5},${r % 2}`);
  return lines.join("\n") + "\n";
}

/** Logits for row r: [r, -r] (class 0 wins except at row 0, a tie). */
function logitsCsv(rows = 20, header = true): string {
  const lines = header ? ["l0,l1"] : [];
  for (let r = 0; r < rows; r++) lines.push(`${r / 10},${-r / 10}`);
  return lines.join("\n") + "\n";
}

/** A `.npy` of `values` with shape `(rows, cols)`, as float32 or float64. */
function npy(values: number[], rows: number, cols: number, dtype: string): Uint8Array {
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  while ((10 + header.length + 1) % 64) header += " ";
  header += "\n";
  const size = dtype === "<f8" ? 8 : 4;
  const out = new Uint8Array(10 + header.length + values.length * size);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  values.forEach((v, i) =>
    size === 4
      ? view.setFloat32(10 + header.length + 4 * i, v, true)
      : view.setFloat64(10 + header.length + 8 * i, v, true)
  );
  return out;
}

async function inTemp<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    return await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the CSV loader records each sample's row in the file, over all splits", () => {
  const splits = parseCsvDataset(csv(), "t.csv", { seed: 3 });
  assert.equal(sourceRowCount(splits), 20);
  for (const ds of [splits.train, splits.val, splits.test]) {
    assert.equal(ds.sourceRows!.length, ds.n);
    // Row r of the file has a = r.
    ds.sourceRows!.forEach((r, i) => assert.equal(ds.y[i], r % 2));
  }
});

Deno.test("a soft-labels CSV gives each sample its own source row's outputs, with or without a header", async () => {
  const splits = parseCsvDataset(csv(), "t.csv", { seed: 3 });
  for (const header of [true, false]) {
    await inTemp(async (dir) => {
      await Deno.writeTextFile(`${dir}/l.csv`, logitsCsv(20, header));
      const t = await openSoftLabelsTeacher(`${dir}/l.csv`, splits);
      const got = await t.logits(splits.test.x, { rows: splits.test.sourceRows });
      splits.test.sourceRows!.forEach((r, i) => {
        assert.ok(Math.abs(got[2 * i] - r / 10) < 1e-6);
        assert.ok(Math.abs(got[2 * i + 1] + r / 10) < 1e-6);
      });
      assert.equal(t.probabilities, false);
    });
  }
});

Deno.test("a .npy of float32 or float64 probabilities becomes log-probabilities", async () => {
  const splits = parseCsvDataset(csv(4), "t.csv", { valFraction: 0.25, testFraction: 0.25 });
  const probs = [0.9, 0.1, 0.2, 0.8, 0.5, 0.5, 1, 0];
  for (const dtype of ["<f4", "<f8"] as const) {
    await inTemp(async (dir) => {
      await Deno.writeFile(`${dir}/p.npy`, npy(probs, 4, 2, dtype));
      const panel = await softLabelsPanel(`${dir}/p.npy`, splits);
      const t = panel.members[0].teacher;
      const rows = Int32Array.from([0, 1, 2, 3]);
      const back = softmaxT(await t.logits(new Float32Array(8), { rows }), 2);
      probs.forEach((p, i) => assert.ok(Math.abs(back[i] - p) < 1e-6, `${dtype} ${i}`));
      // Its accuracy on the test split is measured on the file's rows for it.
      assert.ok(panel.testAccuracy >= 0 && panel.testAccuracy <= 1);
    });
  }
});

Deno.test("a soft-labels file whose row count differs from the data's is refused, naming both counts", async () => {
  const splits = parseCsvDataset(csv(), "t.csv");
  await inTemp(async (dir) => {
    await Deno.writeTextFile(`${dir}/l.csv`, logitsCsv(19));
    await assert.rejects(
      () => openSoftLabelsTeacher(`${dir}/l.csv`, splits),
      (e: Error) =>
        e instanceof DatasetError && e.message.includes(`${dir}/l.csv" holds 19 rows`) &&
        e.message.includes(`"csv:t.csv" has 20`),
    );
    // Rows of a transfer set may follow the data's.
    await Deno.writeTextFile(`${dir}/l.csv`, logitsCsv(25));
    const t = await openSoftLabelsTeacher(`${dir}/l.csv`, splits, { transferRows: 5 });
    assert.equal(t.rows, 25);
  });
});

Deno.test("a soft-labels file with the wrong column count, or NaN, or in another format is refused", async () => {
  const splits = parseCsvDataset(csv(), "t.csv");
  await inTemp(async (dir) => {
    await Deno.writeTextFile(`${dir}/l.csv`, "1,2,3\n".repeat(20));
    await assert.rejects(
      () => openSoftLabelsTeacher(`${dir}/l.csv`, splits),
      /has 3 columns, the data "csv:t.csv" has 2 classes/,
    );
    await Deno.writeTextFile(`${dir}/l.csv`, "1,2\n".repeat(5) + "nan,1\n" + "1,2\n".repeat(14));
    await assert.rejects(
      () => openSoftLabelsTeacher(`${dir}/l.csv`, splits),
      (e: Error) => e instanceof CheckpointError && /l\.csv" gave NaN for input 5/.test(e.message),
    );
    await Deno.writeFile(`${dir}/l.npy`, npy([1, 2], 1, 2, "<i4"));
    await assert.rejects(() => openSoftLabelsTeacher(`${dir}/l.npy`, splits), /dtype "<i4"/);
    await assert.rejects(
      () => openSoftLabelsTeacher(`${dir}/missing.csv`, splits),
      /soft-labels file ".*missing\.csv": no such file/,
    );
  });
});

Deno.test("augmented copies take their original's source row", () => {
  const splits = parseCsvDataset(csv(), "t.csv");
  const rows = transferRows(splits.train, splits.train.n * 3)!;
  for (let r = 0; r < rows.length; r++) {
    assert.equal(rows[r], splits.train.sourceRows![r % splits.train.n]);
  }
});
