/**
 * What the README promises about stopping and restarts, on data where the best epoch comes
 * before the last: `--patience` ends the run, the result says it stopped early, the tree is
 * the one of its best epoch (penalty averages included), and with `--restarts` the chosen
 * candidate goes on from where its trial epochs ended.
 */
import assert from "node:assert/strict";
import { ensureTf, tfjsBackend } from "../lib/backends/mod.ts";
import type { TreeEngine } from "../lib/backends/types.ts";
import { fit, type FitOptions, type FitResult } from "../lib/train/fit.ts";
import { initParams } from "../lib/tree/params.ts";
import {
  DEFAULT_TREE_CONFIG,
  type PenaltyState,
  type TreeConfig,
  type TreeParams,
} from "../lib/tree/types.ts";
import { separable } from "./_tiny.ts";

await ensureTf();

const train = separable(200, { seed: 1 });
const val = separable(60, { seed: 2 });
// Full validation accuracy after two or three epochs; later epochs can only tie with it.
const cfg: TreeConfig = {
  ...DEFAULT_TREE_CONFIG,
  depth: 2,
  features: 4,
  classes: 2,
  invTemp: 1,
  learningRate: 0.05,
};

/**
 * A fresh tree from `initParams(cfg, init)`, trained with `options` (`onEpoch` sees it after
 * every epoch); disposed after `use`.
 */
function trained<T>(
  init: number,
  options: FitOptions,
  use: (tree: TreeEngine, r: FitResult) => T,
  onEpoch?: (tree: TreeEngine) => void,
): T {
  const tree = tfjsBackend.createTree(cfg, initParams(cfg, init));
  try {
    const r = fit(tree, train, val, {
      batchSize: 4,
      seed: 1,
      ...options,
      onEpoch: onEpoch && (() => onEpoch(tree)),
    });
    return use(tree, r);
  } finally {
    tree.dispose();
  }
}

Deno.test("patience ends the run that many epochs after the best one, and the result says so", () => {
  const r = trained(3, { epochs: 12, patience: 2 }, (_, r) => r);
  const accs = r.history.map((h) => h.valAccuracy);
  assert.ok(r.bestEpoch <= 5, `the data should peak early, best epoch ${r.bestEpoch}: ${accs}`);
  assert.equal(r.bestValAccuracy, 1);
  assert.equal(r.epochsRun, r.bestEpoch + 2, `validation accuracy by epoch: ${accs}`);
  assert.equal(r.history.length, r.epochsRun);
  assert.equal(r.stoppedEarly, true);
  for (const later of accs.slice(r.bestEpoch)) assert.ok(later <= r.bestValAccuracy);

  for (const [patience, epochs] of [[0, 12], [20, 12]]) {
    const all = trained(3, { epochs, patience }, (_, r) => r);
    assert.equal(all.epochsRun, epochs, `patience ${patience} trains every epoch`);
    assert.equal(all.stoppedEarly, false, `patience ${patience} does not stop early`);
    assert.equal(all.bestEpoch, r.bestEpoch, "the same epochs, the same best one");
  }
});

Deno.test("the tree that early stopping returns is its best epoch's: weights and penalty averages", () => {
  // What the tree was at the end of every epoch, before anything is restored.
  const ends: { params: TreeParams; state: PenaltyState }[] = [];
  const stopped = trained(3, { epochs: 12, patience: 2 }, (tree, r) => ({
    r,
    params: tree.getParams(),
    state: tree.getPenaltyState(),
  }), (tree) => ends.push({ params: tree.getParams(), state: tree.getPenaltyState() }));
  const best = stopped.r.bestEpoch;
  const last = ends[ends.length - 1];
  assert.ok(best < stopped.r.epochsRun, "the best epoch is not the last one");
  assert.notDeepEqual(last.state.num, ends[best - 1].state.num, "the averages moved after it");
  assert.notDeepEqual(last.params.w, ends[best - 1].params.w, "the weights moved after it");
  // Trained for exactly the best epoch's number of epochs, the same tree ends where the
  // early-stopped one was restored to.
  const atBest = trained(3, { epochs: best, patience: 0 }, (tree) => ({
    params: tree.getParams(),
    state: tree.getPenaltyState(),
  }));
  assert.deepEqual(atBest, ends[best - 1]);
  assert.deepEqual(stopped.params, atBest.params);
  assert.deepEqual(stopped.state, atBest.state);
});

Deno.test("with restarts the chosen candidate goes on from its last trial epoch, not its best", () => {
  const restarts = 2, restartEpochs = 5, epochs = 8, seed = 4;
  const run = trained(7, { epochs, patience: 0, restarts, restartEpochs, seed }, (_, r) => r);
  const k = run.chosenCandidate;
  assert.equal(run.candidates.length, restarts);
  assert.equal(run.epochsRun, epochs);
  // The chosen candidate alone: the same start and shuffling, trained without restarts.
  const alone = trained(
    k === 0 ? 7 : seed + k,
    { epochs, patience: 0, seed: seed + k },
    (_, r) => r,
  );
  const trial = run.history.slice(0, restartEpochs);
  assert.deepEqual(
    trial.map((h) => [h.trainLoss, h.valAccuracy]),
    alone.history.slice(0, restartEpochs).map((h) => [h.trainLoss, h.valAccuracy]),
    "the run's first epochs are the chosen candidate's",
  );
  const accs = trial.map((h) => h.valAccuracy);
  const peak = accs.indexOf(Math.max(...accs)) + 1;
  assert.ok(peak < restartEpochs, `the candidate should peak before its last trial epoch: ${accs}`);
  // Going on from where it ended, the loss keeps falling; from its best (earlier) epoch it
  // would jump back up to that epoch's level.
  const [ended, next] = [trial[restartEpochs - 1].trainLoss, run.history[restartEpochs].trainLoss];
  assert.ok(
    trial[peak - 1].trainLoss > 2 * ended,
    `the loss fell well below the peak epoch's: ${trial.map((h) => h.trainLoss)}`,
  );
  assert.ok(next < ended, `epoch ${restartEpochs + 1} loss ${next} should go on from ${ended}`);
});
