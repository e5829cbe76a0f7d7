import assert from "node:assert/strict";
import {
  CHECKPOINT_VERSION,
  decodeCheckpoint,
  encodeCheckpoint,
  loadTreeCheckpoint,
  saveTreeCheckpoint,
} from "../lib/io/checkpoint.ts";
import { CheckpointError } from "../lib/errors.ts";
import { initParams } from "../lib/tree/params.ts";
import { DEFAULT_TREE_CONFIG, type TreeConfig } from "../lib/tree/types.ts";
import type { DataInfo } from "../lib/io/types.ts";
import { checkpointHeader, withCheckpointHeader } from "./_checkpoint.ts";

const cfg: TreeConfig = { ...DEFAULT_TREE_CONFIG, depth: 3, features: 6, classes: 4 };
const data: DataInfo = {
  source: "test",
  imageShape: [2, 3, 1],
  featureNames: null,
  classNames: ["a", "b", "c", "d"],
};

Deno.test("a checkpoint saved to a run directory loads back bit for bit", async () => {
  const dir = await Deno.makeTempDir();
  const params = initParams(cfg, 7);
  params.beta = 0.37;
  await Deno.mkdir(`${dir}/run`);
  const file = await saveTreeCheckpoint(`${dir}/run`, {
    config: cfg,
    params,
    data,
    meta: { seed: 7 },
  });
  assert.equal(file, `${dir}/run/tree.sdt`);
  const back = await loadTreeCheckpoint(`${dir}/run`);
  assert.equal(back.version, CHECKPOINT_VERSION);
  assert.deepEqual(back.config, cfg);
  assert.deepEqual(back.params.w, params.w);
  assert.deepEqual(back.params.phi, params.phi);
  assert.equal(back.params.beta, Math.fround(0.37));
  assert.deepEqual(back.data, data);
  assert.equal(back.meta.seed, 7);
  // No temporary files are left behind.
  assert.deepEqual([...Deno.readDirSync(`${dir}/run`)].map((e) => e.name), ["tree.sdt"]);
  await Deno.remove(dir, { recursive: true });
});

function expectError(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(() => decodeCheckpoint(bytes, "x.sdt"), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `not a CheckpointError: ${e}`);
    assert.match(e.message, /^Cannot read tree checkpoint "x\.sdt": /);
    assert.match(e.message, pattern);
    return true;
  });
}

function withHeader(mutate: (h: Record<string, unknown>) => void): Uint8Array {
  const good = encodeCheckpoint(cfg, initParams(cfg, 1), data);
  const header = checkpointHeader(good);
  mutate(header);
  return withCheckpointHeader(good, header);
}

Deno.test("a checkpoint with a wrong magic, version or header is rejected clearly", () => {
  const good = encodeCheckpoint(cfg, initParams(cfg, 1), data);
  const bad = good.slice();
  bad[0] = 0x41;
  expectError(bad, /not a softtree checkpoint/);
  expectError(
    withHeader((h) => h.version = 99),
    /format version 99, this softtree reads version 1/,
  );
  const broken = good.slice();
  broken[13] = 0x7b; // "{" inside the JSON breaks it
  broken[14] = 0x7b;
  expectError(broken, /header is not valid JSON/);
});

Deno.test("a truncated checkpoint or one whose shapes disagree is rejected clearly", () => {
  const good = encodeCheckpoint(cfg, initParams(cfg, 1), data);
  expectError(good.subarray(0, good.length - 4), /should hold \d+ float32 weights/);
  expectError(
    withHeader((h) => (h.config as TreeConfig).depth = 4),
    /do not match depth 4, 6 features, 4 classes/,
  );
  expectError(
    withHeader((h) => (h.config as TreeConfig).depth = 0),
    /configuration is invalid: Depth must be/,
  );
});

Deno.test("loading a missing checkpoint names the file", async () => {
  await assert.rejects(loadTreeCheckpoint("/nonexistent/run"), (e: unknown) => {
    assert.ok(e instanceof CheckpointError);
    assert.match(e.message, /"\/nonexistent\/run": no such file/);
    return true;
  });
});
