/**
 * `softtree draw`: a trained tree as SVG or PNG, optionally with the decision path of a test
 * image (by index, or a random image of a class), in correlation mode, or as the two-frame
 * GIF of that path (plain, then correlation).
 *
 * @module
 */
import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { loadData, trainedShapeOptions } from "../lib/data/mod.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { decisionPathGif } from "../lib/render/gif.ts";
import { writePicture } from "../lib/render/write.ts";
import { type DrawableTree, treeSvg, type TreeSvgOptions } from "../lib/render/tree_svg.ts";
import { route } from "../lib/tree/inspect.ts";
import { leafValues, valueText } from "../lib/tree/regression.ts";
import { isRegression } from "../lib/tree/types.ts";
import type { TreeCheckpoint } from "../lib/io/types.ts";
import { TreePredictor } from "../lib/use/predict.ts";
import { Rng } from "../lib/util/random.ts";
import { printJson, UsageError } from "./common.ts";
import {
  aliased,
  classOption,
  correlationOption,
  depthLimitOption,
  digitAliasOption,
  indexAliasOption,
  itemOption,
  jsonOption,
  modelOption,
  quietOption,
  scaleOption,
  seedOption,
  widthOption,
} from "./options.ts";
import { info } from "./progress.ts";

/** The picture formats `draw` and `explain` write. */
export type OutFormat = "svg" | "png" | "gif";

/** `--out`: a file name ending in .svg, .png or .gif. */
export function outArg(value: string): { path: string; format: OutFormat } {
  const m = /\.(svg|png|gif)$/i.exec(value);
  if (!m) {
    throw new InvalidArgumentError(
      `--out must name a .svg, .png or .gif file, got "${value}".`,
    );
  }
  return { path: value, format: m[1].toLowerCase() as OutFormat };
}

/**
 * Draws `tree` into `out` as `format`: an animated decision path (.gif, which needs an input)
 * or the tree picture (.svg, .png), both with `input`'s path when one is given.
 *
 * @param picture What to draw besides the tree, and the raster size of .png and .gif output.
 */
export async function writeTreeDrawing(
  tree: DrawableTree,
  out: { path: string; format: OutFormat },
  picture: TreeSvgOptions & { scale?: number; width?: number },
): Promise<void> {
  const { input, label, trueValue, depthLimit, scale, width } = picture;
  if (out.format === "gif") {
    const gif = await decisionPathGif(tree, {
      input: input!,
      label,
      trueValue,
      depthLimit,
      scale,
      width,
    });
    await writeFileAtomic(out.path, gif);
  } else {
    const { scale: _s, width: _w, ...svgOptions } = picture;
    await writePicture(out.path, treeSvg(tree, svgOptions), { scale, width });
  }
}

/**
 * A regression tree's `--json` facts: its target, every leaf's value (and spread and share of
 * training rows where the checkpoint keeps them), and with an input its predicted values.
 */
export function regressionFacts(
  tree: TreeCheckpoint,
  input?: ArrayLike<number>,
): { facts: Record<string, unknown>; value?: number } {
  const target = tree.data.target!;
  const values = leafValues(tree.params.phi, target);
  const leaves = Array.from(values, (value, l) => ({
    leaf: l,
    value,
    ...(target.leaves
      ? { train_share: target.leaves.share[l], train_std: target.leaves.std[l] }
      : {}),
  }));
  const facts: Record<string, unknown> = { task: "regression", target: target.name, leaves };
  if (!input) return { facts };
  const p = new TreePredictor(tree).predict(input);
  facts.value = p.value;
  facts.mixture_value = p.mixtureValue;
  return { facts, value: p.value };
}

/** The `draw` command. */
export function drawCommand() {
  return new Command("draw")
    .description(
      "Draw a trained tree as SVG or PNG; with --item or --class, mark a test image's " +
        "decision path; with a .gif output, animate that path plain then in correlation mode.",
    )
    .addOption(modelOption())
    .requiredOption(
      "--out <file>",
      "output file: .svg, .png or .gif (the extension decides)",
      outArg,
    )
    .addOption(itemOption("draw the decision path of test image N (0-based)"))
    .addOption(indexAliasOption())
    .addOption(classOption("draw the decision path of a random test image of this class"))
    .addOption(digitAliasOption())
    .addOption(seedOption("which image --class picks"))
    .addOption(correlationOption())
    .addOption(depthLimitOption())
    .option(
      "--gif",
      "write the two-frame GIF of the path (plain, then correlation); needs --out *.gif",
    )
    .addOption(scaleOption())
    .addOption(widthOption())
    .option(
      "--data <spec>",
      "data set for --item/--class (default: the one the tree was trained on)",
    )
    .addOption(jsonOption())
    .addOption(quietOption())
    .action(async (o) => {
      const { path: out, format } = o.out;
      const item = aliased(o.item, o.index, ["--item", "--index"]);
      const cls = aliased(o.class, o.digit, ["--class", "--digit"]);
      const wantsInput = item !== undefined || cls !== undefined;
      if (item !== undefined && cls !== undefined) {
        throw new UsageError("Give either --item or --class, not both");
      }
      if (o.scale !== undefined && o.width !== undefined) {
        throw new UsageError("Give either --scale or --width, not both");
      }
      if (o.gif && format !== "gif") {
        throw new UsageError(`--gif writes a GIF: --out must end in .gif, got "${out}"`);
      }
      if (format === "gif" && !wantsInput) {
        throw new UsageError("A GIF shows an input's decision path: give --item or --class");
      }
      if (o.correlation && !wantsInput) {
        throw new UsageError("--correlation needs an input: give --item or --class");
      }
      if (format === "svg" && (o.scale !== undefined || o.width !== undefined)) {
        throw new UsageError("--scale and --width apply to .png and .gif output, not .svg");
      }

      const tree = await loadTreeCheckpoint(o.model);
      const { config, data } = tree;
      const regression = isRegression(config);
      if (regression && cls !== undefined) {
        throw new UsageError(
          "A regression tree has no classes: pick a test row with --item instead of --class",
        );
      }
      const depthLimit = o.depthLimit === undefined
        ? undefined
        : Math.min(o.depthLimit, config.depth);

      let input: Float32Array | undefined;
      let label: number | undefined;
      let trueValue: number | undefined;
      let index: number | undefined;
      if (wantsInput) {
        const spec = o.data ?? data.source;
        const shape = o.data ? trainedShapeOptions(data) : trainedShapeOptions(data, tree.meta);
        info(
          `loading the test ${data.imageShape ? "images" : "rows"} of "${shape.testData ?? spec}"`,
          o.quiet,
        );
        const { test } = await loadData(spec, shape);
        if (test.features !== config.features) {
          throw new RangeError(
            `Cannot draw a path: the test images of "${spec}" have ${test.features} features, ` +
              `the tree expects ${config.features}`,
          );
        }
        if (item !== undefined) {
          if (item >= test.n) {
            throw new UsageError(
              `--item must be below ${test.n} (the size of the test split), got ${item}`,
            );
          }
          index = item;
        } else {
          const digit = cls!;
          const k = data.classNames.indexOf(digit);
          if (k < 0) {
            throw new UsageError(
              `--class "${digit}" is not a class of this tree; its classes are ` +
                data.classNames.map((c) => `"${c}"`).join(", "),
            );
          }
          const candidates: number[] = [];
          for (let i = 0; i < test.n; i++) if (test.y[i] === k) candidates.push(i);
          if (candidates.length === 0) {
            throw new RangeError(
              `Cannot pick an image: the test split holds no image of "${digit}"`,
            );
          }
          index = candidates[new Rng(o.seed).int(candidates.length)];
        }
        input = test.x.slice(index * test.features, (index + 1) * test.features);
        if (regression) trueValue = test.values?.[index];
        else label = test.y[index];
      }

      await writeTreeDrawing(tree, o.out, {
        input,
        label,
        trueValue,
        correlation: o.correlation,
        depthLimit,
        scale: o.scale,
        width: o.width,
      });

      const r = input ? route(tree.params, config.depth, config.classes, input) : undefined;
      const values = regression ? regressionFacts(tree, input) : undefined;
      const summary = {
        command: "draw",
        out,
        format,
        depth: config.depth,
        depth_drawn: depthLimit ?? config.depth,
        correlation: Boolean(o.correlation),
        ...(values ? values.facts : {}),
        ...(r && regression
          ? {
            item: index,
            true_value: trueValue ?? null,
            max_leaf: r.maxLeaf,
            leaf_probability: r.reach[r.reach.length - 2 ** config.depth + r.maxLeaf],
            path: r.path,
          }
          : r
          ? {
            item: index,
            label,
            label_name: data.classNames[label!],
            predicted: r.predicted,
            predicted_name: data.classNames[r.predicted],
            max_leaf: r.maxLeaf,
            leaf_probability: r.reach[r.reach.length - 2 ** config.depth + r.maxLeaf],
            path: r.path,
          }
          : {}),
      };
      if (o.json) printJson(summary);
      else {
        info(
          `wrote ${out}` +
            (r && values
              ? ` (test row ${index}: true ${data.target!.name} ${
                trueValue === undefined ? "unknown" : valueText(trueValue)
              }, predicted ${valueText(values.value!)})`
              : r
              ? ` (test image ${index}: true ${data.classNames[label!]}, predicted ${
                data.classNames[r.predicted]
              })`
              : ""),
          o.quiet,
        );
      }
    });
}
