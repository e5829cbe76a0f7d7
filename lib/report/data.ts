/**
 * What the HTML report shows, as plain data computed from a tree's parameters, its data
 * splits, the run's metrics and (for a distilled tree) the teacher's test predictions: node
 * statistics, prototypes, a sample of test inputs, confusion matrices. No training machinery:
 * the tree's maths is `predictor.js`, the same code the page runs.
 *
 * @module
 */
import { describeTeacherRecord } from "../teacher/any.ts";
import { leafClasses } from "../tree/inspect.ts";
import { type FeatureFacts, featureFacts, type LabelledRows } from "./_features.ts";

export type { LabelledRows } from "./_features.ts";
import { isRegression, treeSizes } from "../tree/types.ts";
import { type RegressionMetrics, regressionMetrics } from "../tree/regression.ts";
import { Rng } from "../util/random.ts";
import { type PredictorJson, predictorJson, type UsableTree } from "../use/model.ts";
import { loadModel, type Model } from "../tree/predictor.js";

/** What {@linkcode buildReportData} reads besides the tree. */
export interface ReportInputs {
  /** The training split: node counts and prototypes. */
  train: LabelledRows;
  /** The test split: node counts, leaf accuracy, confusion matrix, the sample. */
  test: LabelledRows;
  /** The run's `metrics.json`, if any: learning curves, command line, options. */
  metrics?: Record<string, unknown> | null;
  /** The checkpoint's free-form facts (command line, seed, accuracies). */
  meta?: Record<string, unknown>;
  /** A distilled tree's teacher: its test predictions `[N]` and where it came from. */
  teacher?: { predictions: Int32Array; file: string } | null;
  /** Why a distilled tree's teacher is missing from the report, when it is. */
  teacherNote?: string;
  /** The hard-label tree `distill --compare` trained beside it (its `metrics.json`). */
  hardLabels?: Record<string, unknown> | null;
  /**
   * Test inputs embedded for the page to try: this many, spread over the classes.
   * @default 50
   */
  samples?: number;
  /**
   * Training inputs kept per node as its prototypes.
   * @default 6
   */
  prototypes?: number;
  /**
   * Seed of the sample's choice and of the order in which ties of path probability fall.
   * @default 0
   */
  seed?: number;
  /** The report's title. @default "softtree report: depth D tree on SOURCE" */
  title?: string;
}

/** Statistics of one heap node. */
export interface NodeStats {
  /** The heap index. */
  node: number;
  /** Its depth (0 at the root). */
  depth: number;
  /** The leaf index for leaves, else `null`. */
  leaf: number | null;
  /** The argmax classes of the leaves below (the node's own for a leaf). */
  classes: number[];
  /** Training inputs whose max-leaf path passes here, and the sum of their path probabilities. */
  train: { count: number; mass: number };
  /** The same on the test split; `correct` counts those the tree classifies right. */
  test: { count: number; mass: number; correct: number };
  /** Prototypes: indices into `ReportData.prototypes`, highest path probability first. */
  prototypes: number[];
  /** Their path probabilities at this node. */
  prototypeReach: number[];
  /**
   * A regression tree's node: the range of its leaves' values (a leaf's own value twice), in
   * the target's units; for a leaf, the spread (standard deviation) of the training values
   * ending there and the RMSE of the max-leaf prediction on the test values ending there
   * (`null` where no input, or no values, end there).
   */
  values?: { lo: number; hi: number; trainStd: number | null; testRmse: number | null };
}

/** Everything the report page shows, as JSON-ready data. */
export interface ReportData {
  /** The page's title. */
  title: string;
  /** The tree for `predictor.js` (and its input conventions). */
  model: PredictorJson;
  /** Heap order: inner nodes then leaves, `I + L`. */
  nodes: NodeStats[];
  /**
   * Prototype inputs: base64 of uint8 pixels (images) or float32 (tables), `[P, F]`, their
   * labels (a regression tree's: their true values in `values`, where known).
   */
  prototypes: {
    encoding: "uint8" | "float32";
    data: string;
    labels: number[];
    index: number[];
    values?: number[];
  };
  /**
   * Test inputs to try: base64 float32 `[S, F]` (exact), their labels and test indices (a
   * regression tree's: their true values in `values`, where known).
   */
  samples: { data: string; labels: number[]; index: number[]; values?: number[] };
  /**
   * Test accuracy and agreement, fractions in [0, 1]; `n` test inputs. A regression tree has
   * no accuracy (`tree`, `treeMixture` are `null`): see `regression`.
   */
  accuracy: {
    n: number;
    tree: number | null;
    treeMixture: number | null;
    teacher: number | null;
    fidelity: number | null;
    hardLabels: number | null;
  };
  /**
   * A regression tree's scores on the test split in the target's units, max-leaf and mixture:
   * computed on the split's values, else as recorded in the checkpoint when it was trained
   * (`source` says which; `null` fields where neither has them). `null` for classification.
   */
  regression: {
    target: string;
    source: "test split" | "recorded" | "none";
    maxLeaf: RegressionMetrics | null;
    mixture: RegressionMetrics | null;
  } | null;
  /**
   * Confusion matrices `[K][K]`: rows the truth (or the teacher), columns the prediction
   * (empty for a regression tree).
   */
  confusion: { tree: number[][]; teacher: number[][] | null; fidelity: number[][] | null };
  /** The teacher of a distilled tree, or `null`. */
  teacher: { file: string } | null;
  /** A line saying why there is no teacher, or `null`. */
  teacherNote: string | null;
  /** Per-epoch records for the learning curves (from `metrics.json`). */
  history: Record<string, number>[];
  /** The run: command line, options, data, when. */
  run: Record<string, unknown>;
  /** Feature importances and the hard tree's agreement, on the test split. */
  features: FeatureFacts;
}

function base64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

function float32Base64(x: Float32Array): string {
  // Little-endian, whatever the machine: the page reads it with a DataView.
  const bytes = new Uint8Array(x.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < x.length; i++) view.setFloat32(4 * i, x[i], true);
  return base64(bytes);
}

/**
 * Path probabilities of every heap node for one input, `reach [I + L]`, in the arithmetic of
 * `predictor.js` (zeros skipped: `s + 0 * w` is `s`, so the sums are the same).
 */
function reachOf(model: Model, x: Float32Array, off: number, nz: Int32Array, reach: Float64Array) {
  const F = model.features;
  const I = 2 ** model.depth - 1;
  let m = 0;
  for (let f = 0; f < F; f++) if (x[off + f] !== 0) nz[m++] = f;
  reach[0] = 1;
  for (let n = 0; n < I; n++) {
    let s = model.b[n];
    const wo = n * F;
    for (let j = 0; j < m; j++) s += x[off + nz[j]] * model.w[wo + nz[j]];
    const right = 1 / (1 + Math.exp(-(model.beta * s)));
    reach[2 * n + 1] = reach[n] * (1 - right);
    reach[2 * n + 2] = reach[n] * right;
  }
}

function confusion(truth: ArrayLike<number>, pred: ArrayLike<number>, k: number): number[][] {
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]][pred[i]]++;
  return m;
}

function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return a.length ? same / a.length : 0;
}

/**
 * Computes what the report shows: for every node the classes below it, how many training
 * and test inputs pass through it (on their max-leaf paths) and with how much path
 * probability, its prototypes (the training inputs that reach it with the highest path
 * probability; ties fall in a seeded order); per leaf its test accuracy; the confusion
 * matrices of the tree (max-leaf), of the teacher and of the tree against the teacher; a
 * sample of test inputs spread over the classes.
 *
 * @param tree The tree (a checkpoint, or `config`, `params`, `data`).
 * @param inputs The splits, metrics, teacher predictions and sizes.
 * @returns The report's data.
 * @throws {RangeError} When a split or the teacher's predictions do not fit the tree.
 * @example
 * ```ts
 * const data = buildReportData(checkpoint, { train: splits.train, test: splits.test });
 * data.accuracy.tree; // 0.9061
 * ```
 */
export function buildReportData(tree: UsableTree, inputs: ReportInputs): ReportData {
  const { config, params, data: info } = tree;
  const { depth: D, features: F, classes: K } = config;
  const { inner: I, leaves: L } = treeSizes(D);
  const json = predictorJson(tree);
  const model = loadModel(json);
  const { train, test } = inputs;
  for (const [name, split] of [["training", train], ["test", test]] as const) {
    if (split.x.length !== split.n * F || split.y.length !== split.n) {
      throw new RangeError(
        `Cannot build the report: the ${name} split holds ${split.x.length / split.n} features ` +
          `per input, the tree reads ${F}`,
      );
    }
  }
  const teacher = inputs.teacher ?? null;
  if (teacher && teacher.predictions.length !== test.n) {
    throw new RangeError(
      `Cannot build the report: ${teacher.predictions.length} teacher predictions for ${test.n} test inputs`,
    );
  }
  const keep = inputs.prototypes ?? 6;
  const rng = new Rng(inputs.seed ?? 0);
  const leafCls = leafClasses(params, K);
  const regression = isRegression(config);
  const leafValue = model.values;
  const testValues = regression ? test.values : undefined;
  const trainValues = regression ? train.values : undefined;

  const nodes: NodeStats[] = [];
  for (let n = 0; n < I + L; n++) {
    const d = Math.floor(Math.log2(n + 1));
    const span = 2 ** (D - d);
    const first = (n - (2 ** d - 1)) * span;
    const classes = [...new Set(Array.from(leafCls.subarray(first, first + span)))].sort((a, b) =>
      a - b
    );
    nodes.push({
      node: n,
      depth: d,
      leaf: n >= I ? n - I : null,
      classes,
      train: { count: 0, mass: 0 },
      test: { count: 0, mass: 0, correct: 0 },
      prototypes: [],
      prototypeReach: [],
    });
    if (leafValue) {
      const below = Array.from(leafValue.subarray(first, first + span));
      nodes[n].values = {
        lo: Math.min(...below),
        hi: Math.max(...below),
        trainStd: null,
        testRmse: null,
      };
    }
  }
  // A regression tree's leaves: sums of the values ending there, for spreads and errors.
  const trainSum = new Float64Array(L), trainSum2 = new Float64Array(L);
  const testSq = new Float64Array(L), testCount = new Float64Array(L);

  const reach = new Float64Array(I + L);
  const nz = new Int32Array(F);
  const maxLeafOf = () => {
    let best = 0;
    for (let l = 1; l < L; l++) if (reach[I + l] > reach[I + best]) best = l;
    return best;
  };

  // Training split, in a seeded order so that ties of path probability fall by chance.
  const order = Array.from({ length: train.n }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const top: { i: number; p: number }[][] = nodes.map(() => []);
  for (const i of order) {
    reachOf(model, train.x, i * F, nz, reach);
    for (let n = 0; n < I + L; n++) {
      const p = reach[n];
      nodes[n].train.mass += p;
      const list = top[n];
      // Every input reaches the root with probability 1: it has no prototypes.
      if (n > 0 && keep > 0 && (list.length < keep || p > list[list.length - 1].p)) {
        let at = list.length;
        while (at > 0 && list[at - 1].p < p) at--;
        list.splice(at, 0, { i, p });
        if (list.length > keep) list.pop();
      }
    }
    const leaf = maxLeafOf();
    if (trainValues) {
      trainSum[leaf] += trainValues[i];
      trainSum2[leaf] += trainValues[i] * trainValues[i];
    }
    for (let node = I + leaf;; node = (node - 1) >> 1) {
      nodes[node].train.count++;
      if (node === 0) break;
    }
  }

  // Test split: counts, the tree's predictions, leaf accuracy.
  const predMaxLeaf = new Int32Array(test.n);
  const predMixture = new Int32Array(test.n);
  const mixture = new Float64Array(K);
  const testLeaf = new Int32Array(test.n);
  const predValue = new Float64Array(regression ? test.n : 0);
  const predMixValue = new Float64Array(regression ? test.n : 0);
  for (let i = 0; i < test.n; i++) {
    reachOf(model, test.x, i * F, nz, reach);
    for (let n = 0; n < I + L; n++) nodes[n].test.mass += reach[n];
    const leaf = maxLeafOf();
    testLeaf[i] = leaf;
    const cls = leafCls[leaf];
    predMaxLeaf[i] = cls;
    mixture.fill(0);
    for (let l = 0; l < L; l++) {
      for (let k = 0; k < K; k++) mixture[k] += reach[I + l] * model.q[l * K + k];
    }
    let mix = 0;
    for (let k = 1; k < K; k++) if (mixture[k] > mixture[mix]) mix = k;
    predMixture[i] = mix;
    if (leafValue && model.target) {
      let y = 0;
      for (let l = 0; l < L; l++) y += reach[I + l] * model.phi[l];
      predValue[i] = leafValue[leaf];
      predMixValue[i] = y * model.target.std + model.target.mean;
      if (testValues) {
        testSq[leaf] += (leafValue[leaf] - testValues[i]) ** 2;
        testCount[leaf]++;
      }
    }
    const right = !regression && cls === test.y[i] ? 1 : 0;
    for (let node = I + leaf;; node = (node - 1) >> 1) {
      nodes[node].test.count++;
      nodes[node].test.correct += right;
      if (node === 0) break;
    }
  }

  if (leafValue) {
    for (let l = 0; l < L; l++) {
      const v = nodes[I + l].values!;
      const c = nodes[I + l].train.count;
      if (trainValues && c > 0) {
        const mean = trainSum[l] / c;
        v.trainStd = Math.sqrt(Math.max(0, trainSum2[l] / c - mean * mean));
      } else if (!trainValues) v.trainStd = info.target?.leaves?.std[l] ?? null;
      v.testRmse = testCount[l] > 0 ? Math.sqrt(testSq[l] / testCount[l]) : null;
    }
  }

  // Prototypes, each input stored once.
  const protoIndex: number[] = [];
  const slot = new Map<number, number>();
  for (let n = 0; n < I + L; n++) {
    for (const { i, p } of top[n]) {
      if (!slot.has(i)) {
        slot.set(i, protoIndex.length);
        protoIndex.push(i);
      }
      nodes[n].prototypes.push(slot.get(i)!);
      nodes[n].prototypeReach.push(p);
    }
  }
  const images = info.imageShape !== null;
  let protoData: string;
  if (images) {
    const bytes = new Uint8Array(protoIndex.length * F);
    protoIndex.forEach((i, j) => {
      for (let f = 0; f < F; f++) {
        bytes[j * F + f] = Math.round(255 * Math.min(1, Math.max(0, train.x[i * F + f])));
      }
    });
    protoData = base64(bytes);
  } else {
    const rows = new Float32Array(protoIndex.length * F);
    protoIndex.forEach((i, j) => rows.set(train.x.subarray(i * F, (i + 1) * F), j * F));
    protoData = float32Base64(rows);
  }

  // A sample of test inputs, spread over the classes, in a seeded order.
  const want = Math.min(inputs.samples ?? 50, test.n);
  const byClass: number[][] = Array.from({ length: K }, () => []);
  const testOrder = Array.from({ length: test.n }, (_, i) => i);
  for (let i = testOrder.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [testOrder[i], testOrder[j]] = [testOrder[j], testOrder[i]];
  }
  for (const i of testOrder) byClass[test.y[i]].push(i);
  const sample: number[] = [];
  for (let round = 0; sample.length < want; round++) {
    let added = false;
    for (let k = 0; k < K && sample.length < want; k++) {
      if (round < byClass[k].length) {
        sample.push(byClass[k][round]);
        added = true;
      }
    }
    if (!added) break;
  }
  if (testValues) sample.sort((a, b) => testValues[a] - testValues[b] || a - b);
  else sample.sort((a, b) => test.y[a] - test.y[b] || a - b);
  const sampleX = new Float32Array(sample.length * F);
  sample.forEach((i, j) => sampleX.set(test.x.subarray(i * F, (i + 1) * F), j * F));

  const metrics = inputs.metrics ?? {};
  const meta = inputs.meta ?? {};
  const history = Array.isArray(metrics.history) ? metrics.history as Record<string, number>[] : [];
  const hard = inputs.hardLabels ?? null;
  const run: Record<string, unknown> = {
    command: metrics.command ?? meta.command ?? null,
    date: metrics.date ?? meta.date ?? null,
    seed: metrics.seed ?? meta.seed ?? null,
    config: metrics.config ?? config,
    fitOptions: metrics.fitOptions ?? null,
    data: metrics.data ?? { source: info.source },
    backend: metrics.backend ?? null,
    distilled: Boolean(meta.distilled ?? metrics.teacher),
    teachers: (info.teacher ?? (metrics.teachers as Record<string, unknown>[] | undefined) ?? [])
      .map(describeTeacherRecord),
    temperature: metrics.temperature ?? meta.temperature ?? null,
    epochsRun: metrics.epochsRun ?? null,
    bestEpoch: metrics.bestEpoch ?? null,
    seconds: metrics.seconds ?? null,
    recorded: regression ? recordedRegression(metrics, meta) : {
      valAccuracy: metrics.valAccuracy ?? meta.valAccuracy ?? null,
      testAccuracy: metrics.testAccuracy ?? meta.testAccuracy ?? null,
      testAccuracyMixture: metrics.testAccuracyMixture ?? meta.testAccuracyMixture ?? null,
      teacherTestAccuracy: metrics.teacherTestAccuracy ?? null,
      fidelity: metrics.fidelity ?? null,
    },
  };
  const D2 = info.imageShape ? info.imageShape.join("x") + " images" : `${F} features`;
  return {
    title: inputs.title ??
      `softtree report: depth-${D} tree${
        run.distilled ? ", distilled," : ""
      } on ${info.source} (${D2})`,
    model: json,
    nodes,
    prototypes: {
      encoding: images ? "uint8" : "float32",
      data: protoData,
      labels: protoIndex.map((i) => train.y[i]),
      index: protoIndex,
      ...(trainValues ? { values: protoIndex.map((i) => trainValues[i]) } : {}),
    },
    samples: {
      data: float32Base64(sampleX),
      labels: sample.map((i) => test.y[i]),
      index: sample,
      ...(testValues ? { values: sample.map((i) => testValues[i]) } : {}),
    },
    accuracy: {
      n: test.n,
      tree: regression ? null : agreement(predMaxLeaf, test.y),
      treeMixture: regression ? null : agreement(predMixture, test.y),
      teacher: teacher ? agreement(teacher.predictions, test.y) : null,
      fidelity: teacher ? agreement(predMaxLeaf, teacher.predictions) : null,
      hardLabels: typeof hard?.testAccuracy === "number" ? hard.testAccuracy : null,
    },
    regression: regression
      ? regressionScores(info.target?.name ?? "value", predValue, predMixValue, testValues, {
        ...meta,
        ...metrics,
      })
      : null,
    confusion: regression ? { tree: [], teacher: null, fidelity: null } : {
      tree: confusion(test.y, predMaxLeaf, K),
      teacher: teacher ? confusion(test.y, teacher.predictions, K) : null,
      fidelity: teacher ? confusion(teacher.predictions, predMaxLeaf, K) : null,
    },
    teacher: teacher ? { file: teacher.file } : null,
    teacherNote: inputs.teacherNote ?? null,
    history,
    run,
    features: featureFacts(tree, test, {
      mass: nodes.slice(0, I).map((s) => s.test.mass),
      maxLeaf: testLeaf,
    }),
  };
}

/** The first number among `keys` of `facts`. */
function numberOf(facts: Record<string, unknown>, keys: string[]): number | null {
  for (const k of keys) if (typeof facts[k] === "number") return facts[k] as number;
  return null;
}

/** A regression run's recorded test scores (`test_r2` or `testR2`, and the like). */
function recordedScores(
  facts: Record<string, unknown>,
  suffix: "" | "_mixture",
): RegressionMetrics | null {
  const camel = suffix ? "Mixture" : "";
  const r2 = numberOf(facts, [`test_r2${suffix}`, `testR2${camel}`]);
  const rmse = numberOf(facts, [`test_rmse${suffix}`, `testRmse${camel}`]);
  const mae = numberOf(facts, [`test_mae${suffix}`, `testMae${camel}`]);
  return r2 === null || rmse === null || mae === null ? null : { r2, rmse, mae };
}

/** What a regression run recorded when it was trained, for the report's run table. */
function recordedRegression(
  metrics: Record<string, unknown>,
  meta: Record<string, unknown>,
): Record<string, unknown> {
  const facts = { ...meta, ...metrics };
  return {
    testR2: numberOf(facts, ["test_r2", "testR2"]),
    testRmse: numberOf(facts, ["test_rmse", "testRmse"]),
    testMae: numberOf(facts, ["test_mae", "testMae"]),
  };
}

/** A regression tree's test scores: on the split's values, else as recorded. */
function regressionScores(
  target: string,
  predicted: Float64Array,
  mixture: Float64Array,
  values: ArrayLike<number> | undefined,
  recorded: Record<string, unknown>,
): NonNullable<ReportData["regression"]> {
  if (values && values.length > 0) {
    return {
      target,
      source: "test split",
      maxLeaf: regressionMetrics(predicted, values),
      mixture: regressionMetrics(mixture, values),
    };
  }
  const maxLeaf = recordedScores(recorded, "");
  const mix = recordedScores(recorded, "_mixture");
  return {
    target,
    source: maxLeaf || mix ? "recorded" : "none",
    maxLeaf,
    mixture: mix,
  };
}
