/**
 * `softtree report`: a run directory as one self-contained, interactive HTML file. Loads the
 * tree, its data (training split for node counts and prototypes, test split for accuracy and
 * the sample), the run's metrics, and for a distilled tree the teacher's test predictions
 * (cached like its soft labels); the page itself is built by `lib/report` from plain data.
 *
 * @module
 */
import { jsonOption, modelOption, quietOption } from "./options.ts";
import { Command } from "@commander-js/extra-typings";
import { dirname } from "node:path";
import { loadData, trainedShapeOptions } from "../lib/data/mod.ts";
import { inDir, writeFileAtomic } from "../lib/io/atomic.ts";
import { loadTreeCheckpoint, resolveCheckpointPath } from "../lib/io/checkpoint.ts";
import { buildReportData, reportHtml } from "../lib/report/mod.ts";
import { argmaxRows, cachedTeacherLogits, loadTeacher } from "../lib/teacher/mod.ts";
import { inputOptionsOf } from "../lib/teacher/any.ts";
import { openTeacher } from "../lib/teacher/open.ts";
import { asAnyTeacher } from "../lib/teacher/softtree_teacher.ts";
import { HintedError, intArg, printJson } from "./common.ts";
import { info, percent } from "./progress.ts";
import { valueText } from "../lib/tree/regression.ts";
import { isRegression } from "../lib/tree/types.ts";

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return null;
  }
}

/** The `report` command. */
export function reportCommand() {
  return new Command("report")
    .description(
      "Write a run as one self-contained, interactive HTML file: the tree (zoom, pan, click a " +
        "node), prototypes, confusion matrices, learning curves, the run's options, and a " +
        "canvas to draw a digit on that the tree answers live (a regression tree: R², RMSE, " +
        "MAE and each leaf's value).",
    )
    .addOption(modelOption())
    .requiredOption("--out <file>", "the HTML file to write")
    .option("--data <spec>", "data set (default: the one the tree was trained on)")
    .option("--label-column <col>", "CSV: the label column, as when training")
    .option("--limit <n>", "use only the first N inputs of each split", intArg("--limit", 1))
    .option(
      "--samples <n>",
      "test inputs to embed for trying",
      intArg("--samples", 1, 1000),
      50,
    )
    .option(
      "--prototypes <n>",
      "training inputs shown per node",
      intArg("--prototypes", 0, 32),
      6,
    )
    .option("--teacher <path>", "a distilled tree's teacher (default: the one the run recorded)")
    .option("--no-teacher", "leave the teacher out (no teacher confusion matrix or fidelity)")
    .option("--cache-dir <dir>", "where teacher logits are cached", ".cache/softtree")
    .option("--seed <n>", "seed of the sample of test inputs", intArg("--seed", 0), 0)
    .addOption(jsonOption())
    .addOption(quietOption())
    .action(async (o) => {
      const quiet = Boolean(o.quiet);
      const tree = await loadTreeCheckpoint(o.model);
      const file = await resolveCheckpointPath(o.model);
      const runDir = dirname(file);
      const metrics = await readJson(inDir(runDir, "metrics.json"));
      const meta = tree.meta;
      const hardLabels = (metrics?.hardLabels as Record<string, unknown> | undefined) ??
        await readJson(inDir(runDir, "hard-labels/metrics.json"));

      const spec = o.data ?? tree.data.source;
      const lc = o.labelColumn;
      const t0 = performance.now();
      const trained = o.data
        ? trainedShapeOptions(tree.data)
        : trainedShapeOptions(tree.data, meta);
      const splits = await loadData(spec, {
        ...trained,
        labelColumn: lc === undefined ? trained.labelColumn : /^\d+$/.test(lc) ? Number(lc) : lc,
        seed: typeof meta.seed === "number" ? meta.seed : 0,
        limit: o.limit ? { train: o.limit, val: o.limit, test: o.limit } : undefined,
      });
      const { train, test } = splits;
      if (test.features !== tree.config.features) {
        throw new HintedError(
          `The data "${spec}" has ${test.features} features, the tree reads ${tree.config.features}`,
          "give --data the data set the tree was trained on",
        );
      }
      info(
        `data: ${spec} — ${train.n} train, ${test.n} test (${
          ((performance.now() - t0) / 1000).toFixed(1)
        }s)`,
        quiet,
      );

      // A distilled tree's teacher: its predictions on the test split.
      const distilled = Boolean(meta.distilled ?? metrics?.teacher);
      const teacherPath = o.teacher === false
        ? undefined
        : typeof o.teacher === "string"
        ? o.teacher
        : (metrics?.teacher ?? meta.teacher) as string | undefined;
      let teacher: { predictions: Int32Array; file: string } | null = null;
      let teacherNote: string | undefined;
      if (isRegression(tree.config) && (distilled || typeof o.teacher === "string")) {
        // A regression teacher's outputs are values: no classes to compare in matrices.
        teacherNote = "A regression tree's fidelity to its teacher (R² of the tree against " +
          "the teacher's outputs) is reported by distill and eval, not in this report.";
      } else if (distilled && o.teacher === false) {
        teacherNote = "The teacher was left out of this report (--no-teacher).";
      } else if (distilled || typeof o.teacher === "string") {
        if (!teacherPath) {
          teacherNote = "The run does not record its teacher; give --teacher to compare with it.";
        } else {
          try {
            // The teacher is opened with the preprocessing the run recorded for it.
            const record = tree.data.teacher?.find((t) => t.file === teacherPath) ??
              (tree.data.teacher?.length === 1 ? tree.data.teacher[0] : undefined);
            const model = record && record.kind !== "softtree"
              ? await openTeacher(teacherPath, train, inputOptionsOf(record))
              : asAnyTeacher(await loadTeacher(teacherPath, test), teacherPath);
            try {
              const logits = await cachedTeacherLogits(model, test.x, {
                cacheDir: o.cacheDir,
                onCache: (e) =>
                  info(
                    `teacher predictions: ${e.hit ? "cached" : "computed and cached in"} ${e.file}`,
                    quiet,
                  ),
              });
              teacher = {
                predictions: argmaxRows(logits, model.classes),
                file: teacherPath,
              };
            } finally {
              model.dispose();
            }
          } catch (error) {
            teacherNote = `The teacher "${teacherPath}" could not be loaded (${
              error instanceof Error ? error.message : error
            }), so its confusion matrix and the fidelity are missing.`;
            info(`warning: ${teacherNote}`, quiet);
          }
        }
      }

      const data = buildReportData(tree, {
        train,
        test,
        metrics,
        meta,
        teacher,
        teacherNote,
        hardLabels,
        samples: o.samples,
        prototypes: o.prototypes,
        seed: o.seed,
      });
      const html = await reportHtml(tree, data);
      await writeFileAtomic(o.out, html);
      const a = data.accuracy;
      const reg = data.regression;
      if (reg) {
        const m = reg.maxLeaf, mix = reg.mixture;
        if (o.json) {
          printJson({
            command: "report",
            out: o.out,
            bytes: new TextEncoder().encode(html).length,
            task: "regression",
            target: reg.target,
            test_samples: a.n,
            scores_from: reg.source,
            test_r2: m?.r2 ?? null,
            test_rmse: m?.rmse ?? null,
            test_mae: m?.mae ?? null,
            test_r2_mixture: mix?.r2 ?? null,
            test_rmse_mixture: mix?.rmse ?? null,
            test_mae_mixture: mix?.mae ?? null,
            samples: data.samples.index.length,
            prototypes: data.prototypes.index.length,
          });
        } else {
          info(
            `wrote ${o.out} (${(html.length / 1024).toFixed(0)} KiB): ` +
              (m
                ? `test R² ${m.r2.toFixed(4)}, RMSE ${valueText(m.rmse)} (max-leaf${
                  reg.source === "recorded" ? ", as recorded when trained" : ""
                })`
                : `no test values to score ${reg.target} against`) +
              ` on ${a.n} inputs`,
            quiet,
          );
        }
        return;
      }
      if (o.json) {
        printJson({
          command: "report",
          out: o.out,
          bytes: new TextEncoder().encode(html).length,
          test_samples: a.n,
          test_accuracy: a.tree,
          test_accuracy_mixture: a.treeMixture,
          teacher_test_accuracy: a.teacher,
          fidelity: a.fidelity,
          samples: data.samples.index.length,
          prototypes: data.prototypes.index.length,
        });
      } else {
        info(
          `wrote ${o.out} (${(html.length / 1024).toFixed(0)} KiB): test ${percent(a.tree!)} ` +
            `(max-leaf) on ${a.n} inputs` +
            (a.fidelity !== null
              ? `, teacher ${percent(a.teacher!)}, fidelity ${percent(a.fidelity)}`
              : ""),
          quiet,
        );
      }
    });
}
