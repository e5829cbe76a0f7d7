/**
 * `softtree teacher train` and `softtree teacher eval`: the ConvNet teacher that `distill`
 * takes its soft labels from.
 *
 * @module
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { loadTeacher } from "../lib/teacher/io.ts";
import { SEED_TEACHER } from "../lib/teacher/model.ts";
import {
  type AnyTeacher,
  TEACHER_CHANNELS,
  TEACHER_LAYOUTS,
  TEACHER_OUTPUTS,
  type TeacherInputOptions,
  teacherRecord,
} from "../lib/teacher/any.ts";
import { openTeacher, teacherFileKind } from "../lib/teacher/open.ts";
import { openSoftLabelsTeacher } from "../lib/teacher/file_labels.ts";
import { teacherSplitAccuracy } from "../lib/teacher/panel.ts";
import { regressionMetrics } from "../lib/tree/regression.ts";
import { loadTeacherState, TEACHER_STATE_FILE } from "../lib/teacher/train_state.ts";
import { trainTeacherRun } from "../lib/teacher/train_run.ts";
import { CheckpointError, DatasetError, TrainingInterruptedError } from "../lib/errors.ts";
import {
  prepareTeacherKernels,
  TEACHER_KERNEL_CHOICES,
  type TeacherKernels,
} from "../lib/teacher/kernels_select.ts";
import { choiceArg, intArg, numArg, printJson } from "./common.ts";
import {
  aliased,
  jsonOption,
  kernelsAliasOption,
  quietOption,
  teacherKernelsOption,
} from "./options.ts";
import { OPTIONS_KEY, reportInterrupted, resumedOptions, StopSignals } from "./interrupt.ts";
import { buildProgress, formatDuration, info, percent, ProgressBar } from "./progress.ts";
import { labelsJson, loadDataFrom, metricsText, withDataOptions } from "./train.ts";

/** Where `teacher train` writes when `--out` is absent (the shipped teacher is elsewhere). */
export const DEFAULT_TEACHER_OUT = "runs/teacher";
/** The shipped, pretrained teacher. */
export const SHIPPED_TEACHER = "assets/teacher";

/** Parses `--filters "32,64"`: two positive integers. */
function filtersArg(value: string): [number, number] {
  const parts = value.split(",").map((s) => s.trim());
  const one = intArg("--filters", 1, 4096);
  if (parts.length !== 2) {
    throw new InvalidArgumentError(
      `--filters must be two whole numbers separated by a comma, like "32,64", got "${value}".`,
    );
  }
  return [one(parts[0]), one(parts[1])];
}

/** Chooses the teacher's kernels (building the native library on first use) and says which. */
async function chooseKernels(
  kernels: (typeof TEACHER_KERNEL_CHOICES)[number] | undefined,
  quiet: boolean,
): Promise<TeacherKernels> {
  const chosen = await prepareTeacherKernels({ kernels, onBuild: buildProgress(quiet) });
  info(`teacher: ${chosen.description}`, quiet);
  return chosen;
}

/** Parses `--teacher-mean 0.485,0.456,0.406`: numbers separated by commas. */
function numberListArg(what: string) {
  return (value: string): number[] => {
    const parts = value.split(",").map((p) => p.trim());
    const out = parts.map(Number);
    if (parts.some((p) => p === "") || out.some((v) => !Number.isFinite(v))) {
      throw new InvalidArgumentError(
        `${what} must be numbers separated by commas, like "0.5" or "0.485,0.456,0.406", got "${value}".`,
      );
    }
    return out;
  };
}

/**
 * The options that describe an ONNX or TensorFlow.js teacher's inputs and outputs, and
 * `--soft-labels`, for `.addOption` (shared by `distill` and `teacher eval`).
 */
export const teacherInputOptions = {
  scale: () =>
    new Option(
      "--teacher-scale <s>",
      "multiply softtree's [0, 1] pixels (or a CSV's own values) by S before --teacher-mean/--teacher-std, e.g. 255 for a model trained on raw bytes (ONNX and TF.js teachers)",
    ).argParser(numArg("--teacher-scale")),
  mean: () =>
    new Option(
      "--teacher-mean <m>",
      "torchvision Normalize's mean: one value or one per channel, e.g. 0.5 or 0.485,0.456,0.406",
    ).argParser(numberListArg("--teacher-mean")),
  std: () =>
    new Option("--teacher-std <s>", "torchvision Normalize's std: one value or one per channel")
      .argParser(numberListArg("--teacher-std")),
  channels: () =>
    new Option(
      "--teacher-channels <c>",
      "the colour channels the model was trained on: rgb, bgr or gray (default: its input's channel count)",
    ).argParser(choiceArg("--teacher-channels", TEACHER_CHANNELS)),
  layout: () =>
    new Option(
      "--teacher-layout <l>",
      "the model's input layout: nchw, nhwc or flat (default: from its input shape)",
    ).argParser(choiceArg("--teacher-layout", TEACHER_LAYOUTS)),
  outputs: () =>
    new Option(
      "--teacher-outputs <kind>",
      "what the teacher's output holds: auto (rows non-negative summing to 1 are probabilities), logits or probabilities",
    ).argParser(choiceArg("--teacher-outputs", TEACHER_OUTPUTS)),
  output: () =>
    new Option("--teacher-output <name>", "the output to use, for a model with several"),
  softLabels: () =>
    new Option(
      "--soft-labels <file>",
      "a file of the teacher's outputs instead of --teacher: CSV (header optional) or .npy float32/float64, one row of logits or probabilities per sample of --data, in the data's own order",
    ),
};

/** The teacher input options parsed (see {@linkcode teacherInputOptions}). */
export function teacherInputFrom(o: {
  teacherScale?: number;
  teacherMean?: number[];
  teacherStd?: number[];
  teacherChannels?: (typeof TEACHER_CHANNELS)[number];
  teacherLayout?: (typeof TEACHER_LAYOUTS)[number];
  teacherOutputs?: (typeof TEACHER_OUTPUTS)[number];
  teacherOutput?: string;
}): TeacherInputOptions {
  return {
    scale: o.teacherScale,
    mean: o.teacherMean,
    std: o.teacherStd,
    channels: o.teacherChannels,
    layout: o.teacherLayout,
    outputs: o.teacherOutputs,
    output: o.teacherOutput,
  };
}

/** `softtree teacher train`. */
function teacherTrainCommand() {
  return withDataOptions(new Command("train"))
    .description(
      "Train the ConvNet teacher (the seed's: conv 32, conv 64, pool, dense 128), evaluate it on the test split and save it.",
    )
    .option("--epochs <n>", "passes over the training split", intArg("--epochs", 1), 12)
    .option("--batch-size <n>", "samples per Adam step", intArg("--batch-size", 1), 16)
    .addOption(
      new Option("--filters <f1,f2>", "filters of the two convolutions")
        .argParser(filtersArg)
        .default([...SEED_TEACHER.filters] as [number, number], "32,64"),
    )
    .option("--dense <n>", "units of the hidden dense layer", intArg("--dense", 1), 128)
    .option(
      "--learning-rate <x>",
      "Adam's learning rate",
      numArg("--learning-rate", { min: 0, exclusiveMin: true }),
      1e-3,
    )
    .option(
      "--schedule <kind>",
      'learning-rate schedule: "constant" (the seed) or "cosine" (to 0 over the run)',
      choiceArg("--schedule", ["constant", "cosine"] as const),
      "constant" as const,
    )
    .option("--seed <n>", "seed of initialisation, shuffling and dropout", intArg("--seed", 0), 0)
    .option("--out <dir>", `folder to write model.json and weights.bin to`, DEFAULT_TEACHER_OUT)
    .addOption(teacherKernelsOption())
    .addOption(kernelsAliasOption())
    .option(
      "--resume",
      "continue the interrupted training in --out with the options it was started with",
    )
    .option("--retrain", "start over even if --out holds an interrupted training")
    .addOption(jsonOption())
    .addOption(quietOption())
    .action(async (given, cmd) => {
      const o = given.resume
        ? resumedOptions(
          cmd,
          given,
          (await loadTeacherState(given.out))?.meta[OPTIONS_KEY] as Record<string, unknown> ??
            null,
          given.out,
          TEACHER_STATE_FILE,
        )
        : given;
      const quiet = Boolean(o.quiet);
      const stops = new StopSignals(quiet);
      stops.folders.push(o.out);
      try {
        await teacherTrain(o, quiet, stops);
      } catch (e) {
        if (e instanceof TrainingInterruptedError) {
          await reportInterrupted(e, { pictures: false }, "Teacher");
        }
        throw e;
      } finally {
        stops.dispose();
      }
    });
}

/** The options `teacher train` parses. */
type TeacherTrainOptions = ReturnType<ReturnType<typeof teacherTrainCommand>["opts"]>;

/** What `teacher train` does once its options are known. */
async function teacherTrain(
  o: TeacherTrainOptions,
  quiet: boolean,
  stops: StopSignals,
): Promise<void> {
  const command = ["teacher", "train", ...Deno.args.slice(2)].join(" ");
  const kernels = await chooseKernels(
    aliased(o.teacherKernels, o.kernels, ["--teacher-kernels", "--kernels"]),
    quiet,
  );
  const splits = await loadDataFrom(o, quiet);
  const bar = new ProgressBar("teacher", quiet);
  const logEvery = Deno.stderr.isTerminal() ? Infinity : 60_000;
  let lastLog = performance.now();
  stops.training = true;
  const { teacher, history, backend, seconds, testAccuracy, file } = await trainTeacherRun(splits, {
    out: o.out,
    resume: Boolean(o.resume),
    retrain: Boolean(o.retrain),
    signal: stops.signal,
    meta: { command, [OPTIONS_KEY]: o },
    onNote: (line) => info(line, quiet),
    epochs: o.epochs,
    batchSize: o.batchSize,
    filters: o.filters,
    dense: o.dense,
    learningRate: o.learningRate,
    schedule: o.schedule,
    seed: o.seed,
    onBatch: (b) => {
      const fields = {
        loss: b.loss.toFixed(4),
        "samples/s": b.samplesPerSec.toFixed(0),
      };
      bar.update(b.epoch, o.epochs, b.done, b.total, fields);
      // Logs (not a terminal) get a line a minute, so a long run shows it is alive.
      if (performance.now() - lastLog > logEvery) {
        lastLog = performance.now();
        const left = (b.total - b.done + (o.epochs - b.epoch) * b.total) / b.samplesPerSec;
        bar.line(
          `epoch ${b.epoch}/${o.epochs}: ${b.done}/${b.total}  loss ${fields.loss}  ${
            fields["samples/s"]
          } samples/s  ETA ${formatDuration(left)}`,
        );
      }
    },
    onEpoch: (e) =>
      bar.line(
        `epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)}  val ${percent(e.valAccuracy)}  ${
          e.samplesPerSec.toFixed(0)
        } samples/s  ${formatDuration(e.seconds)}`,
      ),
  });
  stops.training = false;
  info(
    `teacher: test ${percent(testAccuracy)}, val ${
      percent(history.at(-1)!.valAccuracy)
    }; ${history.length} epochs in ${
      formatDuration(seconds)
    } on ${kernels.name} kernels; wrote ${file}`,
    quiet,
  );
  if (o.json) {
    printJson({
      command: "teacher train",
      backend,
      kernels: kernels.description,
      test_accuracy: testAccuracy,
      val_accuracy: history.at(-1)!.valAccuracy,
      epochs: history.length,
      seconds,
      samples_per_second: splits.train.n * history.length / seconds,
      history: history.map((h) => ({
        epoch: h.epoch,
        loss: h.loss,
        val_accuracy: h.valAccuracy,
        samples_per_second: h.samplesPerSec,
      })),
      seed: o.seed,
      out: o.out,
      model: file,
      labels: labelsJson(splits.labels),
    });
  }
  teacher.dispose();
}

/** `softtree teacher eval`. */
function teacherEvalCommand() {
  return withDataOptions(new Command("eval"))
    .addOption(teacherInputOptions.scale())
    .addOption(teacherInputOptions.mean())
    .addOption(teacherInputOptions.std())
    .addOption(teacherInputOptions.channels())
    .addOption(teacherInputOptions.layout())
    .addOption(teacherInputOptions.outputs())
    .addOption(teacherInputOptions.output())
    .addOption(teacherInputOptions.softLabels())
    .description(
      "Evaluate a teacher (softtree's ConvNet, an ONNX model, a TensorFlow.js model, or a file of its outputs) on a split of the data: the first check that its preprocessing is right.",
    )
    .option(
      "--teacher <path>",
      "the teacher: an .onnx file, a TensorFlow.js model.json (or its folder), or a softtree teacher folder",
    )
    .option("--model <path>", "the same as --teacher (softtree's teacher folders)", SHIPPED_TEACHER)
    .option(
      "--split <name>",
      "train, val or test",
      choiceArg("--split", ["train", "val", "test"] as const),
      "test" as const,
    )
    .addOption(teacherKernelsOption())
    .addOption(kernelsAliasOption())
    .addOption(jsonOption())
    .addOption(quietOption())
    .action(async (o, cmd) => {
      const quiet = Boolean(o.quiet);
      const path = o.teacher ?? o.model;
      const input = teacherInputFrom(o);
      let teacher: AnyTeacher | null = null;
      try {
        let spec = o.data;
        let kernels: TeacherKernels | null = null;
        if (!o.softLabels) {
          const { kind, file } = await teacherFileKind(path);
          if (kind === "softtree") {
            // Load (and check) the teacher before the slower data load, so a bad path fails fast.
            const own = await loadTeacher(path);
            if (cmd.getOptionValueSource("data") === "default") {
              spec = String(own.meta.source ?? o.data);
            }
            own.dispose();
            kernels = await chooseKernels(
              aliased(o.teacherKernels, o.kernels, ["--teacher-kernels", "--kernels"]),
              quiet,
            );
          } else if (kind === "missing") {
            throw new CheckpointError(`Cannot load teacher "${file}": no such file`);
          }
        }
        const splits = await loadDataFrom({ ...o, data: spec }, quiet);
        const ds = splits[o.split];
        teacher = o.softLabels
          ? await openSoftLabelsTeacher(o.softLabels, splits, { outputs: input.outputs })
          : await openTeacher(path, splits.train, input);
        const bar = new ProgressBar("teacher", quiet);
        const t0 = performance.now();
        const { accuracy, values } = await teacherSplitAccuracy([teacher], ds, splits.train, {
          onProgress: (done, total) => bar.update(1, 1, done, total, {}),
        });
        const seconds = (performance.now() - t0) / 1000;
        if (Number.isNaN(accuracy) && ds.n > 0) {
          throw new DatasetError(
            `The soft-labels file "${o.softLabels}" holds no rows for the ${o.split} split ` +
              `("${ds.source}" is not "${splits.train.source}")`,
          );
        }
        // Described after the run: a model's outputs (logits or probabilities) are known by then.
        info(`teacher: ${teacher.describe()}`, quiet);
        // A regression teacher (one output on regression data) is scored by R², RMSE and MAE.
        const reg = values && ds.values ? regressionMetrics(values, ds.values) : null;
        info(
          `teacher: ${o.split} ${
            reg ? metricsText(reg) : `accuracy ${percent(accuracy)}`
          } on ${ds.n} samples`,
          quiet,
        );
        if (o.json) {
          printJson({
            command: "teacher eval",
            model: teacher.file,
            teacher: teacherRecord(teacher),
            data: ds.source,
            split: o.split,
            samples: ds.n,
            ...(reg
              ? {
                task: "regression",
                r2: reg.r2,
                rmse: reg.rmse,
                mae: reg.mae,
                [`${o.split}_r2`]: reg.r2,
                [`${o.split}_rmse`]: reg.rmse,
                [`${o.split}_mae`]: reg.mae,
              }
              : { accuracy, [`${o.split}_accuracy`]: accuracy }),
            seconds,
            samples_per_second: ds.n / seconds,
            kernels: kernels?.description,
          });
        }
      } finally {
        teacher?.dispose();
      }
    });
}

/** `softtree teacher` with its subcommands. */
export function teacherCommand() {
  return new Command("teacher")
    .description(
      "Train softtree's ConvNet teacher, or evaluate any teacher (ConvNet, ONNX, TensorFlow.js, outputs file).",
    )
    .addCommand(teacherTrainCommand())
    .addCommand(teacherEvalCommand());
}
