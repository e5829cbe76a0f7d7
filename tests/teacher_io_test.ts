import assert from "node:assert/strict";
import { ensureTf } from "../lib/backends/tf_setup.ts";
import { CheckpointError } from "../lib/errors.ts";
import {
  createTeacher,
  loadOrTrainTeacher,
  loadTeacher,
  saveTeacher,
  teacherExists,
  teacherLogits,
} from "../lib/teacher/mod.ts";
import { bandImages } from "./_teacher_data.ts";

const tiny = { filters: [4, 8] as [number, number], dense: 16 };

async function savedTeacher(): Promise<{ dir: string; logits: Float32Array }> {
  await ensureTf();
  const dir = await Deno.makeTempDir();
  const t = createTeacher([8, 8, 1], 2, { ...tiny, seed: 2 });
  t.meta = { ...t.meta, source: "bands", testAccuracy: 0.5, command: "teacher train --seed 2" };
  await saveTeacher(t, dir);
  const logits = await teacherLogits(t, bandImages(6).x);
  t.dispose();
  return { dir, logits };
}

/** Asserts a CheckpointError whose message names `file` and matches `why`. */
async function rejectsNaming(p: Promise<unknown>, file: string, why: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof CheckpointError, `${e.name}: ${e.message}`);
    assert.ok(e.message.includes(`"${file}"`), `message names "${file}": ${e.message}`);
    assert.match(e.message, why);
    return true;
  });
}

Deno.test("saveTeacher() then loadTeacher() gives the same logits, config and metadata", async () => {
  const { dir, logits } = await savedTeacher();
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(names, ["model.json", "weights.bin"]); // no temporary files left
  for (const path of [dir, `${dir}/model.json`, `${dir}/`]) {
    const t = await loadTeacher(path, bandImages(1));
    assert.deepEqual(await teacherLogits(t, bandImages(6).x), logits);
    assert.deepEqual(t.config.filters, [4, 8]);
    assert.equal(t.config.dense, 16);
    assert.deepEqual(t.config.inputShape, [8, 8, 1]);
    assert.equal(t.meta.testAccuracy, 0.5);
    assert.equal(t.meta.command, "teacher train --seed 2");
    t.dispose();
  }
  // TensorFlow.js's own format: the manifest names weights.bin.
  const json = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
  assert.deepEqual(json.weightsManifest[0].paths, ["weights.bin"]);
  assert.equal(json.format, "layers-model");
});

Deno.test("loadTeacher() names the missing file", async () => {
  const dir = await Deno.makeTempDir();
  await rejectsNaming(loadTeacher(dir), `${dir}/model.json`, /no such file/);
  const { dir: d2 } = await savedTeacher();
  await Deno.remove(`${d2}/weights.bin`);
  await rejectsNaming(loadTeacher(d2), `${d2}/weights.bin`, /no such file/);
});

Deno.test("loadTeacher() rejects corrupt JSON and a model.json of another kind", async () => {
  const { dir } = await savedTeacher();
  const file = `${dir}/model.json`;
  const text = await Deno.readTextFile(file);
  await Deno.writeTextFile(file, text.slice(0, text.length / 2));
  await rejectsNaming(loadTeacher(dir), file, /not valid JSON/);
  await Deno.writeTextFile(file, JSON.stringify({ hello: 1 }));
  await rejectsNaming(loadTeacher(dir), file, /no model topology/);
  const json = JSON.parse(text);
  delete json.userDefinedMetadata;
  await Deno.writeTextFile(file, JSON.stringify(json));
  await rejectsNaming(loadTeacher(dir), file, /no softtree teacher metadata/);
});

Deno.test("loadTeacher() rejects truncated or padded weights", async () => {
  const { dir } = await savedTeacher();
  const file = `${dir}/weights.bin`;
  const bytes = await Deno.readFile(file);
  await Deno.writeFile(file, bytes.subarray(0, bytes.length - 8));
  await rejectsNaming(loadTeacher(dir), file, /hold \d+ bytes but .* declares \d+ \(truncated/);
  await Deno.writeFile(file, new Uint8Array([...bytes, 0, 0, 0, 0]));
  await rejectsNaming(loadTeacher(dir), file, /hold \d+ bytes but/);
});

Deno.test("loadTeacher() rejects a teacher that does not fit the data", async () => {
  const { dir } = await savedTeacher();
  await rejectsNaming(loadTeacher(dir, bandImages(2, { h: 10 })), `${dir}/model.json`, /\[8,8,1\]/);
  await rejectsNaming(
    loadTeacher(dir, bandImages(2, { classes: 3 })),
    `${dir}/model.json`,
    /2 classes, but "bands" has 3/,
  );
});

Deno.test("loadOrTrainTeacher() trains and saves once, then loads", async () => {
  const dir = `${await Deno.makeTempDir()}/teacher`;
  const splits = {
    train: bandImages(48),
    val: bandImages(16, { seed: 2 }),
    test: bandImages(16, { seed: 3 }),
  };
  assert.equal(await teacherExists(dir), false);
  const first = await loadOrTrainTeacher(dir, splits, {
    ...tiny,
    epochs: 1,
    meta: { command: "x" },
  });
  assert.equal(first.loaded, false);
  assert.equal(await teacherExists(dir), true);
  const logits = await teacherLogits(first.teacher, splits.test.x);
  first.teacher.dispose();
  const second = await loadOrTrainTeacher(dir, splits, { ...tiny, epochs: 1 });
  assert.equal(second.loaded, true);
  assert.equal(second.testAccuracy, first.testAccuracy);
  assert.deepEqual(second.testPredictions, first.testPredictions);
  const right = first.testPredictions.filter((p, i) => p === splits.test.y[i]).length;
  assert.equal(first.testAccuracy, right / splits.test.n);
  assert.equal(second.teacher.meta.command, "x");
  assert.deepEqual(await teacherLogits(second.teacher, splits.test.x), logits);
  second.teacher.dispose();
});
