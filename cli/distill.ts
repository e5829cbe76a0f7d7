/**
 * `softtree distill`: the main job — teacher, soft labels, tree, metrics and pictures.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { distill } from "../lib/train/distill.ts";
import { loadUnlabeled } from "../lib/data/unlabeled.ts";
import { assetPath } from "../lib/io/assets.ts";
import { cacheDirOption, teacherKernelsOption } from "./options.ts";
import { intArg, numArg, printJson, UsageError } from "./common.ts";
import { applyRecipe, augmentOptionsFrom } from "./augment.ts";
import { prepareTeacherKernels } from "../lib/teacher/kernels_select.ts";
import { buildProgress, formatDuration, info, percent, ProgressBar } from "./progress.ts";
import { TrainingInterruptedError } from "../lib/errors.ts";
import { describePreprocessing } from "../lib/teacher/any.ts";
import { teacherInputFrom, teacherInputOptions } from "./teacher.ts";
import {
  recordedTreeOptions,
  reportInterrupted,
  resumedOptions,
  StopSignals,
} from "./interrupt.ts";
import {
  fitOptionsFrom,
  labelsJson,
  loadDataFrom,
  printRunResult,
  runOptionsFrom,
  runSummary,
  scoreText,
  withAnimation,
  withTreeOptions,
  writeRunPictures,
} from "./train.ts";

/** `softtree distill`. */
export function distillCommand() {
  return withTreeOptions(new Command("distill"))
    .description(
      "Distill a teacher network into a soft decision tree: load the teacher (an ONNX model, a TensorFlow.js model, softtree's ConvNet, trained when missing, or a file of its outputs), take its soft labels on the training split, train the tree on them, and report accuracy and fidelity.",
    )
    .option(
      "--teacher <path>",
      "the teacher: an .onnx file, a TensorFlow.js model.json (or its folder), or a softtree teacher folder (trained there when missing); several separated by commas make an ensemble (their logits averaged) (default: the shipped assets/teacher for MNIST, <out>/teacher otherwise)",
    )
    .addOption(teacherInputOptions.scale())
    .addOption(teacherInputOptions.mean())
    .addOption(teacherInputOptions.std())
    .addOption(teacherInputOptions.channels())
    .addOption(teacherInputOptions.layout())
    .addOption(teacherInputOptions.outputs())
    .addOption(teacherInputOptions.output())
    .addOption(teacherInputOptions.softLabels())
    .option(
      "--cross-fit <k>",
      "label with K teachers instead of one, each trained without one fold of the training split: every image is labelled by a teacher that never saw it",
      intArg("--cross-fit", 2, 50),
    )
    .option(
      "--cross-fit-dir <dir>",
      "where the cross-fitted teachers are kept (default: <cache-dir>/cross-fit/<data>-k<K>)",
    )
    .option(
      "--temperature <t>",
      "soft labels are softmax(logits / t)",
      numArg("--temperature", { min: 0, exclusiveMin: true }),
      1,
    )
    .option(
      "--hard-weight <a>",
      "train on a * hard labels + (1 - a) * soft labels",
      numArg("--hard-weight", { min: 0, max: 1 }),
      0,
    )
    .option(
      "--compare",
      "also train the same tree on the same images with hard labels (in <out>/hard-labels) and " +
        "report both",
    )
    .option(
      "--transfer <spec>",
      "unlabeled data the teacher labels and the tree also trains on: folder:DIR (images, no " +
        "class folders needed), npz:FILE (x or x_train), npy:FILE or csv:FILE (feature columns)",
    )
    .addOption(cacheDirOption())
    .addOption(teacherKernelsOption())
    .option(
      "--teacher-epochs <n>",
      "epochs when a teacher must be trained (batch 32, cosine schedule: the shipped teacher's recipe)",
      intArg("--teacher-epochs", 1),
      6,
    )
    .action(async (parsed, cmd) => {
      const given = applyRecipe(cmd, parsed);
      const out = given.out ?? `runs/distill-d${given.depth}-s${given.seed}`;
      const o = given.resume
        ? resumedOptions(cmd, given, await recordedTreeOptions([out, `${out}/hard-labels`]), out)
        : given;
      const quiet = Boolean(o.quiet);
      const stops = new StopSignals(quiet);
      stops.folders.push(out, `${out}/hard-labels`);
      try {
        await distillAction(o, out, quiet, stops);
      } catch (e) {
        if (e instanceof TrainingInterruptedError) {
          const hard = e.out.endsWith("hard-labels");
          await reportInterrupted(
            e,
            o,
            hard ? "Trained on labels" : `Distilled (T = ${o.temperature})`,
          );
        }
        throw e;
      } finally {
        stops.dispose();
      }
    });
}

/** The options `distill` parses. */
type DistillCliOptions = ReturnType<ReturnType<typeof distillCommand>["opts"]>;

/** What `distill` does once its options are known. */
async function distillAction(
  o: DistillCliOptions,
  out: string,
  quiet: boolean,
  stops: StopSignals,
): Promise<void> {
  const splits = await loadDataFrom(o, quiet);
  const regression = Boolean(splits.train.values);
  const transfer = o.transfer === undefined
    ? undefined
    : await loadUnlabeled(o.transfer, { like: splits.train });
  if (transfer) info(`transfer data: ${transfer.n} unlabeled samples from "${o.transfer}"`, quiet);
  const kernels = await prepareTeacherKernels({
    kernels: o.teacherKernels,
    onBuild: buildProgress(quiet),
  });
  info(`teacher: ${kernels.description}`, quiet);
  const teacherDirs = o.teacher?.split(",").map((d) => d.trim()).filter(Boolean) ??
    [o.data === "mnist" ? assetPath("teacher") ?? "assets/teacher" : `${out}/teacher`];
  if (o.crossFit && o.teacher) {
    throw new UsageError("--cross-fit trains its own teachers: it cannot be used with --teacher");
  }
  if (o.softLabels && (o.teacher || o.crossFit)) {
    throw new UsageError(
      `--soft-labels is the teacher's outputs: it cannot be used with ${
        o.teacher ? "--teacher" : "--cross-fit"
      }`,
    );
  }
  const crossFit = o.crossFit
    ? {
      folds: o.crossFit,
      dir: o.crossFitDir ??
        `${o.cacheDir}/cross-fit/${o.data.replace(/[^A-Za-z0-9._-]+/g, "_")}${
          o.limit ? `-limit${o.limit}` : ""
        }-k${o.crossFit}`,
      onFold: (
        e: { fold: number; folds: number; result?: { loaded: boolean; testAccuracy: number } },
      ) => {
        if (!e.result) return;
        info(
          `cross-fitted teacher ${e.fold + 1} of ${e.folds}: ${
            e.result.loaded ? "loaded" : "trained"
          }; test accuracy ${percent(e.result.testAccuracy)}`,
          quiet,
        );
      },
    }
    : undefined;
  const fit = { ...fitOptionsFrom(o, "tree", regression), signal: stops.signal };
  const anim = withAnimation(o, fit, splits);
  const teacherBar = new ProgressBar("teacher", quiet);
  const labelBar = new ProgressBar("soft labels", quiet);
  const augmentBar = new ProgressBar("augmenting", quiet);
  const teacherInput = teacherInputFrom(o);
  const result = await distill(splits, {
    teacher: teacherDirs,
    teacherInput,
    softLabels: o.softLabels ? { file: o.softLabels, outputs: teacherInput.outputs } : undefined,
    crossFit,
    temperature: o.temperature,
    cacheDir: o.cacheDir,
    compare: Boolean(o.compare),
    transfer,
    augment: augmentOptionsFrom(o, o.seed),
    onAugmentProgress: (done, total) => augmentBar.update(1, 1, done, total, {}),
    hardWeight: o.hardWeight,
    ...runOptionsFrom(o, "distill", out, fit),
    onTraining: (t) => stops.training = t,
    teacherTraining: {
      epochs: o.teacherEpochs,
      onBatch: (b) =>
        teacherBar.update(b.epoch, o.teacherEpochs, b.done, b.total, {
          loss: b.loss.toFixed(4),
          "samples/s": b.samplesPerSec.toFixed(0),
        }),
      onEpoch: (e) =>
        teacherBar.line(
          `epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)}  val ${
            percent(e.valAccuracy)
          }  ${formatDuration(e.seconds)}`,
        ),
    },
    onStage: (stage) => {
      if (stage === "hard") info("training the same tree on hard labels (--compare)", quiet);
    },
    onTeacher: (t) => {
      for (const d of t.descriptions) info(`teacher: ${d}`, quiet);
      const acc = (x: number) =>
        Number.isNaN(x) ? "unknown (no outputs for it)" : scoreText(x, regression);
      const what = regression ? "" : " accuracy";
      info(
        `teacher: ${t.loaded ? "loaded" : "trained and saved"} ${t.file}; validation${what} ${
          acc(t.valAccuracy)
        }, test${what} ${acc(t.testAccuracy)}`,
        quiet,
      );
    },
    onLabelProgress: (done, total) => labelBar.update(1, 1, done, total, {}),
    onCache: (e) =>
      info(`soft labels: ${e.hit ? "cached" : "computed and cached in"} ${e.file}`, quiet),
    onSoftLabels: (s) =>
      info(
        `soft labels at T ${o.temperature}: ${s.samples} images, mean top probability ${
          s.meanTopProbability.toFixed(4)
        }, mean entropy ${s.meanEntropy.toFixed(3)} nats, ${
          percent(s.nearlyOneHot)
        } nearly one-hot (top > 0.99); the teacher agrees with their labels on ${
          percent(s.agreement)
        }`,
        quiet,
      ),
  });
  const d = result.distilled;
  if (d.loaded) info(`loaded the tree in ${out} (use --retrain to train a new one)`, quiet);
  printRunResult(d, "distilled", quiet);
  info(
    Number.isNaN(result.fidelity)
      ? "fidelity to the teacher: unknown (the teacher's outputs do not cover the test split)"
      : `fidelity to the teacher: ${scoreText(result.fidelity, regression)} (max-leaf), ${
        scoreText(result.fidelityMixture, regression)
      } (mixture)${regression ? ", the tree's values against the teacher's" : ""}`,
    quiet,
  );
  if (result.hard) {
    printRunResult(result.hard, "hard labels", quiet);
    const gain = d.test.accuracy - result.hard.test.accuracy;
    info(
      regression
        ? `distillation ${gain >= 0 ? "gained" : "lost"} ${Math.abs(gain).toFixed(3)} of test R²`
        : `distillation ${gain >= 0 ? "gained" : "lost"} ${
          (Math.abs(gain) * 100).toFixed(2)
        } points of test accuracy`,
      quiet,
    );
  }
  if (!d.loaded) await writeRunPictures(o, d, out, anim, `Distilled (T = ${o.temperature})`);
  if (result.hard && !result.hard.loaded && o.pictures !== false) {
    await writeRunPictures(o, result.hard, `${out}/hard-labels`, null, "Trained on labels");
  }
  info(`wrote ${out}/`, quiet);
  if (o.json) {
    printJson({
      command: "distill",
      ...runSummary(d, out),
      ...(regression
        ? { teacher_test_r2: result.teacherTestAccuracy, teacher_val_r2: result.teacherValAccuracy }
        : {
          teacher_test_accuracy: result.teacherTestAccuracy,
          teacher_val_accuracy: result.teacherValAccuracy,
        }),
      teachers: result.teachers.map((t) => ({
        kind: t.kind,
        file: t.file,
        input_shape: t.inputShape,
        classes: t.classes,
        preprocessing: t.preprocessing,
        preprocessing_text: t.preprocessing ? describePreprocessing(t.preprocessing) : null,
      })),
      teacher_loaded: result.teacherLoaded,
      teacher_kernels: kernels.name,
      teacher: result.teacherFile,
      temperature: result.temperature,
      fidelity: result.fidelity,
      fidelity_mixture: result.fidelityMixture,
      soft_labels: result.softLabels
        ? {
          samples: result.softLabels.samples,
          mean_top_probability: result.softLabels.meanTopProbability,
          mean_entropy: result.softLabels.meanEntropy,
          nearly_one_hot: result.softLabels.nearlyOneHot,
          teacher_accuracy: result.softLabels.agreement,
        }
        : undefined,
      teacher_train: result.teacherTrain ?? undefined,
      hard_labels: result.hard ? runSummary(result.hard, `${out}/hard-labels`) : undefined,
      transfer: transfer ? { source: o.transfer, samples: transfer.n } : undefined,
      labels: labelsJson(splits.labels),
    });
  }
  d.tree.dispose();
  result.hard?.tree.dispose();
}
