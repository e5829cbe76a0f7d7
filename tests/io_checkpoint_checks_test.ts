/**
 * Checkpoint validation: every way a `tree.sdt` can be wrong is refused with a message that
 * says what is wrong, never loaded as a tree with garbage in it.
 */
import assert from "node:assert/strict";
import { decodeCheckpoint, encodeCheckpoint, loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { CheckpointError } from "../lib/errors.ts";
import { initParams } from "../lib/tree/params.ts";
import { DEFAULT_TREE_CONFIG, type TreeConfig, treeSizes } from "../lib/tree/types.ts";
import { checkpointLayout, withCheckpointHeader } from "./_checkpoint.ts";

const cfg: TreeConfig = { ...DEFAULT_TREE_CONFIG, depth: 2, features: 5, classes: 3 };
const data = { source: "t", imageShape: null, featureNames: null, classNames: ["a", "b", "c"] };
const good = encodeCheckpoint(cfg, initParams(cfg, 1), data, { seed: 1 });
const { headerLength, weightsStart } = checkpointLayout(good);

function refused(bytes: Uint8Array, why: RegExp): void {
  assert.throws(() => decodeCheckpoint(bytes, "run/tree.sdt"), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected a CheckpointError, got ${e}`);
    assert.match(e.message, /^Cannot read tree checkpoint "run\/tree\.sdt": /);
    assert.match(e.message, why);
    return true;
  });
}

/** `good` with its JSON header replaced by `header`. */
const withHeader = (header: unknown) => withCheckpointHeader(good, header);
const header = JSON.parse(new TextDecoder().decode(good.subarray(12, 12 + headerLength)));

Deno.test("a good checkpoint decodes to the tree that was encoded", () => {
  const back = decodeCheckpoint(good, "run/tree.sdt");
  assert.deepEqual(back.params, { ...initParams(cfg, 1), beta: Math.fround(cfg.invTemp) });
  assert.deepEqual(back.config, cfg);
  assert.equal(decodeCheckpoint(withHeader(header), "x").meta.seed, 1);
});

Deno.test("a weight that is NaN or infinite is refused, naming the array and the index", () => {
  const { inner } = treeSizes(cfg.depth);
  for (
    const [index, value, name] of [[3, NaN, "w"], [
      inner * cfg.features + 1,
      Infinity,
      "b",
    ]] as const
  ) {
    const bad = good.slice();
    new DataView(bad.buffer).setFloat32(weightsStart + 4 * index, value, true);
    const at = name === "w" ? index : index - inner * cfg.features;
    refused(bad, new RegExp(`weight "${name}"\\[${at}\\] is not finite \\(${value}\\)`));
  }
  const phiStart = weightsStart + 4 * (inner * cfg.features + inner);
  const bad = good.slice();
  new DataView(bad.buffer).setFloat32(phiStart, -Infinity, true);
  refused(bad, /weight "phi"\[0\] is not finite/);
});

Deno.test("a header of another format is refused, even when everything else fits", () => {
  refused(withHeader({ ...header, format: "other-tree" }), /names format "other-tree"/);
  refused(withHeader({ ...header, format: undefined }), /names format "undefined"/);
});

Deno.test("a file too short to hold a header, or holding only one, is refused as such", () => {
  for (const n of [0, 7, 8, 11]) refused(good.subarray(0, n), /does not start with "SOFTTREE"/);
  // The magic and a header length of 0: the header is there, and empty.
  const empty = new Uint8Array(12);
  empty.set(good.subarray(0, 8));
  refused(empty, /its header is not valid JSON/);
  // The magic and a whole header, but no weights after it.
  refused(good.subarray(0, 12 + headerLength), /should hold \d+ float32 weights/);
});

Deno.test("a header length beyond the end of the file is refused as such", () => {
  // Magic, a length 40 bytes too long, then the header alone: the JSON itself is intact.
  const json = good.subarray(12, 12 + headerLength);
  const bytes = new Uint8Array(12 + json.length);
  bytes.set(good.subarray(0, 8));
  new DataView(bytes.buffer).setUint32(8, json.length + 40, true);
  bytes.set(json, 12);
  refused(
    bytes,
    new RegExp(`header declares ${json.length + 40} bytes but the file holds ${json.length}`),
  );
  new DataView(bytes.buffer).setUint32(8, 0xffffffff, true);
  refused(bytes, /header declares 4294967295 bytes/);
});

Deno.test("a header whose arrays do not match its configuration is refused, listing them", () => {
  const [w, b, phi] = header.arrays;
  const shapes = /do not match depth 2, 5 features, 3 classes/;
  refused(
    withHeader({ ...header, arrays: [w, b, phi] }),
    /its arrays \[w:15, b:3, phi:12\] do not/,
  );
  refused(withHeader({ ...header, arrays: [...header.arrays, { name: "x", length: 1 }] }), shapes);
  refused(withHeader({ ...header, arrays: undefined }), /its arrays \[\] do not match/);
  refused(
    withHeader({ ...header, arrays: [w, b, { ...phi, length: 11 }, header.arrays[3]] }),
    shapes,
  );
});

Deno.test("a header without data facts or class names gets defaults, classes numbered from 0", () => {
  const numbered = ["0", "1", "2"];
  const bare = decodeCheckpoint(withHeader({ ...header, data: undefined }), "x");
  assert.deepEqual(bare.data, {
    source: "unknown",
    imageShape: null,
    featureNames: null,
    classNames: numbered,
  });
  for (const classNames of [undefined, []]) {
    const back = decodeCheckpoint(withHeader({ ...header, data: { ...data, classNames } }), "x");
    assert.deepEqual(back.data.classNames, numbered);
    assert.equal(back.data.source, "t");
  }
  assert.deepEqual(decodeCheckpoint(withHeader({ ...header, meta: undefined }), "x").meta, {});
});

Deno.test("a checkpoint with bytes missing or left over after its weights is refused", () => {
  const floats = (good.length - weightsStart) / 4;
  const size = new RegExp(`should hold ${floats} float32 weights \\(${good.length} bytes\\)`);
  refused(good.subarray(0, good.length - 4), size);
  refused(good.subarray(0, good.length - 1), size);
  for (const extra of [1, 4, 400]) {
    const longer = new Uint8Array(good.length + extra);
    longer.set(good);
    refused(longer, size);
  }
});

Deno.test("a checkpoint that cannot be read keeps the system's error as its cause", async () => {
  const dir = await Deno.makeTempDir();
  await assert.rejects(() => loadTreeCheckpoint(`${dir}/missing.sdt`), (e: unknown) => {
    assert.ok(e instanceof CheckpointError);
    assert.match(e.message, /missing\.sdt": no such file$/);
    assert.ok(e.cause instanceof Deno.errors.NotFound, `cause: ${e.cause}`);
    return true;
  });
  await Deno.mkdir(`${dir}/tree.sdt`); // a run directory whose tree.sdt is a folder
  await assert.rejects(() => loadTreeCheckpoint(`${dir}/tree.sdt`), (e: unknown) => {
    assert.ok(e instanceof CheckpointError);
    assert.ok(e.cause instanceof Error, `cause: ${e.cause}`);
    return true;
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a refused checkpoint file is named in the error the loader throws", async () => {
  const dir = await Deno.makeTempDir();
  const bad = good.slice();
  new DataView(bad.buffer).setFloat32(weightsStart, NaN, true);
  await Deno.writeFile(`${dir}/tree.sdt`, bad);
  await assert.rejects(() => loadTreeCheckpoint(dir), (e: unknown) => {
    assert.ok(e instanceof CheckpointError);
    assert.equal(
      e.message,
      `Cannot read tree checkpoint "${dir}/tree.sdt": weight "w"[0] is not finite (NaN)`,
    );
    return true;
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the data facts: absent or null fields get defaults, wrong ones are refused by name", () => {
  const decodeData = (d: unknown) => decodeCheckpoint(withHeader({ ...header, data: d }), "x").data;
  const defaults = {
    source: "unknown",
    imageShape: null,
    featureNames: null,
    classNames: ["0", "1", "2"],
  };
  assert.deepEqual(decodeData(null), defaults);
  assert.deepEqual(decodeData({}), defaults);
  assert.deepEqual(
    decodeData({ imageShape: null, classNames: null, featureNames: null, scaling: null }),
    defaults,
  );
  const full = {
    source: "csv:f.csv",
    imageShape: [2, 3, 1],
    featureNames: ["a", "b"],
    classNames: ["x", "y", "z"],
    scaling: { min: [0, -1], max: [1, 2] },
  };
  assert.deepEqual(decodeData(full), full);
  const data = (d: Record<string, unknown>) => withHeader({ ...header, data: { ...full, ...d } });
  refused(data({ imageShape: [2, 3] }), /"data\.imageShape" is not \[H, W, C\]/);
  refused(data({ imageShape: [2, 3.5, 1] }), /"data\.imageShape\[1\]" is not a whole number/);
  refused(data({ imageShape: [0, 3, 1] }), /"data\.imageShape\[0\]" is 0, outside \[1, Infinity\]/);
  refused(data({ classNames: ["x", "y"] }), /it names 2 classes in "data\.classNames" but has 3/);
  refused(data({ classNames: ["x", "y", 3] }), /"data\.classNames\[2\]" is not a string/);
  refused(data({ source: 5 }), /"data\.source" is not a string/);
  refused(data({ featureNames: "ab" }), /"data\.featureNames" is not a list/);
  refused(data({ scaling: { min: [0], max: ["1"] } }), /"data\.scaling\.max\[0\]" is not a number/);
  refused(data({ scaling: 3 }), /"data\.scaling" is not an object/);
});

Deno.test("a configuration whose learnBeta is not a boolean, or a beta that is not finite, is refused", () => {
  refused(
    withHeader({ ...header, config: { ...header.config, learnBeta: "yes" } }),
    /its "config\.learnBeta" is not true or false/,
  );
  const { inner, leaves } = treeSizes(cfg.depth);
  const betaAt = weightsStart + 4 * (inner * cfg.features + inner + leaves * cfg.classes);
  for (const value of [NaN, Infinity]) {
    const bad = good.slice();
    new DataView(bad.buffer).setFloat32(betaAt, value, true);
    refused(bad, new RegExp(`weight "beta" is not finite \\(${value}\\)`));
  }
});
