/**
 * Teacher panels (lib/teacher/panel.ts): the fold assignment, cross-fitted labels taken from
 * the teacher that did not see a row (its copies included), ensembles that average logits,
 * and a cross-fitting folder that refuses other data.
 */
import assert from "node:assert/strict";
import { ensureTf } from "../lib/backends/tf_setup.ts";
import { DatasetError } from "../lib/errors.ts";
import type { SofttreeTeacher } from "../lib/teacher/softtree_teacher.ts";
import {
  crossFitTeachers,
  disposePanel,
  foldAssignment,
  panelLogits,
  subsetRows,
  teacherEnsemble,
} from "../lib/teacher/panel.ts";
import { bandImages } from "./_teacher_data.ts";

const TINY = { filters: [2, 3] as [number, number], dense: 4, epochs: 1, batchSize: 8 };

function splitsOf(n: number) {
  const train = bandImages(n, { seed: 1 });
  return { train, val: bandImages(20, { seed: 2 }), test: bandImages(20, { seed: 3 }) };
}

Deno.test("foldAssignment() deals every row into one fold, sizes differing by at most one", () => {
  const f = foldAssignment(103, 5, 7);
  const sizes = [0, 0, 0, 0, 0];
  for (const k of f) sizes[k]++;
  assert.deepEqual(sizes.sort(), [20, 20, 21, 21, 21]);
  assert.deepEqual(foldAssignment(103, 5, 7), f, "seeded");
  assert.notDeepEqual(foldAssignment(103, 5, 8), f);
  assert.throws(() => foldAssignment(10, 1, 0), RangeError);
  assert.throws(() => foldAssignment(3, 4, 0), RangeError);
});

Deno.test("cross-fitted labels come from the teacher that never saw the row, copies included", async () => {
  await ensureTf();
  const dir = await Deno.makeTempDir();
  const splits = splitsOf(30);
  try {
    const panel = await crossFitTeachers(splits, {
      folds: 3,
      dir,
      seed: 4,
      training: TINY,
    });
    assert.equal(panel.members.length, 3);
    // Teacher k trained on the rows outside fold k only.
    for (let k = 0; k < 3; k++) {
      assert.equal(panel.members[k].training?.history.length, 1);
      const inFold = panel.foldOf!.filter((f) => f === k).length;
      assert.equal(inFold, 10);
      const meta = (panel.members[k].teacher as SofttreeTeacher).teacher.meta.training as {
        trainSamples: number;
      };
      assert.equal(meta.trainSamples, splits.train.n - inFold);
    }
    // A transfer set of the training rows then one copy of each (row r copies row r % N).
    const n = splits.train.n, f = splits.train.features;
    const x = new Float32Array(2 * n * f);
    x.set(splits.train.x);
    x.set(splits.train.x.map((v) => v * 0.9), n * f);
    const got = await panelLogits(panel, x, n);
    const own = await Promise.all(panel.members.map((m) => m.teacher.logits(x)));
    const k = splits.train.classes;
    for (let r = 0; r < 2 * n; r++) {
      const fold = panel.foldOf![r % n];
      assert.deepEqual(
        Array.from(got.subarray(r * k, r * k + k)),
        Array.from(own[fold].subarray(r * k, r * k + k)),
        `row ${r}`,
      );
    }
    await assert.rejects(() => panelLogits(panel, x, n + 1), DatasetError);
    disposePanel(panel);

    // The same folder loads the teachers again; other data is refused, naming the folder.
    const again = await crossFitTeachers(splits, { folds: 3, dir, seed: 4, training: TINY });
    assert.ok(again.members.every((m) => m.loaded));
    disposePanel(again);
    await assert.rejects(
      () => crossFitTeachers(splitsOf(31), { folds: 3, dir, seed: 4, training: TINY }),
      (e: Error) => e instanceof DatasetError && e.message.includes(dir),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an ensemble's logits are its members' averaged, and so are its test predictions", async () => {
  await ensureTf();
  const dir = await Deno.makeTempDir();
  const splits = splitsOf(24);
  try {
    const panel = await teacherEnsemble([`${dir}/a`, `${dir}/b`], splits, TINY);
    const x = subsetRows(splits.train, Int32Array.from([0, 5, 9]), "three").x;
    const got = await panelLogits(panel, x, splits.train.n);
    const [a, b] = await Promise.all(panel.members.map((m) => m.teacher.logits(x)));
    for (let i = 0; i < got.length; i++) {
      assert.ok(Math.abs(got[i] - (a[i] + b[i]) / 2) < 1e-6, `value ${i}`);
    }
    const test = await panelLogits(panel, splits.test.x, splits.train.n);
    const k = splits.test.classes;
    for (let i = 0; i < splits.test.n; i++) {
      const row = Array.from(test.subarray(i * k, i * k + k));
      assert.equal(panel.testPredictions![i], row.indexOf(Math.max(...row)));
    }
    disposePanel(panel);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
