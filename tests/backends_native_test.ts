/**
 * The CPU library (ffi/sdt_cpu.c) against the tfjs reference: see tests/_parity_suite.ts.
 * The library is built first when it is missing or out of date, so a fresh clone passes.
 */
import assert from "node:assert/strict";
import { buildFfi } from "../ffi/build.ts";
import { loadNativeBackend } from "../lib/backends/native.ts";
import { NativeError } from "../ffi/errors.ts";
import { initParams } from "../lib/tree/params.ts";
import { defineParitySuite, suiteConfig } from "./_parity_suite.ts";

const [cpu] = await buildFfi({ cuda: false });
if (cpu.status === "failed") throw new Error(`Cannot build the CPU library: ${cpu.detail}`);

defineParitySuite("native", () => loadNativeBackend("native"), false);

Deno.test("native: a bad row index is a NativeError naming the index, and the tree stays usable", () => {
  const cfg = suiteConfig(2, "expected", false);
  const tree = loadNativeBackend("native").createTree(cfg, initParams(cfg, 1));
  tree.setTrainData(
    new Float32Array(3 * cfg.features),
    new Float32Array(3 * cfg.classes).fill(0.2),
  );
  assert.throws(
    () => tree.trainSamples(new Int32Array([0, 7]), 2),
    (e: unknown) => e instanceof NativeError && e.status === 1 && /Row index 7/.test(e.message),
  );
  assert.equal(tree.trainSamples(new Int32Array([0, 1, 2]), 2).samples, 3);
  tree.dispose();
});

Deno.test("native: the description names the build and the thread count", () => {
  const backend = loadNativeBackend("native", { threads: 2 });
  assert.match(backend.description, /^native \(gcc .*, 2 threads\)$/);
});
