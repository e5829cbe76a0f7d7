/**
 * A long run that survives: stopped at a batch boundary (mid-epoch, mid-candidate, or after
 * an epoch), saved through the real state file format and resumed, it ends exactly where the
 * uninterrupted run ends; a loss that stops being finite is caught at its batch, with the
 * best weights kept.
 */
import assert from "node:assert/strict";
import { ensureTf, selectBackend, tfjsBackend } from "../lib/backends/mod.ts";
import type { TreeBackend, TreeEngine } from "../lib/backends/types.ts";
import { TrainingDivergedError, TrainingInterruptedError } from "../lib/errors.ts";
import {
  fit,
  fitAsync,
  type FitOptions,
  type FitResult,
  type FitState,
  oneHot,
} from "../lib/train/fit.ts";
import { decodeTreeState, encodeTreeState } from "../lib/train/state.ts";
import type { EpochRecord } from "../lib/train/types.ts";
import { initParams } from "../lib/tree/params.ts";
import { DEFAULT_TREE_CONFIG, type TreeConfig } from "../lib/tree/types.ts";
import { Rng } from "../lib/util/random.ts";
import { separable } from "./_tiny.ts";

await ensureTf();
const native = (await selectBackend("native", { threads: 1 })).backend;

const train = separable(240, { features: 6, seed: 1 });
const val = separable(60, { features: 6, seed: 2 });
const cfg: TreeConfig = {
  ...DEFAULT_TREE_CONFIG,
  depth: 3,
  features: 6,
  classes: 2,
  invTemp: 1,
  learningRate: 0.02,
};
const data = { source: "tiny", imageShape: null, featureNames: null, classNames: ["a", "b"] };
const base: FitOptions = {
  epochs: 6,
  batchSize: 8,
  patience: 0,
  seed: 3,
  restarts: 2,
  restartEpochs: 2,
  progressEvery: 40, // six chunks per epoch: batch boundaries to stop at
  stateEvery: 0,
  schedule: "cosine",
  betaTo: 2,
};

/** An epoch's record without its timings (which differ from run to run). */
const course = (h: EpochRecord[]) =>
  h.map(({ seconds: _s, samplesPerSecond: _r, ...rest }) => rest);

/** Through the bytes of the state file, as a resume reads it. */
function viaFile(state: FitState): FitState {
  const bytes = encodeTreeState({ config: cfg, data, meta: {}, fit: state });
  return decodeTreeState(bytes, "state.bin").fit;
}

/** Train from a fresh tree; abort when `stopAt(batchCalls)` says so; return the result or the state. */
function attempt(
  backend: TreeBackend,
  options: FitOptions,
  stopAt: (chunks: number) => boolean,
): { tree: TreeEngine; result?: FitResult; state?: FitState; error?: TrainingInterruptedError } {
  const tree = backend.createTree(cfg, initParams(cfg, 3));
  const stop = new AbortController();
  let chunks = 0;
  let state: FitState | undefined;
  try {
    const result = fit(tree, train, val, {
      ...options,
      signal: stop.signal,
      onBatch: () => {
        if (stopAt(++chunks)) stop.abort("test");
      },
      onState: (s) => {
        state = s;
      },
    });
    return { tree, result };
  } catch (error) {
    if (!(error instanceof TrainingInterruptedError)) throw error;
    return { tree, state, error };
  }
}

for (const [name, backend] of [["native (1 thread)", native], ["tfjs", tfjsBackend]] as const) {
  Deno.test(`${name}: a run stopped twice and resumed from its saved state ends bit for bit like the uninterrupted one`, () => {
    const whole = attempt(backend, base, () => false);
    assert.ok(whole.result, "the uninterrupted run finishes");
    const want = { params: whole.tree.getParams(), history: course(whole.result.history) };
    whole.tree.dispose();

    // Six chunks of 40 samples per epoch. Stop in the middle of candidate 1's first epoch...
    const a = attempt(backend, base, (n) => n === 15);
    assert.ok(a.error && a.state, "the first attempt is interrupted and saves its state");
    assert.equal(a.state.reason, "interrupted");
    assert.equal(a.state.candidate, 1);
    assert.deepEqual(a.error.at, { epoch: 1, batch: 15, batches: 30 });
    assert.equal(a.error.reason, "test");
    a.tree.dispose();
    // ... then in the middle of the run that goes on, epoch 4 ...
    const b = attempt(backend, { ...base, resume: viaFile(a.state) }, (n) => n === 18);
    assert.ok(b.error && b.state, "the second attempt is interrupted too");
    assert.equal(b.state.candidate, -1);
    assert.equal(b.state.epoch, 4);
    b.tree.dispose();
    // ... and let the third finish.
    const c = attempt(backend, { ...base, resume: viaFile(b.state) }, () => false);
    assert.ok(c.result, "the third attempt finishes");
    assert.deepEqual(course(c.result.history), want.history);
    assert.deepEqual(c.tree.getParams(), want.params);
    assert.deepEqual(c.result.candidates, whole.result.candidates);
    assert.equal(c.result.chosenCandidate, whole.result.chosenCandidate);
    c.tree.dispose();
  });
}

Deno.test("a stop after an epoch resumes with the next one; the engine holds the best weights", () => {
  const options = { ...base, restarts: 1 };
  const whole = attempt(native, options, () => false);
  const stop = new AbortController();
  const tree = native.createTree(cfg, initParams(cfg, 3));
  let state: FitState | undefined;
  assert.throws(
    () =>
      fit(tree, train, val, {
        ...options,
        signal: stop.signal,
        onEpoch: (r) => r.epoch === 3 && stop.abort(),
        onState: (s) => void (state = s),
      }),
    (e: unknown) =>
      e instanceof TrainingInterruptedError && e.at.epoch === 3 && e.at.batch === 30 &&
      /interrupted at epoch 3 \(batch 30 of 30\)/.test(e.message),
  );
  assert.ok(state);
  assert.equal(state.epoch, 4);
  assert.equal(state.done, 0);
  const best = state.best!;
  assert.deepEqual(tree.getParams(), best.params, "the engine holds the best epoch's weights");
  const again = native.createTree(cfg, initParams(cfg, 99));
  const r = fit(again, train, val, { ...options, resume: viaFile(state) });
  assert.deepEqual(course(r.history), course(whole.result!.history));
  assert.deepEqual(again.getParams(), whole.tree.getParams());
  for (const t of [tree, again, whole.tree]) t.dispose();
});

Deno.test("fitAsync() lets a timer abort the run between batches, and awaits onState", async () => {
  const tree = native.createTree(cfg, initParams(cfg, 3));
  const stop = new AbortController();
  const saved: string[] = [];
  const slow = { ...base, restarts: 1, epochs: 100000, progressEvery: 8 };
  setTimeout(() => stop.abort("SIGINT"), 100);
  await assert.rejects(
    fitAsync(tree, train, val, {
      ...slow,
      signal: stop.signal,
      stateEvery: 3600,
      onState: async (s) => {
        await new Promise((r) => setTimeout(r, 1));
        saved.push(s.reason);
      },
    }),
    (e: unknown) => e instanceof TrainingInterruptedError && e.reason === "SIGINT",
  );
  assert.deepEqual(saved, ["interrupted"], "one save, when interrupted (not after epochs)");
  tree.dispose();
});

Deno.test("fit() refuses an onState that returns a promise", () => {
  const tree = native.createTree(cfg, initParams(cfg, 3));
  assert.throws(
    () => fit(tree, train, val, { ...base, restarts: 1, onState: async () => {} }),
    (e: unknown) => e instanceof TypeError && /fitAsync/.test(e.message),
  );
  tree.dispose();
});

Deno.test("a resume with options that change the run's course is refused, naming the option", () => {
  const a = attempt(native, base, (n) => n === 7);
  assert.ok(a.state);
  for (const [key, value] of [["batchSize", 16], ["epochs", 9], ["seed", 4]] as const) {
    const tree = native.createTree(cfg, initParams(cfg, 3));
    assert.throws(
      () => fit(tree, train, val, { ...base, [key]: value, resume: a.state }),
      (e: unknown) => e instanceof RangeError && e.message.includes(key),
    );
    tree.dispose();
  }
  a.tree.dispose();
});

for (const [name, backend] of [["native", native], ["tfjs", tfjsBackend]] as const) {
  Deno.test(`${name}: a loss that becomes NaN stops the run at its batch and keeps the best weights`, () => {
    const options = { ...base, restarts: 1 };
    const first = attempt(backend, options, (n) => n === 12); // stop after epoch 2
    assert.ok(first.state);
    first.tree.dispose();
    const state = first.state;
    assert.equal(state.epoch, 3);
    // Poison one row's targets: the loss is NaN from the batch of epoch 3 that holds it.
    const poisoned = 57;
    const targets = oneHot(train.y, 2);
    targets[poisoned * 2] = NaN;
    const order = Rng.fromState(state.rng).permutation(train.n);
    const batch = Math.floor(order.indexOf(poisoned) / 8) + 1;
    const tree = backend.createTree(cfg, initParams(cfg, 3));
    const saved: FitState[] = [];
    assert.throws(
      () =>
        fit(tree, train, val, {
          ...options,
          targets,
          resume: state,
          onState: (s) => void saved.push(s),
        }),
      (e: unknown) => {
        assert.ok(e instanceof TrainingDivergedError, String(e));
        assert.deepEqual(e.at, { epoch: 3, batch, batches: 30 });
        assert.match(e.message, new RegExp(`epoch 3 \\(batch ${batch} of 30\\)`));
        assert.match(e.message, /NaN/);
        assert.match(e.message, /lower learning rate/);
        return true;
      },
    );
    assert.equal(saved.length, 1);
    assert.equal(saved[0].reason, "diverged");
    assert.equal(saved[0].engine, null, "a diverged engine is not saved");
    assert.deepEqual(tree.getParams(), state.best!.params, "the best weights are kept");
    tree.dispose();
  });
}
