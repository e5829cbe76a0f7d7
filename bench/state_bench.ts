/**
 * What saving a run's state costs next to an epoch, at depth 8 on MNIST (50,000 training
 * images): one epoch of training on the native backend, then the save a run makes after an
 * epoch — the engine's state read out (weights, Adam's moments, penalty averages), encoded,
 * written with fsync (`training-state.bin`), and the best tree written (`tree.sdt`).
 *
 * Back of the envelope: depth 8 has 255 x 784 filter weights; with Adam's two moments, the
 * best weights and (with restarts) the best candidate's, a state holds about 1.2M float32
 * values, 5 MB: tens of milliseconds to write, against seconds for an epoch.
 *
 * `deno run -A bench/state_bench.ts [--batch-size 64]`
 *
 * @module
 */
import { selectBackend } from "../lib/backends/mod.ts";
import { loadData } from "../lib/data/mod.ts";
import { saveTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { fit, type FitState } from "../lib/train/fit.ts";
import { encodeTreeState, saveTreeState } from "../lib/train/state.ts";
import { initParams } from "../lib/tree/params.ts";
import { dataInfo } from "../lib/train/soft_tree.ts";
import { DEFAULT_TREE_CONFIG, type TreeConfig } from "../lib/tree/types.ts";

const at = Deno.args.indexOf("--batch-size");
const batchSize = at >= 0 ? Number(Deno.args[at + 1]) : 64;
const splits = await loadData("mnist");
const cfg: TreeConfig = {
  ...DEFAULT_TREE_CONFIG,
  depth: 8,
  features: 784,
  classes: 10,
  invTemp: 0.1,
  penaltyStrength: 30,
};
const { backend, note } = await selectBackend("native");
console.log(note);
const tree = backend.createTree(cfg, initParams(cfg, 0));
let state: FitState | undefined;
const epochs = 2;
const r = fit(tree, splits.train, splits.val, {
  epochs,
  batchSize,
  patience: 0,
  restarts: 2,
  restartEpochs: 1,
  stateEvery: 0,
  onState: (s) => void (state = s),
});
if (!state) throw new Error("no state was handed out");
const epochSeconds = r.history.map((h) => h.seconds);
console.log(
  `depth 8, batch ${batchSize}: epochs of ${splits.train.n} samples took ${
    epochSeconds.map((s) => s.toFixed(2)).join(", ")
  } s of training (plus ${
    ((r.seconds - r.history.reduce((a, h) => a + h.seconds, 0)) / epochs).toFixed(2)
  } s of evaluation each)`,
);

const dir = await Deno.makeTempDir();
const data = dataInfo(splits.train);
const times = {
  capture: [] as number[],
  encode: [] as number[],
  write: [] as number[],
  tree: [] as number[],
};
let bytes = 0;
for (let i = 0; i < 5; i++) {
  let t = performance.now();
  const engine = {
    params: tree.getParams(),
    adam: tree.getAdamState(),
    penalty: tree.getPenaltyState(),
  };
  times.capture.push(performance.now() - t);
  t = performance.now();
  bytes = encodeTreeState({ config: cfg, data, meta: {}, fit: { ...state, engine } }).length;
  times.encode.push(performance.now() - t);
  t = performance.now();
  await saveTreeState(dir, { config: cfg, data, meta: {}, fit: { ...state, engine } });
  times.write.push(performance.now() - t);
  t = performance.now();
  await saveTreeCheckpoint(`${dir}/tree.sdt`, {
    config: cfg,
    params: engine.params,
    data,
    meta: {},
  });
  times.tree.push(performance.now() - t);
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const save = median(times.capture) + median(times.write) + median(times.tree);
console.log(
  `state ${(bytes / 1e6).toFixed(1)} MB: read out ${median(times.capture).toFixed(1)} ms, ` +
    `encode ${median(times.encode).toFixed(1)} ms, encode + write + fsync ${
      median(times.write).toFixed(1)
    } ms; best tree ${median(times.tree).toFixed(1)} ms; a save ${save.toFixed(0)} ms = ${
      (100 * save / 1000 / median(epochSeconds)).toFixed(1)
    }% of an epoch's training (median of 5)`,
);
tree.dispose();
await Deno.remove(dir, { recursive: true });
