/**
 * A trained tree as readable if-then rules: the hard tree (each inner node's test
 * `w . x + b > 0` goes right) written with feature names, one rule per leaf, as JSON and as
 * Markdown. Where the inputs were min-max scaled with known ranges, tests are written in the
 * features' original units. With `topK`, each test keeps only its `K` largest terms (the
 * dropped ones folded into the threshold at their training mean), and the rules say how often
 * the simplified tree agrees with the full one.
 *
 * A regression tree's rules end in the leaf's value (in the target's units), with the spread
 * (standard deviation) of the training targets the rules send there and their share; its
 * agreement is that of leaves: the share of rows whose simplified-tree leaf is the full
 * tree's leaf (a regression tree has no classes), with the rules' R², RMSE and MAE.
 *
 * @module
 */
import { inDir, writeFileAtomic } from "../io/atomic.ts";
import type { DataInfo } from "../io/types.ts";
import { hardLeaf, rowOf, type Rows, topTerms } from "../tree/importance.ts";
import { leafClasses, leafDistributions, route } from "../tree/inspect.ts";
import type { TreeConfig, TreeParams } from "../tree/types.ts";
import { isRegression, treeSizes } from "../tree/types.ts";
import {
  leafValues,
  type RegressionMetrics,
  regressionMetrics,
  valueText,
} from "../tree/regression.ts";

/** What the rules need of a tree. */
export interface RulesTree {
  config: Pick<TreeConfig, "depth" | "features" | "classes" | "task">;
  params: TreeParams;
  data: DataInfo;
}

/** One term `weight * feature` of a test. */
export interface RuleTerm {
  /** The feature's index. */
  index: number;
  /** Its name. */
  feature: string;
  /** The coefficient, in the test's units (original units where the scaling is known). */
  weight: number;
  /** The coefficient on the scaled input `[0, 1]` (its effect over the training range). */
  scaledWeight: number;
}

/** An inner node's test: go right when `sum(weight * feature) > threshold`. */
export interface RuleTest {
  /** The heap node. */
  node: number;
  /** The terms kept, largest `|scaledWeight|` first. */
  terms: RuleTerm[];
  /** Terms with a non-zero weight left out (by `topK`). */
  omitted: number;
  /** The share of the filter's squared norm `|w|^2` the kept terms hold. */
  share: number;
  /** Go right when the sum of the terms exceeds this. */
  threshold: number;
}

/** One rule: the conditions from the root to a leaf, and what the leaf predicts. */
export interface Rule {
  /** The leaf. */
  leaf: number;
  /** The tests on the way, root first: `right` means the test holds (`> threshold`). */
  conditions: { node: number; right: boolean }[];
  /** The leaf's class. */
  class: number;
  /** Its name. */
  className: string;
  /** The leaf's probability of that class. */
  probability: number;
  /** The share of training rows the rules send here (absent without training rows). */
  trainShare?: number;
  /** A regression tree's leaf value, in the target's units (`class` is then 0). */
  value?: number;
  /**
   * A regression tree: the standard deviation of the training targets the rules send here
   * (`null` where none; absent without training values).
   */
  trainStd?: number | null;
}

/** How often the simplified tree (with `topK`) agrees with the full one on some rows. */
export interface RulesAgreement {
  /** Rows compared (e.g. the test split). */
  n: number;
  /** Fraction whose class under the simplified rules equals that under the full rules. */
  withFullRules: number;
  /** Fraction whose class under the simplified rules equals the max-leaf prediction's. */
  withMaxLeaf: number;
  /** The fraction of the full rules' classes equal to the max-leaf prediction's. */
  fullRulesWithMaxLeaf: number;
  /** Accuracy of the rules (as written) against the labels, when given (classification). */
  accuracy?: number;
  /**
   * A regression tree's agreement compares the `"leaf"` reached (the soft tree's max-leaf for
   * `withMaxLeaf`) instead of the class; absent for classification trees.
   */
  compares?: "leaf";
  /** A regression tree's rules (as written) scored against the rows' values, when given. */
  metrics?: RegressionMetrics;
}

/** The rules of a tree, as `export --format rules` writes them to `rules.json`. */
export interface TreeRules {
  format: "softtree-rules";
  version: 1;
  depth: number;
  /** Feature names (`x0 ..` when the data has none). */
  features: string[];
  /** Class names (a regression tree: its target's name). */
  classes: string[];
  /** What the leaves predict: classes, or (regression) a value of the target. */
  task: "classification" | "regression";
  /** A regression tree's target name. */
  target?: string;
  /** `"original"` when tests are in the raw features' units, else `"scaled"`. */
  units: "original" | "scaled";
  /** Terms kept per test, or `null` for all. */
  topK: number | null;
  /** One test per inner node, in heap order. */
  tests: RuleTest[];
  /** One rule per leaf, in leaf order. */
  rules: Rule[];
  /** Agreement of the simplified tree with the full one, when `topK` and rows are given. */
  agreement?: RulesAgreement;
}

/** Options of {@linkcode treeRules}. */
export interface RulesOptions {
  /**
   * Keep only the `K` largest terms of each test; the others are folded into the threshold
   * at their mean over `train` (or 0.5, the middle of the training range, without it).
   * @default all terms
   */
  topK?: number;
  /**
   * Training rows (scaled as the tree reads them): leaf shares and the means for `topK`; a
   * regression tree's leaf spreads from their `values`.
   */
  train?: Rows & { values?: ArrayLike<number> };
  /**
   * Rows to measure the agreement on (e.g. the test split), with labels for accuracy (a
   * regression tree: `values`, for the rules' R², RMSE and MAE).
   */
  test?: Rows & { y?: ArrayLike<number>; values?: ArrayLike<number> };
}

/**
 * The hard tree of `tree` as if-then rules.
 *
 * @param tree The tree's config, parameters and data facts (feature names, scaling).
 * @param options `topK`, and training and test rows for shares and agreement.
 * @returns The tests, the rules and, with `topK` and `test`, the agreement.
 * @throws {RangeError} When `topK` is not a whole number from 1, or rows do not fit the tree.
 * @example
 * ```ts
 * const rules = treeRules(tree, { topK: 3, train: splits.train, test: splits.test });
 * console.log(rulesMarkdown(rules));
 * ```
 */
export function treeRules(tree: RulesTree, options: RulesOptions = {}): TreeRules {
  const { config, params, data } = tree;
  const { depth: D, features: F, classes: K } = config;
  const { inner: I, leaves: L } = treeSizes(D);
  const topK = options.topK;
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) {
    throw new RangeError(`Invalid topK "${topK}": expected a whole number from 1`);
  }
  for (const [name, rows] of [["train", options.train], ["test", options.test]] as const) {
    if (rows && rows.x.length !== rows.n * F) {
      throw new RangeError(
        `Cannot write rules: the ${name} rows hold ${rows.x.length} values, expected ${rows.n} ` +
          `rows of ${F} features`,
      );
    }
  }
  const names = data.featureNames?.length === F
    ? data.featureNames
    : Array.from({ length: F }, (_, f) => `x${f}`);
  const scaling = data.scaling?.min.length === F && data.scaling.max.length === F
    ? data.scaling
    : undefined;
  // Feature means over the training rows, for the terms a simplified test drops.
  const means = new Float64Array(F).fill(0.5);
  if (options.train && options.train.n > 0) {
    means.fill(0);
    const { x, n } = options.train;
    for (let i = 0; i < n; i++) for (let f = 0; f < F; f++) means[f] += x[i * F + f];
    for (let f = 0; f < F; f++) means[f] /= n;
  }

  // The simplified parameters (equal to the full ones without topK): scaled units.
  const simple: TreeParams = { ...params, w: params.w.slice(), b: params.b.slice() };
  const sign = params.beta < 0 ? -1 : 1;
  const tests: RuleTest[] = [];
  for (let n = 0; n < I; n++) {
    const w = params.w.subarray(n * F, (n + 1) * F);
    const nonZero = w.filter((v) => v !== 0).length;
    const { indices, share } = topTerms(w, Math.min(topK ?? F, nonZero));
    const kept = new Set(indices);
    let bias = params.b[n];
    for (let f = 0; f < F; f++) {
      if (kept.has(f)) continue;
      bias += w[f] * means[f];
      simple.w[n * F + f] = 0;
    }
    simple.b[n] = bias;
    // sign * (sum w x + bias) > 0, with x = (raw - min) / range in original units.
    let threshold = -sign * bias;
    const terms: RuleTerm[] = [];
    for (const f of indices) {
      const ws = sign * w[f];
      let weight = ws;
      if (scaling) {
        const range = scaling.max[f] - scaling.min[f];
        if (!(range > 0)) continue; // a constant column reads as 0: no term
        weight = ws / range;
        threshold += ws * scaling.min[f] / range;
      }
      terms.push({ index: f, feature: names[f], weight, scaledWeight: ws });
    }
    tests.push({ node: n, terms, omitted: nonZero - indices.length, share, threshold });
  }

  const regression = isRegression(config);
  if (regression && !data.target) {
    throw new RangeError(
      "Cannot write rules: the regression tree does not record its target (data.target)",
    );
  }
  const values = regression ? leafValues(params.phi, data.target!) : null;
  const leafCls = leafClasses(params, K);
  const q = leafDistributions(params, K);
  const counts = new Float64Array(L);
  const sum = new Float64Array(L), sum2 = new Float64Array(L);
  const trainValues = regression ? options.train?.values : undefined;
  if (options.train) {
    const { x, n } = options.train;
    for (let i = 0; i < n; i++) {
      const l = hardLeaf(simple, D, rowOf(x, i, F));
      counts[l]++;
      if (trainValues) sum[l] += trainValues[i];
    }
    if (trainValues) {
      for (let i = 0; i < n; i++) {
        const l = hardLeaf(simple, D, rowOf(x, i, F));
        sum2[l] += (trainValues[i] - sum[l] / counts[l]) ** 2;
      }
    }
  }
  const rules: Rule[] = [];
  for (let l = 0; l < L; l++) {
    const conditions: { node: number; right: boolean }[] = [];
    for (let node = I + l; node > 0; node = (node - 1) >> 1) {
      conditions.unshift({ node: (node - 1) >> 1, right: node % 2 === 0 });
    }
    const k = leafCls[l];
    const rule: Rule = {
      leaf: l,
      conditions,
      class: k,
      className: data.classNames[k] ?? String(k),
      probability: q[l * K + k],
    };
    if (values) rule.value = values[l];
    if (options.train) rule.trainShare = options.train.n > 0 ? counts[l] / options.train.n : 0;
    if (trainValues) rule.trainStd = counts[l] > 0 ? Math.sqrt(sum2[l] / counts[l]) : null;
    rules.push(rule);
  }

  const out: TreeRules = {
    format: "softtree-rules",
    version: 1,
    depth: D,
    features: names,
    classes: data.classNames,
    task: regression ? "regression" : "classification",
    ...(regression ? { target: data.target!.name } : {}),
    units: scaling ? "original" : "scaled",
    topK: topK ?? null,
    tests,
    rules,
  };
  if (options.test) {
    out.agreement = values
      ? leafAgreement(params, simple, D, values, options.test)
      : rulesAgreement(params, simple, D, K, options.test);
  }
  return out;
}

/** A regression tree's agreement: of leaves, and the rules' scores against the values. */
function leafAgreement(
  full: TreeParams,
  simple: TreeParams,
  depth: number,
  values: ArrayLike<number>,
  rows: Rows & { values?: ArrayLike<number> },
): RulesAgreement {
  const F = full.w.length / treeSizes(depth).inner;
  let withFull = 0, withMax = 0, fullWithMax = 0;
  const predicted = new Float64Array(rows.n);
  for (let i = 0; i < rows.n; i++) {
    const x = rowOf(rows.x, i, F);
    const s = hardLeaf(simple, depth, x);
    const h = hardLeaf(full, depth, x);
    const m = route(full, depth, 1, x).maxLeaf;
    if (s === h) withFull++;
    if (s === m) withMax++;
    if (h === m) fullWithMax++;
    predicted[i] = values[s];
  }
  const n = rows.n;
  const out: RulesAgreement = {
    n,
    withFullRules: withFull / n,
    withMaxLeaf: withMax / n,
    fullRulesWithMaxLeaf: fullWithMax / n,
    compares: "leaf",
  };
  if (rows.values && n > 0) out.metrics = regressionMetrics(predicted, rows.values);
  return out;
}

function rulesAgreement(
  full: TreeParams,
  simple: TreeParams,
  depth: number,
  classes: number,
  rows: Rows & { y?: ArrayLike<number> },
): RulesAgreement {
  const F = full.w.length / treeSizes(depth).inner;
  const leafCls = leafClasses(full, classes);
  let withFull = 0, withMax = 0, fullWithMax = 0, correct = 0;
  for (let i = 0; i < rows.n; i++) {
    const x = rowOf(rows.x, i, F);
    const s = leafCls[hardLeaf(simple, depth, x)];
    const h = leafCls[hardLeaf(full, depth, x)];
    const m = route(full, depth, classes, x).predicted;
    if (s === h) withFull++;
    if (s === m) withMax++;
    if (h === m) fullWithMax++;
    if (rows.y && s === rows.y[i]) correct++;
  }
  const n = rows.n;
  const out: RulesAgreement = {
    n,
    withFullRules: withFull / n,
    withMaxLeaf: withMax / n,
    fullRulesWithMaxLeaf: fullWithMax / n,
  };
  if (rows.y) out.accuracy = correct / n;
  return out;
}

/** A number in few digits: 3 significant, no exponent for everyday sizes. */
function short(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e6) return String(Number(v.toPrecision(3)));
  return v.toExponential(2);
}

/** A test written out: `0.5·a − 1.2·b > 3.4`, with `+ N smaller terms` when some are not shown. */
export function testText(test: RuleTest, options: { show?: number; right?: boolean } = {}): string {
  const show = options.show ?? test.terms.length;
  const shown = test.terms.slice(0, show);
  let s = shown.map((t, i) => {
    const mag = `${short(Math.abs(t.weight))}·${t.feature}`;
    return i === 0 ? (t.weight < 0 ? `−${mag}` : mag) : `${t.weight < 0 ? "−" : "+"} ${mag}`;
  }).join(" ");
  if (shown.length === 0) s = "0";
  const hidden = test.terms.length - shown.length;
  if (hidden > 0) s += ` + ${hidden} smaller term${hidden === 1 ? "" : "s"}`;
  const t = short(test.threshold).replace(/^-/, "−");
  return `${s} ${options.right === false ? "≤" : ">"} ${t}`;
}

/**
 * The rules as a Markdown page: the tests, then one rule per leaf that training rows reach
 * (every leaf without training rows), then the agreement.
 *
 * @param rules What {@linkcode treeRules} returned.
 * @param options `show`: terms written per test (the rest summed up as "smaller terms").
 * @example
 * ```ts
 * await Deno.writeTextFile("rules.md", rulesMarkdown(treeRules(tree)));
 * ```
 */
export function rulesMarkdown(rules: TreeRules, options: { show?: number } = {}): string {
  const show = options.show ?? 6;
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const regression = rules.task === "regression";
  const lines = [
    `# Rules of a soft ${regression ? "regression" : "decision"} tree`,
    ``,
    `Depth ${rules.depth}, ${rules.features.length} features, ${
      regression
        ? `predicts ${rules.target} (each leaf's value in its own units)`
        : `classes: ${rules.classes.join(", ")}`
    }. The rules route each input the hard way: at every inner node the test holds (go on ` +
    `to its right child) when its sum exceeds the threshold.`,
    rules.units === "original"
      ? `Tests are in the features' original units (the tree reads them min-max scaled with ` +
        `the training split's ranges).`
      : `Tests are in the units of the tree's inputs.`,
    rules.topK === null
      ? `Terms are ordered by their weight on the scaled inputs; each test shows at most ${show}.`
      : `Each test keeps its ${rules.topK} largest terms; the others are folded into the ` +
        `threshold at their training mean.`,
    ``,
    `## Tests`,
    ``,
    `| node | test | terms | share of \\|w\\|² |`,
    `| --- | --- | --- | --- |`,
  ];
  for (const t of rules.tests) {
    lines.push(
      `| ${t.node} | \`${testText(t, { show })}\` | ${t.terms.length}${
        t.omitted ? ` (${t.omitted} dropped)` : ""
      } | ${pct(t.share)} |`,
    );
  }
  lines.push(``, `## Rules`, ``);
  const reached = rules.rules.filter((r) => r.trainShare === undefined || r.trainShare > 0);
  for (const r of reached) {
    const when = r.conditions.map((c) =>
      `[node ${c.node}] \`${testText(rules.tests[c.node], { show, right: c.right })}\``
    );
    const share = r.trainShare === undefined ? "" : `, ${pct(r.trainShare)} of training rows`;
    if (r.value !== undefined) {
      const details: string[] = [];
      if (r.trainStd !== undefined && r.trainStd !== null) {
        details.push(`± ${valueText(r.trainStd)} in its training rows`);
      }
      if (r.trainShare !== undefined) details.push(`${pct(r.trainShare)} of training rows`);
      lines.push(
        `- **leaf ${r.leaf}**: if ${when.join(" and ")} then **${rules.target} = ${
          valueText(r.value)
        }**${details.length ? ` (${details.join(", ")})` : ""}`,
      );
      continue;
    }
    lines.push(
      `- **leaf ${r.leaf}**: if ${when.join(" and ")} then **${r.className}** ` +
        `(probability ${r.probability.toFixed(3)}${share})`,
    );
  }
  const unreached = rules.rules.length - reached.length;
  if (unreached > 0) {
    lines.push(
      ``,
      `No training row reaches leaves ${
        rules.rules.filter((r) => r.trainShare === 0).map((r) => r.leaf).join(", ")
      } (${unreached} of ${rules.rules.length}); they are left out.`,
    );
  }
  const a = rules.agreement;
  if (a && a.compares === "leaf") {
    const m = a.metrics;
    lines.push(
      ``,
      `## Agreement`,
      ``,
      `On ${a.n} test rows: the ${
        rules.topK === null ? "rules" : `rules with ${rules.topK} terms per test`
      } reach the same leaf as the full rules on ${pct(a.withFullRules)} and as the soft ` +
        `tree's max-leaf prediction on ${pct(a.withMaxLeaf)} (a regression tree's agreement ` +
        `counts leaves: it has no classes)` +
        (m
          ? `; their R² is ${m.r2.toFixed(4)}, RMSE ${valueText(m.rmse)}, MAE ${valueText(m.mae)}`
          : "") +
        `. The full rules reach the max-leaf prediction's leaf on ${pct(a.fullRulesWithMaxLeaf)}.`,
    );
  } else if (a) {
    lines.push(
      ``,
      `## Agreement`,
      ``,
      `On ${a.n} test rows: the ${
        rules.topK === null ? "rules" : `rules with ${rules.topK} terms per test`
      } agree with the full rules on ${pct(a.withFullRules)} and with the soft tree's ` +
        `max-leaf prediction on ${pct(a.withMaxLeaf)}` +
        (a.accuracy === undefined ? "" : `; their accuracy is ${pct(a.accuracy)}`) +
        `. The full rules agree with the max-leaf prediction on ${pct(a.fullRulesWithMaxLeaf)}.`,
    );
  }
  return lines.join("\n") + "\n";
}

/** The files {@linkcode exportRules} writes. */
export const RULES_FILES = { markdown: "rules.md", json: "rules.json" } as const;

/**
 * Writes `rules.md` and `rules.json` into `dir` (created if absent), each atomically.
 *
 * @param rules What {@linkcode treeRules} returned.
 * @param dir The folder.
 * @returns The paths written.
 * @example
 * ```ts
 * await exportRules(treeRules(tree, { train: splits.train }), "rules/");
 * ```
 */
export async function exportRules(rules: TreeRules, dir: string): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const md = inDir(dir, RULES_FILES.markdown), json = inDir(dir, RULES_FILES.json);
  await writeFileAtomic(md, rulesMarkdown(rules));
  await writeFileAtomic(json, JSON.stringify(rules, null, 1) + "\n");
  return [md, json];
}
