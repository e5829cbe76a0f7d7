/**
 * `softtree train` (a tree on hard labels) and `softtree eval` (a saved tree on a split),
 * plus the tree options shared with `distill`.
 *
 * @module
 */
import { jsonOption, modelOption, quietOption } from "./options.ts";
import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { BACKEND_CHOICES, type BackendChoice, type EvalResult } from "../lib/backends/types.ts";
import type { RegressionMetrics } from "../lib/tree/regression.ts";
import { loadData, parseImageSize, trainedShapeOptions } from "../lib/data/mod.ts";
import type { LabelReport } from "../lib/data/labels.ts";
import type { DataTask, LoadedSplits, Splits } from "../lib/data/types.ts";
import type { FitOptions } from "../lib/train/fit.ts";
import type { RunOptions, RunResult } from "../lib/train/run.ts";
import { trainOrLoad } from "../lib/train/run.ts";
import { SoftDecisionTree } from "../lib/train/soft_tree.ts";
import type { TreeConfig } from "../lib/tree/types.ts";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { inDir, writeFileAtomic } from "../lib/io/atomic.ts";
import { choiceArg, intArg, numArg, printJson } from "./common.ts";
import { applyRecipe, RECIPE_HELP, recipeArg, withAugmentedTraining } from "./augment.ts";
import { dataInfo } from "../lib/train/soft_tree.ts";
import {
  snapshotSchedule,
  TrainingAnimation,
  writeLearningCurves,
  writeTreePicture,
} from "../lib/render/mod.ts";
import { DEFAULT_TREE_CONFIG } from "../lib/tree/types.ts";
import { buildProgress, formatDuration, info, percent, ProgressBar } from "./progress.ts";
import { featureReport, pictureArg } from "./tabular.ts";
import {
  OPTIONS_KEY,
  recordedTreeOptions,
  reportInterrupted,
  resumedOptions,
  StopSignals,
} from "./interrupt.ts";
import { TrainingInterruptedError } from "../lib/errors.ts";

const DATA_FORMS = `"mnist", "idx:DIR" (a folder of IDX files), "csv:FILE" (a CSV file), ` +
  `"folder:DIR" (an image folder), "npz:FILE" (NumPy arrays) or "npy:X.npy,Y.npy"`;

/** `--data`: `mnist`, `idx:DIR`, `csv:FILE`, `folder:DIR`, `npz:FILE` or `npy:X,Y`. */
export function dataSpecArg(value: string): string {
  return specArg("--data", value);
}

function specArg(option: string, value: string): string {
  if (
    value === "mnist" || /^(idx|csv|folder|npz):./.test(value) || /^npy:[^,]+,[^,]+$/.test(value)
  ) {
    return value;
  }
  throw new InvalidArgumentError(`${option} must be ${DATA_FORMS}, got "${value}".`);
}

/** `--image-size WxH`. */
function imageSizeArg(value: string): string {
  try {
    parseImageSize(value);
  } catch (error) {
    throw new InvalidArgumentError(
      (error as Error).message.replace("Invalid image size", "--image-size"),
    );
  }
  return value;
}

/** Data options shared by every command that reads data. */
export function withDataOptions(cmd: Command) {
  return cmd
    .option(
      "--data <spec>",
      'data set: "mnist", "idx:DIR" (IDX files), "csv:FILE", "folder:DIR" (DIR/<class>/*.png|jpg, or DIR/train/<class>/... with optional val/ and test/), "npz:FILE" (x_train, y_train, x_test, y_test) or "npy:X.npy,Y.npy"',
      dataSpecArg,
      "mnist",
    )
    .option(
      "--test-data <spec>",
      "a separate test set (any --data form) instead of the test split of --data",
      (value: string) => specArg("--test-data", value),
    )
    .option(
      "--image-size <WxH>",
      "image folders: resize every image to this size (default: the most common size)",
      imageSizeArg,
    )
    .option(
      "--channels <n>",
      "image folders: 1 (gray) or 3 (RGB) (default: 3 when some image has colour)",
      choiceArg("--channels", ["1", "3"] as const),
    )
    .option(
      "--label-column <col>",
      "CSV: the label column, by name or 0-based index (default: last)",
    )
    .option(
      "--task <task>",
      "CSV, npy, npz: classification or regression (default auto: labels that are numbers, not all whole, are a regression target)",
      choiceArg("--task", ["auto", "classification", "regression"] as const),
    )
    .option(
      "--classes <k>",
      "the number of classes K: a label outside 0..K-1 is an error (default: the largest label + 1)",
      intArg("--classes", 1, 65536),
    )
    .option(
      "--limit <n>",
      "use only the first N samples of each split (quick runs)",
      intArg("--limit", 1),
    );
}

/** Adds the tree's hyper-parameters and training options, with the seed's defaults. */
export function withTreeOptions(cmd: Command) {
  return withDataOptions(cmd)
    .option("--depth <n>", "tree depth D (2^D leaves)", intArg("--depth", 1, 16), 4)
    .option(
      "--penalty-strength <x>",
      "strength of the balance penalty",
      numArg("--penalty-strength", { min: 0 }),
      10,
    )
    .option(
      "--penalty-decay <x>",
      "penalty factor per level of depth",
      numArg("--penalty-decay", { min: 0 }),
      0.25,
    )
    .option(
      "--ema-window <n>",
      "penalty moving-average window in samples at the root",
      numArg("--ema-window", { min: 0, exclusiveMin: true }),
      1000,
    )
    .option(
      "--inv-temp <x>",
      "inverse temperature beta of the inner nodes; 0 learns it (as the seed)",
      numArg("--inv-temp", { min: 0 }),
      0.01,
    )
    .option("--learn-beta", "learn beta as one scalar, starting from --inv-temp")
    .option(
      "--learning-rate <x>",
      "Adam's learning rate",
      numArg("--learning-rate", { min: 0, exclusiveMin: true }),
      5e-3,
    )
    .option(
      "--beta-to <x>",
      "anneal the fixed beta geometrically from --inv-temp to this value over the epochs",
      numArg("--beta-to", { min: 0, exclusiveMin: true }),
    )
    .option("--batch-size <n>", "samples per optimizer step", intArg("--batch-size", 1), 4)
    .option("--epochs <n>", "epochs at most", intArg("--epochs", 1), 40)
    .option(
      "--patience <n>",
      "stop after N epochs without a better validation accuracy (0: never)",
      intArg("--patience", 0),
      20,
    )
    .option(
      "--loss <kind>",
      'per-sample loss: "expected" or "mixture"',
      choiceArg("--loss", ["expected", "mixture"] as const),
      "expected" as const,
    )
    .option(
      "--schedule <kind>",
      'learning-rate schedule: "constant" or "cosine"',
      choiceArg("--schedule", ["constant", "cosine"] as const),
      "constant" as const,
    )
    .option(
      "--restarts <n>",
      "train N candidate trees from different starts for --restart-epochs, then go on with the one best on validation",
      intArg("--restarts", 1),
      4,
    )
    .option(
      "--restart-epochs <n>",
      "epochs each candidate trains before the best is chosen",
      intArg("--restart-epochs", 1),
      10,
    )
    .option("--seed <n>", "seed of initialisation and shuffling", intArg("--seed", 0), 0)
    .option(
      "--backend <name>",
      "auto, cuda, native or tfjs",
      choiceArg("--backend", BACKEND_CHOICES),
      "auto" as BackendChoice,
    )
    .option("--out <dir>", "run directory (default: runs/<command>-d<depth>-s<seed>)")
    .option("--retrain", "train even if the run directory already holds a tree")
    .option(
      "--resume",
      "continue the interrupted run in --out with the options it was started with",
    )
    .option("--no-pictures", "do not draw tree.png and curves.png into the run directory")
    .option(
      "--animate",
      "snapshot the tree during training and write training.gif into the run directory",
    )
    .option(
      "--augment <copies>",
      "add this many randomly moved copies of each training image (distill: labelled by the teacher; train: with the image's label)",
      intArg("--augment", 0, 100),
      0,
    )
    .option(
      "--augment-rotate <degrees>",
      "largest rotation of a copy",
      numArg("--augment-rotate", { min: 0, max: 180 }),
      10,
    )
    .option(
      "--augment-scale <s>",
      "largest relative change of scale of a copy",
      numArg("--augment-scale", { min: 0, max: 0.9 }),
      0.1,
    )
    .option(
      "--augment-shift <pixels>",
      "largest shift of a copy along each axis",
      numArg("--augment-shift", { min: 0 }),
      2,
    )
    .option(
      "--augment-elastic <alpha>",
      "strength of an elastic distortion of each copy (Simard et al. 2003; 0: none)",
      numArg("--augment-elastic", { min: 0 }),
      0,
    )
    .option(
      "--augment-recenter",
      "move each copy so that its centre of mass is the original's (MNIST centres digits by mass)",
    )
    .option(
      "--refit-leaves",
      "after training, refit each leaf to the images it wins (max-leaf), kept only if validation accuracy rises",
    )
    .option("--recipe <name>", RECIPE_HELP, recipeArg)
    .addOption(jsonOption())
    .addOption(quietOption());
}

/** The options `withTreeOptions` parses. */
export type TreeCliOptions = ReturnType<ReturnType<typeof withTreeOptions>["opts"]>;

/** The tree configuration from parsed options. */
export function treeConfigFrom(o: TreeCliOptions): Partial<TreeConfig> {
  const learn = Boolean(o.learnBeta) || o.invTemp === 0;
  return {
    depth: o.depth,
    penaltyStrength: o.penaltyStrength,
    penaltyDecay: o.penaltyDecay,
    emaWindow: o.emaWindow,
    invTemp: o.invTemp === 0 ? 1 : o.invTemp,
    learnBeta: learn,
    learningRate: o.learningRate,
    loss: o.loss,
  };
}

/**
 * Load the data named by the options, showing what was loaded and warning (on stderr, even
 * with `--quiet`) about classes without training samples.
 */
export async function loadDataFrom(
  o: {
    data: string;
    testData?: string;
    imageSize?: string;
    channels?: "1" | "3";
    labelColumn?: string;
    task?: DataTask;
    limit?: number;
    seed?: number;
    classes?: number;
  },
  quiet: boolean,
): Promise<LoadedSplits> {
  const t0 = performance.now();
  const lc = o.labelColumn;
  const splits = await loadData(o.data, {
    testData: o.testData,
    imageSize: o.imageSize,
    channels: o.channels === undefined ? undefined : o.channels === "3" ? 3 : 1,
    labelColumn: lc === undefined ? undefined : /^\d+$/.test(lc) ? Number(lc) : lc,
    task: o.task,
    seed: o.seed,
    classes: o.classes,
    limit: o.limit ? { train: o.limit, val: o.limit, test: o.limit } : undefined,
  });
  info(
    `data: ${o.data}${
      o.testData ? ` (test: ${o.testData})` : ""
    } — ${splits.train.n} train, ${splits.val.n} val, ${splits.test.n} test, ${splits.train.features} features${
      splits.train.imageShape ? ` (${splits.train.imageShape.join("x")} images)` : ""
    }, ${
      splits.train.values
        ? `regression target "${splits.train.classNames?.[0] ?? "value"}"`
        : `${splits.train.classes} classes`
    } (${((performance.now() - t0) / 1000).toFixed(1)}s)`,
    quiet,
  );
  for (const line of splits.labels.warnings) console.error(`warning: ${line}`);
  const names = splits.train.classNames ?? [];
  if (
    !splits.train.values && o.data.startsWith("csv:") && names.length > 50 &&
    names.every((n) => /^[+-]?\d+$/.test(n))
  ) {
    console.error(
      `warning: the label column holds ${names.length} different whole numbers, taken as ` +
        `classes; if it is a quantity, pass --task regression`,
    );
  }
  return splits;
}

/** What `--json` reports about the labels: samples per class and split, missing classes. */
export function labelsJson(report: LabelReport): Record<string, unknown> {
  return {
    classes: report.classes,
    names: report.names,
    counts: report.counts,
    missing_in_train: report.missingInTrain,
    warnings: report.warnings,
  };
}

/** A score for people: a percentage, or R² to three decimals for a regression tree. */
export function scoreText(score: number, regression: boolean): string {
  return regression ? `R² ${score.toFixed(3)}` : percent(score);
}

/**
 * Both prediction modes' scores on a split for people: `"96.47% (max-leaf), 97.06%
 * (mixture)"`, or for a regression tree R², RMSE and MAE of each.
 */
export function evalText(r: EvalResult): string {
  const g = r.regression;
  if (!g) return `${percent(r.accuracy)} (max-leaf), ${percent(r.accuracyMixture)} (mixture)`;
  return `${metricsText(g.maxLeaf)} (max-leaf); ${metricsText(g.mixture)} (mixture)`;
}

/** Regression scores for people: `"R² 0.388, RMSE 60.25, MAE 48.03"`. */
export function metricsText(m: RegressionMetrics): string {
  return `R² ${m.r2.toFixed(3)}, RMSE ${m.rmse.toPrecision(4)}, MAE ${m.mae.toPrecision(4)}`;
}

/**
 * A split's scores as `--json` fields: `<split>_accuracy` and `_mixture`, or for a regression
 * tree `<split>_r2`, `_rmse`, `_mae` and their `_mixture` variants; with `split` empty, the
 * names alone (`accuracy`, `r2`, ...).
 */
export function evalJson(split: string, r: EvalResult): Record<string, number> {
  const key = (name: string) => (split ? `${split}_${name}` : name);
  const g = r.regression;
  if (!g) return { [key("accuracy")]: r.accuracy, [key("accuracy_mixture")]: r.accuracyMixture };
  return {
    [key("r2")]: g.maxLeaf.r2,
    [key("rmse")]: g.maxLeaf.rmse,
    [key("mae")]: g.maxLeaf.mae,
    [key("r2_mixture")]: g.mixture.r2,
    [key("rmse_mixture")]: g.mixture.rmse,
    [key("mae_mixture")]: g.mixture.mae,
  };
}

/** Fit options with progress drawn on stderr; `regression` shows R² instead of accuracy. */
export function fitOptionsFrom(o: TreeCliOptions, label: string, regression = false): FitOptions {
  const bar = new ProgressBar(label, Boolean(o.quiet));
  const score = (v: number) => scoreText(v, regression);
  return {
    epochs: o.epochs,
    batchSize: o.batchSize,
    patience: o.patience,
    schedule: o.schedule,
    betaTo: o.betaTo,
    seed: o.seed,
    restarts: o.restarts,
    restartEpochs: o.restartEpochs,
    onCandidate: (e) =>
      bar.line(
        e.valAccuracy === undefined
          ? `candidate ${e.index + 1} of ${e.count} (seed ${o.seed + e.index})`
          : `candidate ${e.index + 1} of ${e.count}: best val ${score(e.valAccuracy)}`,
      ),
    onBatch: (p) =>
      bar.update(p.epoch, p.epochs, p.samplesDone, p.samplesTotal, {
        loss: p.loss.toFixed(4),
        "samples/s": Math.round(p.samplesPerSecond).toString(),
      }),
    onEpoch: (r) =>
      bar.line(
        `epoch ${r.epoch}: loss ${r.trainLoss.toFixed(4)}  penalty ${r.penalty.toFixed(4)}  train ${
          score(r.trainAccuracy)
        }  val ${score(r.valAccuracy)} (mixture ${score(r.valAccuracyMixture)})  ${
          Math.round(r.samplesPerSecond)
        } samples/s  ${formatDuration(r.seconds)}`,
      ),
  };
}

/** What `trainOrLoad` needs from the tree options, shared by `train` and `distill`. */
export function runOptionsFrom(
  o: TreeCliOptions,
  command: string,
  out: string,
  fit: FitOptions,
): RunOptions {
  return {
    out,
    config: treeConfigFrom(o),
    fit,
    backend: o.backend,
    seed: o.seed,
    retrain: Boolean(o.retrain),
    refitLeaves: Boolean(o.refitLeaves),
    resume: Boolean(o.resume),
    onBackend: (note) => info(note, Boolean(o.quiet)),
    onBuild: buildProgress(Boolean(o.quiet)),
    onNote: (line) => info(line, Boolean(o.quiet)),
    meta: {
      command: [command, ...Deno.args.slice(1)].join(" "),
      data: o.data,
      ...(o.testData ? { test_data: o.testData } : {}),
      ...(o.labelColumn !== undefined ? { label_column: o.labelColumn } : {}),
      [OPTIONS_KEY]: o,
    },
  };
}

/** The JSON fields every tree run reports (accuracies are fractions in [0, 1]). */
export function runSummary(r: RunResult, out: string): Record<string, unknown> {
  return {
    backend: r.tree.backend,
    depth: r.tree.config.depth,
    loaded: r.loaded,
    resumed: r.resumed,
    task: r.tree.isRegression ? "regression" : "classification",
    ...evalJson("val", r.val),
    ...evalJson("test", r.test),
    train_samples: r.trainSamples,
    epochs_run: r.fit?.epochsRun ?? 0,
    best_epoch: r.fit?.bestEpoch ?? null,
    stopped_early: r.fit?.stoppedEarly ?? false,
    [r.tree.isRegression ? "candidates_val_r2" : "candidates_val_accuracy"]: r.fit?.candidates ??
      [],
    chosen_candidate: r.fit?.chosenCandidate ?? 0,
    refit_leaves: r.refit
      ? {
        kept: r.refit.kept,
        changed_leaves: r.refit.changedLeaves,
        val_before: r.refit.valBefore,
        val_after: r.refit.valAfter,
      }
      : undefined,
    seconds: r.fit?.seconds ?? 0,
    samples_per_second: r.fit?.samplesPerSecond ?? 0,
    out,
    checkpoint: r.checkpoint,
  };
}

/** Print a run's results for people (stderr) unless quiet. */
export function printRunResult(r: RunResult, what: string, quiet: boolean): void {
  info(
    `${what}: ${r.loaded ? "loaded" : "trained"} depth-${r.tree.config.depth} tree — test ${
      evalText(r.test)
    }; val ${scoreText(r.val.accuracy, r.tree.isRegression)}${
      r.fit ? `; ${r.fit.epochsRun} epochs in ${formatDuration(r.fit.seconds)}` : ""
    }${
      r.fit && r.fit.candidates.length > 1
        ? ` (kept candidate ${r.fit.chosenCandidate + 1} of ${r.fit.candidates.length})`
        : ""
    }`,
    quiet,
  );
  if (r.refit) {
    const f = r.refit;
    info(
      `${what}: refitting the leaves changed ${
        r.tree.isRegression ? "the value" : "the class"
      } of ${f.changedLeaves} leaves; val ${scoreText(f.valBefore, r.tree.isRegression)} -> ${
        scoreText(f.valAfter, r.tree.isRegression)
      }, ${f.kept ? "kept" : "undone"}`,
      quiet,
    );
  }
}

/**
 * Attach a training animation to fit options when `--animate` is given: snapshots before
 * training, every 2,000 samples up to 20,000, then after each epoch.
 */
export function withAnimation(
  o: TreeCliOptions,
  fit: FitOptions,
  splits: Splits,
): TrainingAnimation | null {
  if (!o.animate) return null;
  const config = {
    ...DEFAULT_TREE_CONFIG,
    ...treeConfigFrom(o),
    features: splits.train.features,
    classes: splits.train.classes,
  };
  const anim = new TrainingAnimation(config, dataInfo(splits.train));
  const schedule = snapshotSchedule({ every: 2000, until: 20000 });
  fit.snapshotAt = Array.from({ length: 11 }, (_, i) => i * 2000);
  fit.onSnapshot = (params, seen) => {
    if (seen === 0 || schedule.atBatch(seen) || schedule.atEpoch(seen)) anim.addFrame(params, seen);
  };
  return anim;
}

/** Draw a run's pictures into its directory: tree.png, curves.png, and training.gif if animated. */
export async function writeRunPictures(
  o: TreeCliOptions,
  r: RunResult,
  out: string,
  anim: TrainingAnimation | null,
  title: string,
): Promise<void> {
  const quiet = Boolean(o.quiet);
  const file = (name: string) => inDir(out, name);
  if (o.pictures !== false) {
    await writeTreePicture(file("tree.png"), {
      config: r.tree.config,
      params: r.tree.params(),
      data: r.tree.data,
    }, {
      title: `${title}: depth ${r.tree.config.depth}, test ${
        r.tree.isRegression
          ? `R² ${r.test.accuracy.toFixed(3)}`
          : `accuracy ${(r.test.accuracy * 100).toFixed(2)}%`
      }`,
    });
    if (r.fit) {
      await writeLearningCurves(file("curves.png"), r.fit.history, {
        title,
        score: r.tree.isRegression ? "r2" : "accuracy",
      });
    }
    info(`drew ${file("tree.png")}${r.fit ? ` and ${file("curves.png")}` : ""}`, quiet);
  }
  if (anim && anim.frameCount > 0) {
    info(`rendering ${anim.frameCount} animation frames...`, quiet);

    await writeFileAtomic(file("training.gif"), await anim.toGif());
    info(`wrote ${file("training.gif")} (${anim.frameCount} frames)`, quiet);
  }
}

/** `softtree train`. */
export function trainCommand() {
  return withTreeOptions(new Command("train"))
    .description(
      "Train a soft decision tree on hard labels, evaluate it and save it in a run directory.",
    )
    .action(async (parsed, cmd) => {
      const given = applyRecipe(cmd, parsed);
      const out = given.out ?? `runs/train-d${given.depth}-s${given.seed}`;
      const o = given.resume
        ? resumedOptions(cmd, given, await recordedTreeOptions([out]), out)
        : given;
      const quiet = Boolean(o.quiet);
      const stops = new StopSignals(quiet);
      stops.folders.push(out);
      try {
        const loaded = await loadDataFrom(o, quiet);
        const augmentBar = new ProgressBar("augmenting", quiet);
        const splits = withAugmentedTraining(
          loaded,
          o,
          o.seed,
          (done, total) => augmentBar.update(1, 1, done, total, {}),
        );
        if (splits !== loaded) {
          info(`augmented: ${splits.train.n} training images (${o.augment} copies each)`, quiet);
        }
        const fit = {
          ...fitOptionsFrom(o, "tree", Boolean(splits.train.values)),
          signal: stops.signal,
        };
        const anim = withAnimation(o, fit, splits);
        const result = await trainOrLoad(splits, {
          ...runOptionsFrom(o, "train", out, fit),
          onTraining: (t) => stops.training = t,
        }).catch(async (e) => {
          if (e instanceof TrainingInterruptedError) {
            await reportInterrupted(e, o, "Trained on labels");
          }
          throw e;
        });
        if (result.loaded) {
          info(`loaded the tree in ${out} (use --retrain to train a new one)`, quiet);
        }
        printRunResult(result, "train", quiet);
        if (!result.loaded) await writeRunPictures(o, result, out, anim, "Trained on labels");
        info(`wrote ${out}/`, quiet || result.loaded);
        if (o.json) {
          printJson({
            command: "train",
            ...runSummary(result, out),
            labels: labelsJson(splits.labels),
          });
        }
        result.tree.dispose();
      } finally {
        stops.dispose();
      }
    });
}

/** `softtree eval`. */
export function evalCommand() {
  return withDataOptions(new Command("eval"))
    .description("Evaluate a saved tree on a split of its data set.")
    .addOption(modelOption())
    .option(
      "--split <name>",
      "train, val or test",
      choiceArg("--split", ["train", "val", "test"] as const),
      "test" as const,
    )
    .option(
      "--backend <name>",
      "auto, cuda, native or tfjs",
      choiceArg("--backend", BACKEND_CHOICES),
      "auto" as BackendChoice,
    )
    .option("--importances <file>", "write the feature importances as a bar chart (.svg or .png)")
    .addOption(jsonOption())
    .addOption(quietOption())
    .action(async (o, cmd) => {
      const quiet = Boolean(o.quiet);
      if (o.importances !== undefined) pictureArg("--importances", o.importances);
      const ckpt = await loadTreeCheckpoint(o.model);
      // The data of the checkpoint unless --data was given explicitly.
      const own = cmd.getOptionValueSource("data") === "default";
      const spec = own ? ckpt.data.source : o.data;
      // The tree's image size and channels, and its test set, unless given.
      const trained = trainedShapeOptions(ckpt.data, own ? ckpt.meta : {});
      const size = trained.imageSize;
      const splits = await loadDataFrom({
        ...o,
        data: spec,
        task: o.task ?? trained.task,
        seed: trained.seed,
        labelColumn: o.labelColumn ??
          (trained.labelColumn === undefined ? undefined : String(trained.labelColumn)),
        testData: o.testData ?? trained.testData,
        imageSize: o.imageSize ?? (size ? `${size.width}x${size.height}` : undefined),
        channels: o.channels ??
          (trained.channels ? String(trained.channels) as "1" | "3" : undefined),
      }, quiet);
      const tree = await SoftDecisionTree.fromCheckpoint(ckpt, {
        backend: o.backend,
        onBuild: buildProgress(quiet),
      });
      info(tree.backendNote, quiet);
      const ds = splits[o.split];
      const r = tree.evaluate(ds);
      info(
        `eval: ${o.split} ${r.regression ? "" : "accuracy "}${evalText(r)} on ${ds.n} samples`,
        quiet,
      );
      const features = await featureReport(ckpt, ds, o.split, {
        quiet,
        picture: o.importances,
        forward: (x) => tree.forward(x),
      });
      if (o.json) {
        printJson({
          command: "eval",
          backend: tree.backend,
          split: o.split,
          samples: ds.n,
          task: tree.isRegression ? "regression" : "classification",
          ...evalJson("", r),
          ...evalJson(o.split, r),
          ...features,
        });
      }
      tree.dispose();
    });
}
