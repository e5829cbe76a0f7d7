/**
 * Distillation, softtree's main job: a teacher (loaded, or trained when missing) labels the
 * training split with `softmax(logits / temperature)`; a soft decision tree is trained on
 * those soft targets, validated and early-stopped on the hard validation labels, and
 * evaluated on the test split against the labels and against the teacher (fidelity).
 * Optionally the same tree is also trained on hard labels for comparison. Prints nothing.
 *
 * @module
 */
import type { Dataset, Splits } from "../data/types.ts";
import { DatasetError } from "../errors.ts";
import { augmentImages, type AugmentOptions, concatDatasets } from "../data/augment.ts";
import {
  type CacheEvent,
  type LoadOrTrainOptions,
  type SoftLabelStats,
  softLabelStats,
  softmaxT,
} from "../teacher/mod.ts";
import {
  type CrossFitOptions,
  crossFitTeachers,
  disposePanel,
  panelLogits,
  softLabelsPanel,
  teacherEnsemble,
  type TeacherPanel,
  teacherSplitAccuracy,
} from "../teacher/panel.ts";
import { type TeacherInputOptions, type TeacherRecord, teacherRecord } from "../teacher/any.ts";
import { type SoftLabelsOptions, sourceRowCount, transferRows } from "../teacher/file_labels.ts";
import { inDir } from "../io/atomic.ts";
import { acquireRunLock } from "../io/lock.ts";
import {
  regressionMeta,
  type RunOptions,
  type RunResult,
  trainOrLoad,
  writeMetrics,
} from "./run.ts";
import { type RegressionMetrics, regressionMetrics, standardise } from "../tree/regression.ts";
import { scaleOf } from "./score.ts";

/** How to distill. */
export interface DistillOptions extends RunOptions {
  /**
   * The teacher: an ONNX model, a TensorFlow.js model (layers or graph), or softtree's own
   * ConvNet folder (trained and saved there when missing). Several make an ensemble: their
   * logits are averaged.
   */
  teacher: string | string[];
  /** Preprocessing and outputs of ONNX and TensorFlow.js teachers. @default none (inputs as they are) */
  teacherInput?: TeacherInputOptions;
  /**
   * A file of the teacher's outputs instead of `teacher` (`--soft-labels`): one row per row of
   * the data's source, in its order.
   * @default undefined
   */
  softLabels?: { file: string } & SoftLabelsOptions;
  /**
   * Cross-fitting instead of `teacher`: `folds` teachers, each trained (once, in `dir`)
   * without one fold of the training split, and each training image (and its augmented
   * copies) labelled by the teacher that never saw it. The test split is labelled by all of
   * them, averaged.
   * @default undefined
   */
  crossFit?: Omit<CrossFitOptions, "training">;
  /** Softmax temperature of the soft labels. @default 1 (the seed) */
  temperature?: number;
  /**
   * Weight of the hard labels in the targets: `hardWeight * onehot + (1 - hardWeight) * soft`.
   * @default 0 (soft labels only, as the seed)
   */
  hardWeight?: number;
  /** Folder of the teacher-logits cache. @default undefined (no cache) */
  cacheDir?: string;
  /**
   * Let the teacher also label randomly moved copies of the training images, and train the
   * tree on all of them (`copies: 0` turns it off). Image data only.
   * @default { copies: 0 }
   */
  augment?: AugmentOptions;
  /**
   * Also train the same tree on hard labels, in `<out>/hard-labels`: the same images (the
   * augmented copies too, each with its original's label), settings and seed. @default false
   */
  compare?: boolean;
  /**
   * Unlabeled transfer data (labels `-1`, shaped like the training split: see
   * `loadUnlabeled`): the teacher labels it and the tree trains on it beside the training
   * split. The `--compare` twin, `hardWeight` and the soft-label statistics use the labelled
   * rows only; a cross-fitted panel labels it with all its members averaged; a soft-labels
   * file holds its rows after the data's.
   * @default undefined
   */
  transfer?: Dataset;
  /** How to train the teacher when none is saved (epochs, size, progress callbacks). */
  teacherTraining?: LoadOrTrainOptions;
  /** Progress of making the augmented copies (`augment`). */
  onAugmentProgress?: (done: number, total: number) => void;
  /** Progress of the teacher labelling the training inputs (soft labels). */
  onLabelProgress?: (done: number, total: number) => void;
  /** Told whether the soft labels came from the cache. */
  onCache?: (event: CacheEvent) => void;
  /** Told when a stage starts: `"teacher"`, `"soft-labels"`, `"distilled"`, `"hard"`. */
  onStage?: (stage: "teacher" | "soft-labels" | "distilled" | "hard") => void;
  /** Told what the soft labels of the transfer set look like (see `softLabelStats`). */
  onSoftLabels?: (stats: SoftLabelStats) => void;
  /** Told about the teacher once it is ready: its accuracy on the validation and test splits. */
  onTeacher?: (info: TeacherInfo) => void;
}

/** What {@linkcode DistillOptions.onTeacher} is told. */
export interface TeacherInfo {
  /** Whether every teacher was loaded (not trained here). */
  loaded: boolean;
  /** Its file (several comma-separated). */
  file: string;
  /** Accuracy on the test split (`NaN` when it cannot label it). */
  testAccuracy: number;
  /** Accuracy on the validation split (`NaN` when it cannot label it). */
  valAccuracy: number;
  /** What each teacher is: kind, file, preprocessing. */
  teachers: TeacherRecord[];
  /** One line per teacher, for people. */
  descriptions: string[];
}

/** What distillation produced. */
export interface DistillResult {
  /** The tree trained on the teacher's soft labels. */
  distilled: RunResult;
  /** The same tree trained on hard labels (with `compare`). */
  hard: RunResult | null;
  /** The teacher's accuracy on the test split, in [0, 1] (`NaN` when it cannot label it). */
  teacherTestAccuracy: number;
  /** The teacher's accuracy on the validation split, in [0, 1] (`NaN` when it cannot label it). */
  teacherValAccuracy: number;
  /** What each teacher is: kind, file, input shape, preprocessing. */
  teachers: TeacherRecord[];
  /** Whether the teacher was loaded (rather than trained here). */
  teacherLoaded: boolean;
  /** The teacher's `model.json`. */
  teacherFile: string;
  /**
   * Fraction of test inputs where the tree's max-leaf prediction equals the teacher's (`NaN`
   * when the teacher cannot label the test split); for a regression tree, the R² of its
   * values against the teacher's.
   */
  fidelity: number;
  /** The same for the tree's mixture prediction. */
  fidelityMixture: number;
  /** The temperature used. */
  temperature: number;
  /**
   * The soft labels of the transfer set (the training split and any teacher-labelled
   * copies) at that temperature, against the rows' labels: the teacher's confidence there
   * and its accuracy (before any mixing with hard labels). `null` for a regression tree.
   */
  softLabels: SoftLabelStats | null;
  /**
   * A regression teacher's outputs on the training rows against their values (R², RMSE, MAE,
   * before any mixing with them); `null` for classification.
   */
  teacherTrain: RegressionMetrics | null;
}

/** Checks that transfer data fits the training rows it joins. */
function checkTransfer(extra: Dataset | undefined, train: Dataset): void {
  if (!extra) return;
  if (extra.features !== train.features) {
    throw new DatasetError(
      `The transfer data "${extra.source}" has ${extra.features} features per sample, the ` +
        `training data "${train.source}" has ${train.features}`,
    );
  }
  if (extra.n === 0) throw new DatasetError(`The transfer data "${extra.source}" holds no samples`);
}

function agreement(a: Int32Array, b: Int32Array | null): number {
  if (!b) return NaN;
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return a.length ? same / a.length : 0;
}

/**
 * Distill a teacher into a soft decision tree; see the module doc.
 *
 * @throws {CheckpointError} for a corrupt teacher or one that does not fit the data.
 * @example
 * ```ts
 * const splits = await loadData("mnist");
 * const r = await distill(splits, { out: "runs/d4", teacher: "assets/teacher", config: { depth: 4 }, fit: {} });
 * r.distilled.test.accuracy; r.fidelity;
 * ```
 */
export async function distill(splits: Splits, options: DistillOptions): Promise<DistillResult> {
  // One lock for the run directory, the hard-label tree's folder inside it included.
  const lock = options.lock === false
    ? null
    : await acquireRunLock(options.out, String(options.meta?.command ?? "distill"));
  try {
    if (lock?.note) options.onNote?.(`${lock.note}: ${lock.path}`);
    return await distillLocked(splits, { ...options, lock: false });
  } finally {
    await lock?.release();
  }
}

async function distillLocked(splits: Splits, options: DistillOptions): Promise<DistillResult> {
  const temperature = options.temperature ?? 1;
  const regression = Boolean(splits.train.values);
  if (regression && (options.transfer || options.crossFit || (options.augment?.copies ?? 0) > 0)) {
    throw new RangeError(
      "A regression tree is distilled from its training rows only: --transfer, --cross-fit " +
        "and --augment are for classification",
    );
  }
  options.onStage?.("teacher");
  // A missing teacher is trained with the shipped one's recipe (assets/teacher/README.md).
  const recipe = {
    seed: options.seed,
    epochs: 6,
    batchSize: 32,
    schedule: "cosine" as const,
    ...options.teacherTraining,
  };
  const paths = typeof options.teacher === "string" ? [options.teacher] : options.teacher;
  let panel: TeacherPanel;
  if (options.softLabels) {
    const { file, ...rest } = options.softLabels;
    panel = await softLabelsPanel(file, splits, {
      ...rest,
      transferRows: options.transfer?.n ?? rest.transferRows,
    });
  } else {
    panel = options.crossFit
      ? await crossFitTeachers(splits, { ...options.crossFit, training: recipe })
      : await teacherEnsemble(paths, splits, { ...recipe, input: options.teacherInput });
  }
  try {
    const teachers = panel.members.map((m) => m.teacher);
    const val = await teacherSplitAccuracy(teachers, splits.val, splits.train);
    const t = {
      loaded: panel.members.every((m) => m.loaded),
      file: options.crossFit
        ? `${options.crossFit.dir} (${panel.members.length} cross-fitted teachers)`
        : panel.members.map((m) => m.file).join(", "),
      testAccuracy: panel.testAccuracy,
      valAccuracy: val.accuracy,
      testPredictions: panel.testPredictions,
      teachers: teachers.map(teacherRecord),
    };
    options.onTeacher?.({
      loaded: t.loaded,
      file: t.file,
      testAccuracy: t.testAccuracy,
      valAccuracy: t.valAccuracy,
      teachers: t.teachers,
      descriptions: teachers.map((m) => m.describe()),
    });
    options.onStage?.("soft-labels");
    const copies = options.augment?.copies ?? 0;
    const train = copies > 0
      ? concatDatasets(
        splits.train,
        augmentImages(splits.train, {
          seed: options.seed,
          ...options.augment,
          onProgress: options.onAugmentProgress ?? options.augment?.onProgress,
        }),
      )
      : splits.train;
    const extra = options.transfer;
    checkTransfer(extra, train);
    const labelled = train.n, all = labelled + (extra?.n ?? 0);
    const logits = await panelLogits(panel, train.x, splits.train.n, {
      rows: transferRows(splits.train, train.n),
      cacheDir: options.cacheDir,
      onCache: options.onCache,
      onProgress: (done) => options.onLabelProgress?.(done, all),
    });
    let allLogits = logits;
    if (extra) {
      // Transfer rows are no copies of training rows: every member labels them (averaged),
      // and a soft-labels file holds them after the data's own rows.
      const first = sourceRowCount(splits) ?? 0;
      const extraLogits = await panelLogits({ ...panel, foldOf: null }, extra.x, extra.n, {
        rows: Int32Array.from({ length: extra.n }, (_, i) => first + i),
        cacheDir: options.cacheDir,
        onCache: options.onCache,
        onProgress: (done) => options.onLabelProgress?.(labelled + done, all),
      });
      allLogits = new Float32Array(logits.length + extraLogits.length);
      allLogits.set(logits);
      allLogits.set(extraLogits, logits.length);
    }
    const alpha = options.hardWeight ?? 0;
    if (!(alpha >= 0 && alpha <= 1)) {
      throw new RangeError(`The hard-label weight must be from 0 to 1, got ${alpha}`);
    }
    // A regression teacher's outputs are values: standardised like the data's own targets,
    // mixed with them by the hard-label weight.
    const teacherTrain = regression ? regressionMetrics(allLogits, train.values!) : null;
    const targets = regression
      ? standardise(
        allLogits.map((v, i) => (1 - alpha) * v + alpha * train.values![i]),
        scaleOf(train),
      )
      : softmaxT(allLogits, train.classes, temperature);
    const stats = regression ? null : softLabelStats(
      targets.subarray(0, labelled * train.classes),
      train.y,
      train.classes,
    );
    if (stats) options.onSoftLabels?.(stats);
    if (alpha > 0 && !regression) {
      const k = train.classes;
      for (let i = 0; i < train.n; i++) {
        for (let c = 0; c < k; c++) targets[i * k + c] *= 1 - alpha;
        targets[i * k + train.y[i]] += alpha;
      }
    }
    const teacherTest = t.testPredictions;
    options.onStage?.("distilled");
    const meta = {
      ...options.meta,
      distilled: true,
      temperature,
      hardWeight: alpha,
      augmentCopies: copies,
      augment: copies > 0 ? { ...options.augment, onProgress: undefined } : undefined,
      transfer: extra ? { source: extra.source, samples: extra.n } : undefined,
      teacher: t.file,
      teacherTestAccuracy: t.testAccuracy,
      teacherValAccuracy: t.valAccuracy,
    };
    const distilled = await trainOrLoad({
      ...splits,
      train: extra ? concatDatasets(train, extra) : train,
    }, {
      ...options,
      fit: {
        ...options.fit,
        targets,
        // The training accuracy after each epoch is measured on labelled rows only.
        ...(extra
          ? { trainEvalSamples: Math.min(options.fit?.trainEvalSamples ?? 10000, labelled) }
          : {}),
      },
      meta,
      teacherRecords: t.teachers as unknown as Record<string, unknown>[],
    });
    const g = distilled.test.regression, tv = panel.testValues;
    const fidelity = g
      ? (tv ? regressionMetrics(g.valueMaxLeaf, tv).r2 : NaN)
      : agreement(distilled.test.predMaxLeaf, teacherTest);
    const fidelityMixture = g
      ? (tv ? regressionMetrics(g.valueMixture, tv).r2 : NaN)
      : agreement(distilled.test.predMixture, teacherTest);
    const hardOut = inDir(options.out, "hard-labels");
    let hard: RunResult | null = null;
    if (options.compare) {
      options.onStage?.("hard");
      // The twin sees the images the distilled tree saw (the copies with their originals'
      // labels): only the targets differ, so the gap is what the teacher's labels add.
      hard = await trainOrLoad({ ...splits, train }, {
        ...options,
        out: hardOut,
        fit: { ...options.fit, targets: undefined },
        meta: { ...options.meta, distilled: false, augmentCopies: copies },
      });
    }
    const file = inDir(options.out, "metrics.json");
    const previous = await Deno.readTextFile(file).then(JSON.parse, () => ({}));
    await writeMetrics(options.out, {
      ...previous,
      temperature,
      teacher: t.file,
      teachers: t.teachers,
      teacherTestAccuracy: t.testAccuracy,
      teacherValAccuracy: t.valAccuracy,
      testAccuracy: distilled.test.accuracy,
      testAccuracyMixture: distilled.test.accuracyMixture,
      ...(distilled.test.regression ? regressionMeta(distilled.val, distilled.test) : {}),
      fidelity,
      fidelityMixture,
      softLabels: stats ?? undefined,
      teacherTrain: teacherTrain ?? undefined,
      transfer: extra ? { source: extra.source, samples: extra.n } : undefined,
      hardLabels: hard
        ? {
          testAccuracy: hard.test.accuracy,
          testAccuracyMixture: hard.test.accuracyMixture,
          valAccuracy: hard.val.accuracy,
          out: hardOut,
        }
        : undefined,
    });
    return {
      distilled,
      hard,
      teacherTestAccuracy: t.testAccuracy,
      teacherValAccuracy: t.valAccuracy,
      teachers: t.teachers,
      teacherLoaded: t.loaded,
      teacherFile: t.file,
      fidelity,
      fidelityMixture,
      temperature,
      softLabels: stats,
      teacherTrain,
    };
  } finally {
    disposePanel(panel);
  }
}
