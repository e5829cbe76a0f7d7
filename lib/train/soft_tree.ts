/**
 * `SoftDecisionTree`: the library's main object — a soft binary decision tree on a
 * chosen backend that can be trained, evaluated, explained, saved and loaded.
 *
 * @module
 */
import { type BackendSelection, type BuildEvent, selectBackend } from "../backends/mod.ts";
import type {
  BackendChoice,
  EvalResult,
  ForwardResult,
  TreeBackend,
  TreeEngine,
} from "../backends/types.ts";
import type { Dataset } from "../data/types.ts";
import { loadTreeCheckpoint, saveTreeCheckpoint } from "../io/checkpoint.ts";
import type { DataInfo, TreeCheckpoint } from "../io/types.ts";
import { fit, fitAsync, type FitOptions, type FitResult } from "./fit.ts";
import { type Route, route } from "../tree/inspect.ts";
import { checkConfig, initParams } from "../tree/params.ts";
import { type RegressionMetrics, regressionValues } from "../tree/regression.ts";
import { scaleOf, scoreSplit } from "./score.ts";
import {
  DEFAULT_TREE_CONFIG,
  isRegression,
  type PenaltyState,
  type TreeConfig,
  type TreeParams,
} from "../tree/types.ts";

/** How to create or load a tree. */
export interface TreeOptions {
  /** A backend name, `"auto"`, or a loaded backend. @default "auto" */
  backend?: BackendChoice | TreeBackend;
  /** Seed of the initial parameters. @default 0 */
  seed?: number;
  /** Told when a native library is compiled (its first use on a machine). */
  onBuild?: (event: BuildEvent) => void;
}

/** The facts about a data set that a checkpoint keeps (for rendering and validation). */
export function dataInfo(ds: Dataset): DataInfo {
  const named = ds.classNames;
  return {
    source: ds.source,
    imageShape: ds.imageShape,
    featureNames: ds.featureNames,
    classNames: named?.length === ds.classes
      ? named
      : Array.from({ length: ds.classes }, (_, i) => String(i)),
    ...(ds.scaling ? { scaling: ds.scaling } : {}),
    ...(ds.lightOnDark !== undefined ? { lightOnDark: ds.lightOnDark } : {}),
    ...(ds.values
      ? {
        target: {
          name: ds.classNames?.[0] ?? "value",
          ...scaleOf(ds),
        },
      }
      : {}),
  };
}

/** A regression tree's scores on a split, in the target's own units. */
export interface RegressionEval {
  /** Max-leaf predictions (the most probable leaf's value) against the split's values. */
  maxLeaf: RegressionMetrics;
  /** Mixture predictions (the path-weighted mean of the leaves' values). */
  mixture: RegressionMetrics;
  /** Max-leaf predictions `[N]`. */
  predMaxLeaf: Float64Array;
  /** Mixture predictions `[N]`. */
  predMixture: Float64Array;
}

async function resolve(options: TreeOptions): Promise<BackendSelection> {
  const backend = options.backend;
  if (backend && typeof backend === "object") {
    return { backend, note: `backend: ${backend.description}` };
  }
  return await selectBackend(backend ?? "auto", { onBuild: options.onBuild });
}

/**
 * A soft decision tree (Frosst & Hinton 2017) on a backend.
 *
 * @example
 * ```ts
 * const splits = await loadData("mnist");
 * const tree = await SoftDecisionTree.create({ depth: 4 }, splits.train, { backend: "auto" });
 * tree.fit(splits.train, splits.val, { epochs: 1, batchSize: 64 });
 * console.log(tree.evaluate(splits.test).accuracy);
 * await tree.save("runs/mine");
 * tree.dispose();
 * ```
 */
export class SoftDecisionTree {
  #engine: TreeEngine;
  #data: DataInfo;
  #note: string;

  private constructor(engine: TreeEngine, data: DataInfo, note: string) {
    this.#engine = engine;
    this.#data = data;
    this.#note = note;
  }

  /**
   * A new tree shaped for `data`, with seeded initial parameters.
   * @param config Hyper-parameters; omitted ones take the seed's defaults (`DEFAULT_TREE_CONFIG`).
   * @param data The data set it will see (its features, classes and shape are taken from it).
   * @throws {RangeError} for bad hyper-parameters; {BackendUnavailableError} for a backend that cannot load.
   */
  static async create(
    config: Partial<TreeConfig>,
    data: Dataset,
    options: TreeOptions = {},
  ): Promise<SoftDecisionTree> {
    const full: TreeConfig = {
      ...DEFAULT_TREE_CONFIG,
      ...config,
      features: data.features,
      classes: data.classes,
      ...(data.values ? { task: "regression" as const } : {}),
    };
    checkConfig(full);
    const sel = await resolve(options);
    const engine = sel.backend.createTree(full, initParams(full, options.seed ?? 0));
    return new SoftDecisionTree(engine, dataInfo(data), sel.note);
  }

  /**
   * Load a saved tree (a checkpoint file or a run directory).
   * @throws {CheckpointError} when the checkpoint is missing or invalid.
   */
  static async load(path: string, options: TreeOptions = {}): Promise<SoftDecisionTree> {
    const ckpt = await loadTreeCheckpoint(path);
    return await SoftDecisionTree.fromCheckpoint(ckpt, options);
  }

  /** A tree from an already loaded checkpoint. */
  static async fromCheckpoint(
    ckpt: TreeCheckpoint,
    options: TreeOptions = {},
  ): Promise<SoftDecisionTree> {
    const sel = await resolve(options);
    return new SoftDecisionTree(
      sel.backend.createTree(ckpt.config, ckpt.params),
      ckpt.data,
      sel.note,
    );
  }

  /** The hyper-parameters and shape. */
  get config(): TreeConfig {
    return this.#engine.config;
  }
  /** Facts about the data it was made for. */
  get data(): DataInfo {
    return this.#data;
  }
  /** The backend running it. */
  get backend(): string {
    return this.#engine.backend;
  }
  /** A line saying which backend was chosen and why. */
  get backendNote(): string {
    return this.#note;
  }
  /** The underlying engine, for advanced use. */
  get engine(): TreeEngine {
    return this.#engine;
  }

  /** A copy of the parameters. */
  params(): TreeParams {
    return this.#engine.getParams();
  }
  /** A copy of the penalty's moving averages. */
  penaltyState(): PenaltyState {
    return this.#engine.getPenaltyState();
  }

  /** Train; see `fit` for the options and what it returns. */
  fit(train: Dataset, val: Dataset, options: FitOptions = {}): FitResult {
    this.#checkData(train);
    this.#checkData(val);
    return fit(this.#engine, train, val, options);
  }

  /**
   * Train, letting signals and timers run between batches and awaiting `onState`; see
   * `fitAsync` (a stop request, saving the state, resuming).
   */
  async fitAsync(train: Dataset, val: Dataset, options: FitOptions = {}): Promise<FitResult> {
    this.#checkData(train);
    this.#checkData(val);
    return await fitAsync(this.#engine, train, val, options);
  }

  /** Whether the leaves hold values (a regression tree) rather than class distributions. */
  get isRegression(): boolean {
    return isRegression(this.config);
  }

  /**
   * Accuracy of both prediction modes on a split; for a regression tree, R² in `accuracy` and
   * `accuracyMixture` and every score in `regression` (see `EvalResult`).
   */
  evaluate(ds: Dataset): EvalResult {
    this.#checkData(ds);
    return scoreSplit(this.#engine, ds, this.#data.target);
  }

  /**
   * R², RMSE and MAE of both prediction modes on a split with `values` (regression trees).
   * @throws {RangeError} For a classification tree or a split without values.
   */
  evaluateRegression(ds: Dataset): RegressionEval {
    this.#checkData(ds);
    if (!ds.values) {
      throw new RangeError(`The data "${ds.source}" has no target values to score against`);
    }
    if (!this.isRegression) throw new RangeError("evaluateRegression() is for regression trees");
    const r = scoreSplit(this.#engine, ds, this.#data.target).regression!;
    return {
      maxLeaf: r.maxLeaf,
      mixture: r.mixture,
      predMaxLeaf: r.valueMaxLeaf,
      predMixture: r.valueMixture,
    };
  }

  /**
   * A regression tree's predictions for inputs `x [N, F]`, in the target's own units: the
   * most probable leaf's value (max-leaf) and the path-weighted mean (mixture).
   * @throws {RangeError} For a classification tree.
   */
  predictValues(x: Float32Array): { maxLeaf: Float64Array; mixture: Float64Array } {
    const target = this.#data.target;
    if (!this.isRegression || !target) {
      throw new RangeError("predictValues() is for regression trees; use forward() or evaluate()");
    }
    const f = this.#engine.forward(x);
    return regressionValues(f.maxLeaf, f.mixture, this.#engine.getParams().phi, target);
  }

  /** Everything a forward pass computes for inputs `x [N, F]`. */
  forward(x: Float32Array): ForwardResult {
    return this.#engine.forward(x);
  }

  /** The route of one input `x [F]`: logits, probabilities, path to the max leaf, prediction. */
  route(x: ArrayLike<number>): Route {
    return route(this.params(), this.config.depth, this.config.classes, x);
  }

  /**
   * Save atomically to a checkpoint file or a run directory (`tree.sdt` inside it).
   * @returns The file written.
   */
  async save(path: string, meta: Record<string, unknown> = {}): Promise<string> {
    return await saveTreeCheckpoint(path, {
      config: this.config,
      params: this.params(),
      data: this.#data,
      meta,
    });
  }

  /** Free the backend's memory. The tree cannot be used afterwards. */
  dispose(): void {
    this.#engine.dispose();
  }

  #checkData(ds: Dataset): void {
    if (ds.features !== this.config.features) {
      throw new RangeError(
        `The data "${ds.source}" has ${ds.features} features but the tree expects ${this.config.features}`,
      );
    }
    if (ds.classes > this.config.classes) {
      throw new RangeError(
        `The data "${ds.source}" has ${ds.classes} classes but the tree predicts ${this.config.classes}`,
      );
    }
  }
}
