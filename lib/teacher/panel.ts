/**
 * Teachers that label together: an ensemble (several networks, their logits averaged) or a
 * cross-fitted set (K networks, network `k` trained without fold `k` of the training split,
 * so that every training image is labelled by a network that never saw it).
 *
 * A teacher that has memorised its training images labels them almost one-hot; cross-fitted
 * labels are predictions on unseen images, and an ensemble is a stronger teacher than any of
 * its members. Both keep each member's logits in the soft-label cache.
 *
 * Shapes: `N` training rows, `K` classes; a transfer set of `M` rows whose row `r` is a copy
 * of training row `r % N` (the training split, then augmented copies of it).
 *
 * @module
 */
import type { Dataset, Splits } from "../data/types.ts";
import { CheckpointError, DatasetError } from "../errors.ts";
import { Rng } from "../util/random.ts";
import { inDir, writeFileAtomic } from "../io/atomic.ts";
import {
  type LoadOrTrainOptions,
  type LoadOrTrainResult,
  loadOrTrainTeacher,
} from "./load_or_train.ts";
import { argmaxRows, type TrainTeacherResult } from "./model.ts";
import { regressionMetrics } from "../tree/regression.ts";
import { cachedTeacherLogits, type SoftLabelOptions } from "./soft_labels.ts";
import type { AnyTeacher, TeacherInputOptions } from "./any.ts";
import { inputOptionGiven, openTeacher, teacherFileKind } from "./open.ts";
import { SofttreeTeacher } from "./softtree_teacher.ts";
import { openSoftLabelsTeacher, type SoftLabelsOptions } from "./file_labels.ts";

/** One teacher of a panel. */
export interface PanelMember {
  /** The teacher (any kind). */
  teacher: AnyTeacher;
  /** `true` when it was loaded, `false` when trained here. */
  loaded: boolean;
  /** Its file. */
  file: string;
  /** Its accuracy on the test split (`NaN` when empty or when it cannot label it). */
  testAccuracy: number;
  /** Its class for each test input, `null` when it cannot label the test split. */
  testPredictions: Int32Array | null;
  /** A regression teacher's value for each test input (else `null`, as is `testPredictions`). */
  testValues?: Float32Array | null;
  /** The training, when it was trained here. */
  training: TrainTeacherResult | null;
}

/** Several teachers and how they share the labelling. */
export interface TeacherPanel {
  /** The teachers (call {@linkcode disposePanel} when done). */
  members: PanelMember[];
  /** With cross-fitting: the fold of every training row `[N]`; `null` for an ensemble. */
  foldOf: Int32Array | null;
  /** The panel's accuracy on the test split: its members' logits averaged (`NaN` if unknown). */
  testAccuracy: number;
  /**
   * The panel's class for each test input `[N_test]`; `null` when a teacher cannot label the
   * test split (a file of outputs for another source's rows).
   */
  testPredictions: Int32Array | null;
  /** A regression panel's value for each test input (its members' outputs averaged). */
  testValues?: Float32Array | null;
}

/** Options of {@linkcode teacherEnsemble}: how a missing softtree teacher is trained, how a model teacher's inputs are prepared. */
export interface EnsembleOptions extends LoadOrTrainOptions {
  /** Preprocessing and outputs of ONNX and TensorFlow.js teachers. */
  input?: TeacherInputOptions;
}

function member(result: LoadOrTrainResult): PanelMember {
  return { ...result, teacher: new SofttreeTeacher(result.teacher, result.file) };
}

/**
 * The rows of `ds` in its source when they are rows of the training split's source, for a
 * teacher that is a file of outputs.
 */
export function rowsOf(ds: Dataset, train: Dataset): Int32Array | undefined {
  return ds.source === train.source ? ds.sourceRows : undefined;
}

/**
 * The class a teacher (or the mean of several) gives each row of `ds`, and its accuracy
 * there; `null` and `NaN` when a file of outputs has no rows for `ds`. For regression data
 * (`ds.values`) and a teacher with one output: its values, `accuracy` their R² against the
 * data's values, and no classes.
 *
 * @param teachers One teacher, or several whose logits are averaged.
 * @param ds A labelled split.
 * @param train The training split (its source tells which rows a file of outputs holds).
 * @param options Batch size and progress.
 */
export async function teacherSplitAccuracy(
  teachers: AnyTeacher[],
  ds: Dataset,
  train: Dataset,
  options: SoftLabelOptions = {},
): Promise<{ accuracy: number; predictions: Int32Array | null; values?: Float32Array | null }> {
  const rows = rowsOf(ds, train);
  if (teachers.some((t) => t.kind === "soft-labels") && !rows) {
    return { accuracy: NaN, predictions: null, values: null };
  }
  const logits = await meanLogits(teachers, ds.x, { ...options, rows, cacheDir: undefined });
  if (ds.values && teachers[0].classes === 1) {
    const r2 = ds.n ? regressionMetrics(logits, ds.values).r2 : NaN;
    return { accuracy: r2, predictions: null, values: logits };
  }
  const predictions = argmaxRows(logits, teachers[0].classes);
  let right = 0;
  for (let i = 0; i < ds.n; i++) if (predictions[i] === ds.y[i]) right++;
  return { accuracy: ds.n ? right / ds.n : NaN, predictions };
}

/** Options of {@linkcode crossFitTeachers}. */
export interface CrossFitOptions {
  /** `K`, the folds (and networks). At least 2. */
  folds: number;
  /** Folder holding one teacher per fold (`fold-<k>-of-<K>/`) and `folds.json`. */
  dir: string;
  /** Seed of the fold assignment; network `k` trains with seed `seed + k`. @default 1 */
  seed?: number;
  /** How a missing network is trained (epochs, schedule, progress...). */
  training?: LoadOrTrainOptions;
  /** Told when a fold's network starts loading or training, and when it is ready. */
  onFold?: (event: { fold: number; folds: number; result?: LoadOrTrainResult }) => void;
}

/**
 * The fold of each of `n` rows: a seeded permutation dealt round-robin into `folds` folds
 * (sizes differ by at most one).
 *
 * @example
 * ```ts
 * foldAssignment(5, 2, 1); // e.g. Int32Array [1, 0, 0, 1, 0]
 * ```
 */
export function foldAssignment(n: number, folds: number, seed: number): Int32Array {
  if (!Number.isInteger(folds) || folds < 2) {
    throw new RangeError(`Cross-fitting needs at least 2 folds, got ${folds}`);
  }
  if (n < folds) throw new RangeError(`Cannot split ${n} rows into ${folds} folds`);
  const perm = new Rng(seed).permutation(n);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[perm[i]] = i % folds;
  return out;
}

/** The rows of `ds` listed in `rows`, as a data set of their own. */
export function subsetRows(ds: Dataset, rows: Int32Array, source: string): Dataset {
  const f = ds.features;
  const x = new Float32Array(rows.length * f);
  const y = new Int32Array(rows.length);
  const sourceRows = ds.sourceRows ? new Int32Array(rows.length) : undefined;
  for (let j = 0; j < rows.length; j++) {
    x.set(ds.x.subarray(rows[j] * f, rows[j] * f + f), j * f);
    y[j] = ds.y[rows[j]];
    if (sourceRows) sourceRows[j] = ds.sourceRows![rows[j]];
  }
  return { ...ds, x, y, n: rows.length, source, sourceRows };
}

async function labelsKey(y: Int32Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", Int32Array.from(y));
  return Array.from(new Uint8Array(digest).slice(0, 12), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * Loads (or trains and saves) `K` teachers, teacher `k` on the training split without fold
 * `k`, validated on `splits.val`. The fold assignment is recorded in `folds.json` beside
 * them; a folder made for other data or another assignment is an error, not reused.
 *
 * @param splits The data (the training split is divided).
 * @param options Folds, folder, seed, training recipe, progress.
 * @returns The panel: members in fold order, the fold of every training row, and the
 *   members' averaged predictions on the test split.
 * @throws {DatasetError} When `dir` holds teachers cross-fitted on other data.
 * @throws {CheckpointError} When a saved teacher is corrupt or does not fit the data.
 * @example
 * ```ts
 * const panel = await crossFitTeachers(splits, { folds: 5, dir: ".cache/softtree/cv5" });
 * const logits = await panelLogits(panel, splits.train.x, splits.train.n);
 * disposePanel(panel);
 * ```
 */
export async function crossFitTeachers(
  splits: Splits,
  options: CrossFitOptions,
): Promise<TeacherPanel> {
  const folds = options.folds;
  const seed = options.seed ?? 1;
  const train = splits.train;
  const foldOf = foldAssignment(train.n, folds, seed);
  const record = { folds, seed, rows: train.n, labels: await labelsKey(train.y) };
  const recordFile = inDir(options.dir, "folds.json");
  const saved = await Deno.readTextFile(recordFile).then(JSON.parse, () => null);
  if (saved && JSON.stringify(saved) !== JSON.stringify(record)) {
    throw new DatasetError(
      `The cross-fitting folder "${options.dir}" holds teachers made for other data or folds ` +
        `(${JSON.stringify(saved)}, this run needs ${JSON.stringify(record)}): choose another ` +
        `folder or remove it`,
    );
  }
  if (!saved) await writeFileAtomic(recordFile, JSON.stringify(record, null, 2) + "\n");
  const members: PanelMember[] = [];
  try {
    for (let k = 0; k < folds; k++) {
      options.onFold?.({ fold: k, folds });
      const rows = Int32Array.from(foldOf.keys()).filter((i) => foldOf[i] !== k);
      const part = subsetRows(train, rows, `${train.source} without fold ${k + 1} of ${folds}`);
      const result = await loadOrTrainTeacher(
        inDir(options.dir, `fold-${k + 1}-of-${folds}`),
        { ...splits, train: part },
        { ...options.training, seed: seed + k },
      );
      members.push(member(result));
      options.onFold?.({ fold: k, folds, result });
    }
    return { members, foldOf, ...await panelTest(members, splits) };
  } catch (error) {
    for (const m of members) m.teacher.dispose();
    throw error;
  }
}

/**
 * Opens each teacher of `paths` and makes them an ensemble: their logits averaged. An ONNX
 * model or a TensorFlow.js model (told apart by content) is opened with `options.input`; a
 * softtree teacher folder is loaded, or trained and saved there when missing.
 *
 * @param paths Teacher files or folders.
 * @param splits The data.
 * @param options How a missing softtree teacher is trained; model teachers' preprocessing.
 * @returns The panel (no folds).
 * @throws {CheckpointError} When a teacher cannot be read or does not fit the data.
 * @example
 * ```ts
 * const panel = await teacherEnsemble(["teachers/a", "model.onnx"], splits);
 * ```
 */
export async function teacherEnsemble(
  paths: string[],
  splits: Splits,
  options: EnsembleOptions = {},
): Promise<TeacherPanel> {
  if (paths.length < 1) throw new RangeError("An ensemble needs at least one teacher");
  const members: PanelMember[] = [];
  try {
    for (const path of paths) {
      const { kind, file } = await teacherFileKind(path);
      if (kind === "onnx" || kind === "tfjs" || kind === "unknown") {
        const teacher = await openTeacher(path, splits.train, options.input);
        const m: PanelMember = {
          teacher,
          loaded: true,
          file,
          training: null,
          testAccuracy: NaN,
          testPredictions: null,
        };
        members.push(m);
        const own = await teacherSplitAccuracy([teacher], splits.test, splits.train, {
          onProgress: options.onTestProgress,
        });
        m.testAccuracy = own.accuracy;
        m.testPredictions = own.predictions;
        m.testValues = own.values;
      } else {
        const given = inputOptionGiven(options.input ?? {});
        if (kind === "softtree" && given) {
          throw new RangeError(
            `${given} applies to ONNX and TensorFlow.js teachers; "${file}" is softtree's own ` +
              `teacher, which takes softtree's inputs as they are`,
          );
        }
        if (kind === "missing" && /\.(onnx|json)$/i.test(path)) {
          throw new CheckpointError(`Cannot load teacher "${path}": no such file`);
        }
        members.push(member(await loadOrTrainTeacher(path, splits, options)));
      }
    }
    return { members, foldOf: null, ...await panelTest(members, splits) };
  } catch (error) {
    for (const m of members) m.teacher.dispose();
    throw error;
  }
}

/**
 * A panel of one teacher that is a file of its outputs (`--soft-labels`), checked against
 * the data.
 *
 * @param file A CSV or `.npy` file: one row per row of the data's source.
 * @param splits The data.
 * @param options Logits or probabilities; transfer rows.
 * @returns The panel.
 * @throws {DatasetError} When the file's rows or columns do not match the data.
 */
export async function softLabelsPanel(
  file: string,
  splits: Splits,
  options: SoftLabelsOptions = {},
): Promise<TeacherPanel> {
  const teacher = await openSoftLabelsTeacher(file, splits, options);
  const own = await teacherSplitAccuracy([teacher], splits.test, splits.train);
  return {
    members: [{
      teacher,
      loaded: true,
      file,
      training: null,
      testAccuracy: own.accuracy,
      testPredictions: own.predictions,
      testValues: own.values,
    }],
    foldOf: null,
    testAccuracy: own.accuracy,
    testPredictions: own.predictions,
    testValues: own.values,
  };
}

async function panelTest(
  members: PanelMember[],
  splits: Splits,
): Promise<
  { testAccuracy: number; testPredictions: Int32Array | null; testValues?: Float32Array | null }
> {
  if (members.length === 1) {
    const m = members[0];
    return {
      testAccuracy: m.testAccuracy,
      testPredictions: m.testPredictions,
      testValues: m.testValues,
    };
  }
  const r = await teacherSplitAccuracy(members.map((m) => m.teacher), splits.test, splits.train);
  return { testAccuracy: r.accuracy, testPredictions: r.predictions, testValues: r.values };
}

async function meanLogits(
  teachers: AnyTeacher[],
  x: Float32Array,
  options: SoftLabelOptions,
): Promise<Float32Array> {
  if (teachers.some((t) => t.classes !== teachers[0].classes)) {
    throw new DatasetError(
      `The teachers give different class counts (${teachers.map((t) => t.classes).join(", ")})`,
    );
  }
  let sum: Float32Array | null = null;
  for (const t of teachers) {
    const l = await cachedTeacherLogits(t, x, options);
    if (!sum) sum = new Float32Array(l.length);
    for (let i = 0; i < l.length; i++) sum[i] += l[i];
  }
  for (let i = 0; i < sum!.length; i++) sum![i] /= teachers.length;
  return sum!;
}

/**
 * The panel's logits `[M, K]` for a transfer set `x [M, F]` whose row `r` is a copy of
 * training row `r % trainRows`: an ensemble averages its members' logits; a cross-fitted
 * panel takes each row from the member that did not train on its training row (so copies
 * of an image are labelled by a network that never saw the image).
 *
 * @param panel The teachers.
 * @param x Inputs `[M, F]`.
 * @param trainRows `N`, the training rows the transfer set was made from.
 * @param options Cache folder, batch size, progress (over all members).
 * @returns Logits `[M, K]`.
 * @throws {DatasetError} When a cross-fitted panel's folds do not cover `trainRows` rows.
 */
export async function panelLogits(
  panel: TeacherPanel,
  x: Float32Array,
  trainRows: number,
  options: SoftLabelOptions = {},
): Promise<Float32Array> {
  if (!panel.foldOf) return await meanLogits(panel.members.map((m) => m.teacher), x, options);
  if (panel.foldOf.length !== trainRows) {
    throw new DatasetError(
      `The cross-fitted teachers were made for ${panel.foldOf.length} training rows, not ${trainRows}`,
    );
  }
  const t0 = panel.members[0].teacher;
  const f = t0.features, k = t0.classes;
  const m = x.length / f;
  const out = new Float32Array(m * k);
  const folds = panel.members.length;
  let done = 0;
  for (let fold = 0; fold < folds; fold++) {
    const rows: number[] = [];
    for (let r = 0; r < m; r++) if (panel.foldOf[r % trainRows] === fold) rows.push(r);
    const part = new Float32Array(rows.length * f);
    rows.forEach((r, j) => part.set(x.subarray(r * f, r * f + f), j * f));
    const before = done;
    const logits = await cachedTeacherLogits(panel.members[fold].teacher, part, {
      ...options,
      onProgress: (d) => options.onProgress?.(before + d, m),
    });
    rows.forEach((r, j) => out.set(logits.subarray(j * k, j * k + k), r * k));
    done += rows.length;
  }
  return out;
}

/** Frees every member's network. */
export function disposePanel(panel: TeacherPanel): void {
  for (const m of panel.members) m.teacher.dispose();
}
