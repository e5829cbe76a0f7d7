/**
 * Unlabeled data for distillation (transfer data): images, arrays or CSV rows without
 * labels, shaped like a training split so that a teacher can label them and a tree train on
 * them.
 *
 * @module
 */
import { join } from "node:path";
import { DatasetError } from "../errors.ts";
import { folderProblem, pathName, readDataText } from "./_common.ts";
import { conformTo, type RawSamples, samplesFromArray, shapeText } from "./_arrays.ts";
import { parseCsv } from "./csv.ts";
import {
  colourChannels,
  commonSize,
  decodeImages,
  type ImageSize,
  imageSizeOption,
  imagesToSamples,
} from "./_images.ts";
import { readNpy } from "./npy.ts";
import { readNpz } from "./npz.ts";
import type { Dataset } from "./types.ts";

/** Options of {@linkcode loadUnlabeled}. */
export interface UnlabeledOptions {
  /**
   * The training split the data must fit: images are resized and converted to its size and
   * channels; CSV columns are picked by its feature names (else by position) and scaled by
   * its min-max ranges; class count and names are copied.
   * @default undefined (the data's own shape: the most common image size; rows unscaled)
   */
  like?: Dataset;
  /**
   * Image size when there is no `like`, `{ width, height }` or `"WxH"`.
   * @default the most common size
   */
  imageSize?: ImageSize | string;
  /**
   * Channels (1 or 3) when there is no `like`.
   * @default 3 when some pixel has colour, else 1
   */
  channels?: 1 | 3;
  /**
   * Keep only the first `n` samples.
   * @default every sample
   */
  limit?: number;
  /**
   * The `source` recorded in the data set.
   * @default the spec
   */
  source?: string;
}

const FORMS = `"folder:DIR", "npz:FILE", "npy:FILE" or "csv:FILE"`;

/**
 * Loads unlabeled data: every sample's label is `-1`.
 * - `"folder:DIR"`: every PNG and JPEG image under `DIR`, in subfolders too (their names
 *   are not labels), in the order of their paths;
 * - `"npz:FILE"`: the array `x` (else `x_train`) of a `.npz` file;
 * - `"npy:FILE"`: one `.npy` file of samples;
 * - `"csv:FILE"`: a CSV file of feature columns (a header naming the training data's
 *   features picks them by name; other columns, such as a label, are then ignored).
 *
 * Arrays are read as by `loadNpz`: images `(N, H, W[, C])` as pixels, rows `(N, F)` as
 * features.
 *
 * @param spec Which data.
 * @param options `like` (the training split to fit), image size, channels, limit.
 * @returns One data set whose `y` is all `-1`, shaped like `like` when given.
 * @throws {TypeError} When `spec` has none of the accepted forms.
 * @throws {DatasetError} When the data cannot be read, holds no samples, or cannot take the
 * shape of `like` (the message names both shapes).
 * @example
 * ```ts
 * const { train } = await loadData("folder:labelled");
 * const extra = await loadUnlabeled("folder:unlabelled", { like: train });
 * extra.y[0]; // -1
 * ```
 */
export async function loadUnlabeled(
  spec: string,
  options: UnlabeledOptions = {},
): Promise<Dataset> {
  const colon = spec.indexOf(":");
  const kind = colon > 0 ? spec.slice(0, colon) : "";
  const path = spec.slice(colon + 1);
  if (!["folder", "npz", "npy", "csv"].includes(kind) || path === "") {
    throw new TypeError(`Unknown unlabeled data spec "${spec}": expected ${FORMS}`);
  }
  const source = options.source ?? spec;
  const like = options.like;
  let ds: Dataset;
  if (kind === "folder") ds = await unlabeledFolder(path, source, options);
  else if (kind === "csv") ds = await unlabeledCsv(path, source, like);
  else {
    const samples = kind === "npz" ? await npzSamples(path) : await npySamples(path);
    ds = rawToDataset(samples, source);
  }
  if (ds.n === 0) {
    throw new DatasetError(`Cannot load unlabeled data "${spec}": it holds no samples`);
  }
  if (options.limit !== undefined && options.limit < ds.n) {
    ds = {
      ...ds,
      x: ds.x.slice(0, options.limit * ds.features),
      y: ds.y.slice(0, options.limit),
      n: options.limit,
    };
  }
  return like ? conformTo(ds, like, `Unlabeled data "${spec}"`, { resize: true }) : ds;
}

async function unlabeledFolder(
  dir: string,
  source: string,
  options: UnlabeledOptions,
): Promise<Dataset> {
  const paths: string[] = [];
  const walk = async (folder: string) => {
    const entries: Deno.DirEntry[] = [];
    try {
      for await (const e of Deno.readDir(folder)) if (!e.name.startsWith(".")) entries.push(e);
    } catch (error) {
      const problem = folderProblem(error);
      throw new DatasetError(`Cannot load image folder "${folder}": ${problem}`, { cause: error });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const full = join(folder, e.name);
      if (e.isDirectory) await walk(full);
      else if (/\.(png|jpe?g)$/i.test(e.name)) paths.push(full);
    }
  };
  await walk(dir);
  if (paths.length === 0) {
    throw new DatasetError(`Cannot load image folder "${dir}": it holds no PNG or JPEG images`);
  }
  const images = await decodeImages(paths);
  const shape = options.like?.imageShape;
  const size = shape
    ? { width: shape[1], height: shape[0] }
    : imageSizeOption(options.imageSize) ?? commonSize(images);
  const channels = shape ? (shape[2] as 1 | 3) : options.channels ?? colourChannels(images);
  return rawToDataset(imagesToSamples(images, size, channels), source);
}

async function npzSamples(file: string): Promise<RawSamples> {
  const arrays = await readNpz(file);
  const key = arrays.has("x") ? "x" : arrays.has("x_train") ? "x_train" : null;
  const fail = (problem: string): never => {
    throw new DatasetError(`Cannot load NPZ file "${file}" as unlabeled data: ${problem}`);
  };
  if (key === null) {
    fail(
      `it has no array "x" or "x_train"; ` +
        (arrays.size === 0
          ? "it holds no arrays"
          : `it holds ${[...arrays].map(([k, a]) => `"${k}" ${shapeText(a.shape)}`).join(", ")}`),
    );
  }
  return scalePixels(samplesFromArray(arrays.get(key!)!, `"${key}"`, fail), fail);
}

async function npySamples(file: string): Promise<RawSamples> {
  if (file.includes(",")) {
    throw new TypeError(
      `Unlabeled data takes one .npy file of samples, got "npy:${file}" (no labels are read)`,
    );
  }
  const fail = (problem: string): never => {
    throw new DatasetError(`Cannot load NPY file "${file}" as unlabeled data: ${problem}`);
  };
  return scalePixels(samplesFromArray(await readNpy(file), `"${file}"`, fail), fail);
}

/** Images to [0, 1] (uint8 and [0, 255] floats / 255); rows are left raw. */
function scalePixels(s: RawSamples, fail: (problem: string) => never): RawSamples {
  if (!s.imageShape) return s;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < s.values.length; i++) {
    min = Math.min(min, s.values[i]);
    max = Math.max(max, s.values[i]);
  }
  if (min < 0 || max > 255) {
    fail(`its images hold values from ${min} to ${max}; expected [0, 1] or [0, 255]`);
  }
  const scale = max <= 1 && !s.integer ? 1 : 255;
  return { ...s, values: Float32Array.from(s.values, (v) => v / scale), unit: true };
}

/** Samples as a data set without labels (rows raw, no scaling recorded). */
function rawToDataset(s: RawSamples, source: string): Dataset {
  return {
    x: s.values instanceof Float32Array ? s.values : Float32Array.from(s.values),
    y: new Int32Array(s.n).fill(-1),
    n: s.n,
    features: s.features,
    classes: 0,
    imageShape: s.imageShape,
    featureNames: s.imageShape ? null : Array.from({ length: s.features }, (_, i) => `x${i}`),
    source,
  };
}

async function unlabeledCsv(file: string, source: string, like?: Dataset): Promise<Dataset> {
  const name = pathName(file);
  const fail = (problem: string): never => {
    throw new DatasetError(`Cannot read CSV file "${name}": ${problem}`);
  };
  const text = await readDataText(file, "CSV");
  const delimiter = name.toLowerCase().endsWith(".tsv") ? "\t" : ",";
  const rows = parseCsv(text, delimiter, fail);
  if (rows.length === 0) fail("the file is empty");
  const first = rows[0].cells.map((c) => c.trim());
  const hasHeader = first.some((c) => !NUMBER.test(c));
  const body = hasHeader ? rows.slice(1) : rows;
  const width = first.length;
  let columns = Array.from({ length: width }, (_, i) => i);
  let names = hasHeader ? first : columns.map((i) => `x${i}`);
  if (hasHeader && like?.featureNames && like.featureNames.every((f) => first.includes(f))) {
    columns = like.featureNames.map((f) => first.indexOf(f));
    names = [...like.featureNames];
  }
  const F = columns.length;
  const x = new Float32Array(body.length * F);
  body.forEach(({ cells, line }, r) => {
    if (cells.length !== width) fail(`line ${line} has ${cells.length} cells, expected ${width}`);
    columns.forEach((c, f) => {
      const cell = cells[c].trim();
      if (!NUMBER.test(cell)) {
        fail(
          `line ${line}, column ${hasHeader ? `"${first[c]}"` : c} holds "${cells[c]}", which ` +
            `is not a number` +
            (like?.featureNames && hasHeader
              ? ` (the training data's features: ${
                like.featureNames.map((s) => `"${s}"`).join(", ")
              })`
              : ""),
        );
      }
      x[r * F + f] = Number(cell);
    });
  });
  return {
    x,
    y: new Int32Array(body.length).fill(-1),
    n: body.length,
    features: F,
    classes: 0,
    imageShape: null,
    featureNames: names,
    source,
  };
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
