import assert from "node:assert/strict";
import { ensureTf, tfjsBackend } from "../lib/backends/mod.ts";
import { limitSplits, loadData } from "../lib/data/mod.ts";
import { fit } from "../lib/train/fit.ts";
import { initParams } from "../lib/tree/params.ts";
import { DEFAULT_TREE_CONFIG, type TreeConfig, type TreeParams } from "../lib/tree/types.ts";

await ensureTf();

/** The seed's configuration for MNIST-shaped data, with some values changed. */
function mnistConfig(change: Partial<TreeConfig>): TreeConfig {
  return { ...DEFAULT_TREE_CONFIG, features: 784, classes: 10, ...change };
}
const splits = await loadData("mnist", { limit: { train: 3000, val: 500, test: 500 } });

Deno.test("a few hundred steps on an MNIST subset beat chance by a wide margin", () => {
  const cfg = mnistConfig({
    depth: 3,
    invTemp: 1,
  });
  const tree = tfjsBackend.createTree(cfg, initParams(cfg, 1));
  // 3000 / 16 = 188 steps per epoch, 376 in all.
  const r = fit(tree, splits.train, splits.val, { epochs: 2, batchSize: 16, seed: 1 });
  const test = tree.evaluate(splits.test.x, splits.test.y);
  assert.equal(r.epochsRun, 2);
  assert.ok(
    test.accuracy > 0.35,
    `test accuracy ${test.accuracy} should be far above chance (0.1)`,
  );
  assert.ok(r.history[1].trainLoss < r.history[0].trainLoss, "the loss falls");
  tree.dispose();
});

Deno.test("early stopping ends the run after the patience and restores the best weights", () => {
  const cfg = mnistConfig({
    depth: 2,
    invTemp: 1,
    learningRate: 0.5, // too high on purpose: validation accuracy wanders
  });
  const tree = tfjsBackend.createTree(cfg, initParams(cfg, 2));
  const snaps: TreeParams[] = [];
  const small = limitSplits(splits, { train: 400 }).train;
  const r = fit(tree, small, splits.val, {
    epochs: 12,
    batchSize: 50,
    patience: 2,
    seed: 3,
    onSnapshot: (p) => snaps.push(p),
  });
  const accs = r.history.map((h) => h.valAccuracy);
  const best = Math.max(...accs);
  assert.equal(r.bestValAccuracy, best);
  assert.equal(r.bestEpoch, accs.indexOf(best) + 1);
  if (r.stoppedEarly) assert.equal(r.epochsRun, r.bestEpoch + 2);
  assert.equal(snaps.length, r.epochsRun);
  assert.deepEqual(
    tree.getParams().w,
    snaps[r.bestEpoch - 1].w,
    "the best epoch's weights are restored",
  );
  const again = tree.evaluate(splits.val.x, splits.val.y).accuracy;
  assert.equal(again, best);
  tree.dispose();
});

Deno.test("training is reproducible from the seed", () => {
  const cfg = mnistConfig({
    depth: 2,
    invTemp: 1,
  });
  const run = () => {
    const tree = tfjsBackend.createTree(cfg, initParams(cfg, 5));
    const small = limitSplits(splits, { train: 300 }).train;
    fit(tree, small, splits.val, { epochs: 1, batchSize: 7, seed: 9 });
    const p = tree.getParams();
    tree.dispose();
    return p;
  };
  assert.deepEqual(run(), run());
});

Deno.test("snapshots are taken before training, at each requested point, and after every epoch", () => {
  const cfg = mnistConfig({ depth: 2 });
  const tree = tfjsBackend.createTree(cfg, initParams(cfg, 1));
  const seen: number[] = [];
  fit(tree, limitSplits(splits, { train: 400 }).train, splits.val, {
    epochs: 2,
    batchSize: 50,
    snapshotAt: [230, 0, 100],
    onSnapshot: (_, n) => seen.push(n),
  });
  // 230 is not a batch boundary: the snapshot comes at the first boundary after it.
  assert.deepEqual(seen, [0, 100, 250, 400, 800]);
  tree.dispose();
});

Deno.test("restarts train every candidate, then go on with the best one", () => {
  const cfg = mnistConfig({
    depth: 2,
    invTemp: 1,
  });
  const small = limitSplits(splits, { train: 400 }).train;
  const opts = { batchSize: 50, seed: 4, patience: 0 };
  // Each candidate alone: candidate 0 from the tree's own start, k from initParams(seed + k).
  const alone = [0, 1, 2].map((k) => {
    const tree = tfjsBackend.createTree(cfg, initParams(cfg, k === 0 ? 7 : opts.seed + k));
    const shots: TreeParams[] = [];
    const r = fit(tree, small, splits.val, {
      ...opts,
      epochs: 2,
      seed: opts.seed + k,
      onSnapshot: (p) => shots.push(p),
    });
    tree.dispose();
    return { r, shots };
  });
  const tree = tfjsBackend.createTree(cfg, initParams(cfg, 7));
  const events: string[] = [];
  const shots: TreeParams[] = [];
  const r = fit(tree, small, splits.val, {
    ...opts,
    epochs: 4,
    restarts: 3,
    restartEpochs: 2,
    onCandidate: (e) =>
      events.push(`${e.index}/${e.count}${e.valAccuracy === undefined ? "" : "done"}`),
    onSnapshot: (p) => shots.push(p),
  });
  assert.deepEqual(events, ["0/3", "0/3done", "1/3", "1/3done", "2/3", "2/3done"]);
  assert.deepEqual(r.candidates, alone.map((a) => a.r.bestValAccuracy));
  assert.ok(new Set(r.candidates).size > 1, `the candidates differ: ${r.candidates}`);
  const chosen = r.candidates.indexOf(Math.max(...r.candidates));
  assert.equal(r.chosenCandidate, chosen);
  assert.equal(r.epochsRun, 4);
  assert.deepEqual(
    r.history.slice(0, 2).map((h) => h.valAccuracy),
    alone[chosen].r.history.map((h) => h.valAccuracy),
    "the run's history starts with the chosen candidate's",
  );
  assert.equal(shots.length, 4, "one snapshot per epoch of the chosen candidate and after");
  assert.deepEqual(shots[1].w, alone[chosen].shots[1].w);
  assert.equal(r.bestValAccuracy, Math.max(...r.history.map((h) => h.valAccuracy)));
  assert.equal(tree.evaluate(splits.val.x, splits.val.y).accuracy, r.bestValAccuracy);
  for (const bad of [0, 1.5]) {
    assert.throws(() => fit(tree, small, splits.val, { restarts: bad }), RangeError);
  }
  tree.dispose();
});
