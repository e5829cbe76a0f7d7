/**
 * What the labels of a data set hold: samples per class in each split, and the classes a
 * tree cannot learn because the training split has none of them (a gap in the label values,
 * or a class only the validation or test split holds).
 *
 * @module
 */
import type { LabelReport, MissingClass, Splits } from "./types.ts";

export type { LabelReport, MissingClass };

/**
 * Count the labels of each split and say which classes have no training samples.
 *
 * @param splits The splits (labels in `[0, K)`).
 * @returns Counts per class and split, and warnings.
 * @example
 * ```ts
 * const report = labelReport(await loadData("mnist"));
 * report.counts.train[0]; // 4932
 * report.warnings; // []
 * ```
 */
export function labelReport(splits: Splits): LabelReport {
  const k = Math.max(splits.train.classes, splits.val.classes, splits.test.classes);
  const names = Array.from(
    { length: k },
    (_, i) => splits.train.classNames?.[i] ?? String(i),
  );
  const count = (y: Int32Array) => {
    const c = new Array<number>(k).fill(0);
    for (const v of y) if (v >= 0 && v < k) c[v]++;
    return c;
  };
  const counts = {
    train: count(splits.train.y),
    val: count(splits.val.y),
    test: count(splits.test.y),
  };
  const missingInTrain: MissingClass[] = [];
  const warnings: string[] = [];
  let largest = -1;
  for (let c = 0; c < k; c++) if (counts.train[c] + counts.val[c] + counts.test[c] > 0) largest = c;
  for (let c = 0; c < k; c++) {
    if (counts.train[c] > 0) continue;
    const m = { class: c, name: names[c], val: counts.val[c], test: counts.test[c] };
    missingInTrain.push(m);
    warnings.push(
      m.val + m.test > 0
        ? `class "${m.name}" has no training samples but ${m.test} in test and ${m.val} in ` +
          `validation: the tree cannot learn it`
        : c < largest
        ? `class "${m.name}" has no samples in any split: the label values skip it (the ` +
          `largest is "${names[largest]}"), so the tree gets a class it never sees`
        : `class "${m.name}" has no samples in any split (${k} classes were declared)`,
    );
  }
  return { classes: k, names, counts, missingInTrain, warnings };
}
