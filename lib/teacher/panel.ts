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
import { DatasetError } from "../errors.ts";
import { Rng } from "../util/random.ts";
import { inDir, writeFileAtomic } from "../io/atomic.ts";
import {
  type LoadOrTrainOptions,
  type LoadOrTrainResult,
  loadOrTrainTeacher,
} from "./load_or_train.ts";
import { argmaxRows } from "./model.ts";
import { cachedTeacherLogits, type SoftLabelOptions } from "./soft_labels.ts";

/** Several teachers and how they share the labelling. */
export interface TeacherPanel {
  /** The networks (call {@linkcode disposePanel} when done). */
  members: LoadOrTrainResult[];
  /** With cross-fitting: the fold of every training row `[N]`; `null` for an ensemble. */
  foldOf: Int32Array | null;
  /** The panel's accuracy on the test split: its members' logits averaged. */
  testAccuracy: number;
  /** The panel's class for each test input `[N_test]`. */
  testPredictions: Int32Array;
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
  for (let j = 0; j < rows.length; j++) {
    x.set(ds.x.subarray(rows[j] * f, rows[j] * f + f), j * f);
    y[j] = ds.y[rows[j]];
  }
  return { ...ds, x, y, n: rows.length, source };
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
  const members: LoadOrTrainResult[] = [];
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
      members.push(result);
      options.onFold?.({ fold: k, folds, result });
    }
    return { members, foldOf, ...await panelTest(members, splits.test) };
  } catch (error) {
    for (const m of members) m.teacher.dispose();
    throw error;
  }
}

/**
 * Loads (or trains) each teacher folder of `paths` and makes them an ensemble: their logits
 * averaged.
 *
 * @param paths Teacher folders.
 * @param splits The data.
 * @param options How a missing teacher is trained.
 * @returns The panel (no folds).
 * @example
 * ```ts
 * const panel = await teacherEnsemble(["teachers/a", "teachers/b"], splits);
 * ```
 */
export async function teacherEnsemble(
  paths: string[],
  splits: Splits,
  options: LoadOrTrainOptions = {},
): Promise<TeacherPanel> {
  if (paths.length < 1) throw new RangeError("An ensemble needs at least one teacher");
  const members: LoadOrTrainResult[] = [];
  try {
    for (const path of paths) members.push(await loadOrTrainTeacher(path, splits, options));
    return { members, foldOf: null, ...await panelTest(members, splits.test) };
  } catch (error) {
    for (const m of members) m.teacher.dispose();
    throw error;
  }
}

async function panelTest(
  members: LoadOrTrainResult[],
  test: Dataset,
): Promise<{ testAccuracy: number; testPredictions: Int32Array }> {
  if (members.length === 1) {
    return { testAccuracy: members[0].testAccuracy, testPredictions: members[0].testPredictions };
  }
  const logits = await meanLogits(members, test.x, {});
  const testPredictions = argmaxRows(logits, members[0].teacher.config.classes);
  let right = 0;
  for (let i = 0; i < test.n; i++) if (testPredictions[i] === test.y[i]) right++;
  return { testAccuracy: test.n ? right / test.n : NaN, testPredictions };
}

async function meanLogits(
  members: LoadOrTrainResult[],
  x: Float32Array,
  options: SoftLabelOptions,
): Promise<Float32Array> {
  let sum: Float32Array | null = null;
  for (const m of members) {
    const l = await cachedTeacherLogits(m.teacher, x, options);
    if (!sum) sum = new Float32Array(l.length);
    for (let i = 0; i < l.length; i++) sum[i] += l[i];
  }
  for (let i = 0; i < sum!.length; i++) sum![i] /= members.length;
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
  if (!panel.foldOf) return await meanLogits(panel.members, x, options);
  if (panel.foldOf.length !== trainRows) {
    throw new DatasetError(
      `The cross-fitted teachers were made for ${panel.foldOf.length} training rows, not ${trainRows}`,
    );
  }
  const t0 = panel.members[0].teacher;
  const f = t0.features, k = t0.config.classes;
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
