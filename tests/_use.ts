/**
 * Fixtures of the tests of using a trained tree (predict, explain, export, report): a small
 * depth-4 MNIST tree trained in a second, and digit images written as PNG or JPEG at other
 * sizes, inverted or not, from MNIST test digits.
 */
import { encode as encodePng } from "npm:fast-png@8.0.0";
import jpeg from "npm:jpeg-js@0.4.4";
import { loadData } from "../lib/data/mod.ts";
import type { Splits } from "../lib/data/types.ts";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import type { TreeCheckpoint } from "../lib/io/types.ts";
import { SoftDecisionTree } from "../lib/train/soft_tree.ts";
import { resize } from "../lib/image/pixels.js";

/** A trained run directory, its checkpoint and the data it was trained on. */
export interface SmallRun {
  dir: string;
  tree: TreeCheckpoint;
  splits: Splits;
}

/**
 * A depth-4 tree trained for 5 epochs on 3,000 MNIST images (70% on the first 2,000 test images), saved
 * in a new temporary run directory with a `metrics.json` holding a short history.
 */
export async function smallRun(): Promise<SmallRun> {
  const splits = await loadData("mnist", { limit: { train: 3000, val: 500, test: 2000 } });
  const dir = await Deno.makeTempDir({ prefix: "softtree-use-" });
  const config = { depth: 4, invTemp: 0.1, learningRate: 0.02 };
  const tree = await SoftDecisionTree.create(config, splits.train, { seed: 3 });
  try {
    const fit = tree.fit(splits.train, splits.val, { epochs: 5, batchSize: 32, seed: 3 });
    const test = tree.evaluate(splits.test);
    await tree.save(dir, {
      command: "train --depth 4 --inv-temp 0.1 (test fixture)",
      testAccuracy: test.accuracy,
    });
    await Deno.writeTextFile(
      `${dir}/metrics.json`,
      JSON.stringify({
        command: "train (test fixture)",
        testAccuracy: test.accuracy,
        history: fit.history,
      }),
    );
  } finally {
    tree.dispose();
  }
  return { dir, tree: await loadTreeCheckpoint(dir), splits };
}

/** Test image `i` of a split as `[28 * 28]` values. */
export function digit(splits: Splits, i: number): Float32Array {
  return splits.test.x.slice(i * 784, (i + 1) * 784);
}

/** How to write a digit as an image file. */
export interface DigitImageOptions {
  /** Side in pixels. @default 28 */
  size?: number;
  /** Dark ink on a light background. @default false */
  invert?: boolean;
  /** @default "png" */
  format?: "png" | "jpeg";
  /** PNG channels: 1 gray, 3 RGB, 4 RGBA. @default 1 */
  channels?: 1 | 3 | 4;
}

/** A 28x28 digit as a PNG or JPEG file's bytes, resized (area or linear) and inverted as asked. */
export function digitImage(x: Float32Array, options: DigitImageOptions = {}): Uint8Array {
  const { size = 28, invert = false, format = "png", channels = 1 } = options;
  const big = size === 28
    ? x
    : resize({ width: 28, height: 28, channels: 1, values: x }, { width: size, height: size })
      .values;
  const gray = Uint8Array.from(big, (v) => Math.round(255 * (invert ? 1 - v : v)));
  if (format === "jpeg") {
    const rgba = new Uint8Array(size * size * 4);
    for (let p = 0; p < size * size; p++) rgba.set([gray[p], gray[p], gray[p], 255], p * 4);
    return jpeg.encode({ width: size, height: size, data: rgba }, 92).data;
  }
  const data = new Uint8Array(size * size * channels);
  for (let p = 0; p < size * size; p++) {
    for (let c = 0; c < Math.min(channels, 3); c++) data[p * channels + c] = gray[p];
    if (channels === 4) data[p * 4 + 3] = 255;
  }
  return encodePng({ width: size, height: size, data, channels, depth: 8 });
}
