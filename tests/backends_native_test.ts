/**
 * The CPU library (ffi/sdt_cpu.c) against the tfjs reference: see tests/_parity_suite.ts.
 * The library is built first when it is missing or out of date, so a fresh clone passes.
 */
import assert from "node:assert/strict";
import { buildFfi } from "../ffi/build.ts";
import { loadNativeBackend } from "../lib/backends/native.ts";
import { NativeError } from "../ffi/errors.ts";
import { initParams } from "../lib/tree/params.ts";
import { Rng } from "../lib/util/random.ts";
import { randomBatch } from "./_reference.ts";
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

Deno.test("native: one, two and three threads give bit-identical training, gradients and forward", () => {
  // Large enough that every pass is split (node blocks at depth 9, features at depth 6, rows,
  // leaves, Adam), so a split that changed a sum's order would show.
  const data = randomBatch(new Rng(21), 600, 40, 5, true);
  const order = new Rng(22).permutation(600);
  for (const [depth, loss] of [[6, "mixture"], [9, "expected"]] as const) {
    const cfg = suiteConfig(depth, loss, true);
    const params = initParams(cfg, 23);
    const run = (threads: number) => {
      const tree = loadNativeBackend("native", { threads }).createTree(cfg, params);
      tree.setTrainData(data.x, data.t);
      const report = tree.trainSamples(order, 128);
      const step = tree.trainStep(data.x.subarray(0, 200 * 40), data.t.subarray(0, 200 * 5));
      const grads = tree.gradients(data.x, data.t);
      const out = {
        report,
        step,
        grads,
        params: tree.getParams(),
        penalty: tree.getPenaltyState(),
        adam: tree.getAdamState(),
        forward: tree.forward(data.x),
      };
      tree.dispose();
      return out;
    };
    // Compared as text: a failing deepEqual would print a diff of megabytes of arrays.
    const text = (threads: number) => JSON.stringify(run(threads));
    const one = text(1);
    assert.ok(text(2) === one, `depth ${depth}: two threads differ from one`);
    assert.ok(text(3) === one, `depth ${depth}: three threads differ from one`);
  }
});
