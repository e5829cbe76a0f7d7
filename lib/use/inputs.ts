/**
 * A tree's inputs from files: PNG and JPEG images (a folder means every image in it), IDX
 * image files, and CSV files with the tree's feature columns. Each image or row becomes one
 * input, prepared like the training data and described in words; an input that cannot be
 * read or does not fit the tree becomes an error of its own, and the others go on.
 *
 * @module
 */
import { parseCsv } from "../data/csv.ts";
import { parseIdx } from "../data/idx.ts";
import { decodeImage, sniffFormat } from "../image/decode.ts";
import { imageTarget, type UsableTree } from "./model.ts";
import { prepareImage, type PrepareOptions } from "../image/pixels.js";

/** One input, prepared for the tree, or why it could not be. */
export interface PreparedInput {
  /** The file, and for IDX and CSV the item: `"a/seven.png"`, `"t10k.idx#3"`, `"rows.csv:5"`. */
  name: string;
  /** The tree's input `[F]`; absent when `error` is set. */
  x?: Float32Array;
  /** What was done to the input, in words, in order. */
  steps: string[];
  /** Why the input could not be used. */
  error?: string;
  /**
   * The label a CSV row carried in a `label` column, if any (for a regression tree: the value
   * in its target's column).
   */
  label?: string;
}

/** Options of {@linkcode prepareInputs}: how to fit and invert images. */
export interface PrepareInputsOptions extends PrepareOptions {
  /** Told about files a folder holds that are not images (they are skipped). */
  onSkip?: (path: string, why: string) => void;
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;
const CSV_EXT = /\.(csv|tsv|txt)$/i;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const LABEL_NAMES = ["label", "class", "target", "y"];

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function readProblem(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file or folder";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  return message(error);
}

/** The files a path names: itself, or the images of a folder (sorted by name). */
async function expand(
  path: string,
  onSkip: PrepareInputsOptions["onSkip"],
): Promise<string[] | PreparedInput> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    return { name: path, steps: [], error: `Cannot read "${path}": ${readProblem(error)}` };
  }
  if (!info.isDirectory) return [path];
  const files: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    const full = `${path.replace(/\/+$/, "")}/${entry.name}`;
    if (entry.isDirectory) onSkip?.(full, "a folder (folders are not searched)");
    else if (IMAGE_EXT.test(entry.name)) files.push(full);
    else onSkip?.(full, "not a .png, .jpg or .jpeg file");
  }
  return files.sort();
}

/** Every image of an IDX file, as inputs. */
function idxInputs(bytes: Uint8Array, name: string, tree: UsableTree, options: PrepareOptions) {
  const idx = parseIdx(bytes, name);
  const { type, shape, data } = idx;
  const F = tree.config.features;
  const target = imageTarget(tree.data);
  const n = shape[0];
  const item = shape.slice(1);
  const size = item.reduce((a, b) => a * b, 1);
  if (!["uint8", "float32", "float64"].includes(type)) {
    throw new TypeError(
      `Cannot read IDX file "${name}": it holds ${type} values, expected uint8, float32 or float64`,
    );
  }
  const maxValue = type === "uint8" ? 255 : 1;
  const [h, w, c] = item.length === 3 ? item : item.length === 2 ? [...item, 1] : [0, 0, 0];
  const sameShape = target
    ? h === target.height && w === target.width && c === target.channels
    : item.length === 1 && size === F;
  if (!sameShape && (!target || h === 0)) {
    throw new RangeError(
      `Cannot use IDX file "${name}": its items have shape [${item.join(", ")}], the tree reads ` +
        (target
          ? `[${target.height}, ${target.width}, ${target.channels}] images`
          : `${F} features`),
    );
  }
  const out: PreparedInput[] = [];
  for (let i = 0; i < n; i++) {
    const itemName = `${name}#${i}`;
    const raw = data.subarray(i * size, (i + 1) * size);
    if (sameShape) {
      // Already in the training data's format: scaled the way the data loaders scale it.
      const x = new Float32Array(size);
      for (let j = 0; j < size; j++) x[j] = raw[j] / maxValue;
      out.push({
        name: itemName,
        x,
        steps: [
          `IDX item [${item.join(", ")}] ${type}${
            type === "uint8" ? " / 255" : ""
          }, as the training data`,
        ],
      });
      continue;
    }
    try {
      const prepared = prepareImage(
        { width: w, height: h, channels: c, data: raw, maxValue },
        target!,
        options,
      );
      out.push({ name: itemName, x: prepared.x, steps: prepared.steps });
    } catch (error) {
      out.push({ name: itemName, steps: [], error: `Cannot use "${itemName}": ${message(error)}` });
    }
  }
  return out;
}

/** Every row of a CSV file, as inputs. */
function csvInputs(text: string, name: string, tree: UsableTree): PreparedInput[] {
  const F = tree.config.features;
  const { data } = tree;
  const delimiter = /\.tsv$/i.test(name) ? "\t" : ",";
  const rows = parseCsv(text, delimiter, (problem) => {
    throw new SyntaxError(`Cannot read CSV file "${name}": ${problem}`);
  });
  if (rows.length === 0) throw new RangeError(`Cannot use CSV file "${name}": it holds no rows`);
  const first = rows[0].cells.map((s) => s.trim());
  const hasHeader = first.some((cell) => !NUMBER.test(cell));
  const header = hasHeader ? first : null;
  const body = hasHeader ? rows.slice(1) : rows;
  const names = data.featureNames;
  const fileFail = (why: string): never => {
    throw new RangeError(`Cannot use CSV file "${name}": ${why}`);
  };

  // Which cell holds each feature, and which (if any) a label.
  let columns: number[];
  let labelColumn = -1;
  if (names && !data.imageShape) {
    if (!header) {
      fileFail(
        `it has no header row; the tree reads the columns ${names.map((s) => `"${s}"`).join(", ")}`,
      );
    }
    columns = names.map((feature) => header!.indexOf(feature));
    const missing = names.filter((_, i) => columns[i] < 0);
    if (missing.length) {
      fileFail(
        `it lacks the column${missing.length > 1 ? "s" : ""} ${
          missing.map((s) => `"${s}"`).join(", ")
        } ` +
          `(its header: ${header!.map((s) => `"${s}"`).join(", ")})`,
      );
    }
  } else {
    labelColumn = header ? header.findIndex((h) => LABEL_NAMES.includes(h.toLowerCase())) : -1;
    const width = (header ?? first).length - (labelColumn >= 0 ? 1 : 0);
    if (width !== F) {
      fileFail(
        `its rows hold ${width} feature values${
          labelColumn >= 0 ? ` besides "${header![labelColumn]}"` : ""
        }, ` +
          `the tree reads ${F}`,
      );
    }
    columns = [];
    for (let c = 0; c < (header ?? first).length; c++) if (c !== labelColumn) columns.push(c);
  }
  if (data.target && header) {
    // A regression tree's true values: its target's column, when the file has one.
    const c = header.indexOf(data.target.name);
    if (c >= 0 && !columns.includes(c)) labelColumn = c;
  }
  if (labelColumn < 0 && header) {
    labelColumn = header.findIndex((h, c) =>
      LABEL_NAMES.includes(h.toLowerCase()) && !columns.includes(c)
    );
  }

  const scaling = !data.imageShape && names ? data.scaling : undefined;
  if (!data.imageShape && names && !scaling) {
    fileFail(
      "the tree's checkpoint does not record how its features were scaled (it predates " +
        "softtree keeping that); retrain it to predict from raw CSV rows",
    );
  }
  // Image rows: values above 1 mean 0-255 pixels.
  let pixelScale = 1;
  if (data.imageShape) {
    outer: for (const row of body) {
      for (const c of columns) {
        if (Number(row.cells[c]) > 1) {
          pixelScale = 255;
          break outer;
        }
      }
    }
  }
  const width = header?.length ?? first.length;
  return body.map((row) => {
    const rowName = `${name}:${row.line}`;
    const fail = (why: string): PreparedInput => ({
      name: rowName,
      steps: [],
      error: `Cannot use "${rowName}": ${why}`,
    });
    if (row.cells.length !== width) {
      return fail(`the row holds ${row.cells.length} cells, the header ${width}`);
    }
    const x = new Float32Array(F);
    for (let f = 0; f < F; f++) {
      const cell = row.cells[columns[f]].trim();
      if (!NUMBER.test(cell)) {
        const col = header ? `column "${header[columns[f]]}"` : `cell ${columns[f] + 1}`;
        return fail(`${col} holds "${cell}", not a number`);
      }
      let v = Number(cell);
      if (scaling) {
        const lo = scaling.min[f], hi = scaling.max[f];
        v = hi > lo ? (v - lo) / (hi - lo) : 0;
      } else v /= pixelScale;
      x[f] = v;
    }
    const steps = scaling
      ? ["features min-max scaled with the training split's ranges"]
      : data.imageShape
      ? [
        pixelScale === 255
          ? "pixel values 0-255 scaled to [0, 1]"
          : "pixel values used as they are (all within [0, 1])",
      ]
      : ["features used as they are"];
    const out: PreparedInput = { name: rowName, x, steps };
    if (labelColumn >= 0) out.label = row.cells[labelColumn].trim();
    return out;
  });
}

/**
 * Reads and prepares a tree's inputs from files: each PNG or JPEG image, each image of an
 * IDX file, each row of a CSV file is one input. A folder means every `.png`, `.jpg` and
 * `.jpeg` file in it (others are skipped, and `onSkip` hears of them). Images go through
 * `prepareImage` (gray or colour as the tree reads, inversion of light backgrounds for
 * light-on-dark models, MNIST's digit framing or a plain resize, values in [0, 1]); CSV
 * rows of a tabular tree are matched to its feature columns by name and scaled with the
 * training split's ranges.
 *
 * @param paths Files and folders, in order.
 * @param tree The tree (its data facts decide how inputs are prepared).
 * @param options Fitting and inversion of images; `onSkip`.
 * @returns One entry per input, in order: with `x`, or with `error`. Never throws for a bad
 *   input: a file that cannot be read at all is one entry with its error.
 * @example
 * ```ts
 * const inputs = await prepareInputs(["my-digits/"], await loadTreeCheckpoint("runs/x"));
 * for (const i of inputs) console.log(i.name, i.error ?? i.steps.join(", "));
 * ```
 */
export async function prepareInputs(
  paths: string[],
  tree: UsableTree,
  options: PrepareInputsOptions = {},
): Promise<PreparedInput[]> {
  const target = imageTarget(tree.data);
  const out: PreparedInput[] = [];
  for (const path of paths) {
    const files = await expand(path, options.onSkip);
    if (!Array.isArray(files)) {
      out.push(files);
      continue;
    }
    for (const file of files) {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(file);
      } catch (error) {
        out.push({ name: file, steps: [], error: `Cannot read "${file}": ${readProblem(error)}` });
        continue;
      }
      try {
        const format = sniffFormat(bytes);
        if (format === "png" || format === "jpeg") {
          if (!target) {
            throw new RangeError(
              `Cannot use image "${file}": the tree reads ${tree.config.features} tabular ` +
                `features, not images; give a CSV file with its feature columns`,
            );
          }
          const prepared = prepareImage(decodeImage(bytes, file), target, options);
          out.push({ name: file, x: prepared.x, steps: prepared.steps });
        } else if (format === "idx" || format === "gzip") {
          out.push(...idxInputs(bytes, file, tree, options));
        } else if (IMAGE_EXT.test(file)) {
          const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
          throw new TypeError(
            `Cannot read image "${file}": it is not a PNG or JPEG file (it starts with bytes ` +
              `${head.join(" ") || "none"})`,
          );
        } else if (CSV_EXT.test(file)) {
          out.push(...csvInputs(new TextDecoder().decode(bytes), file, tree));
        } else {
          throw new TypeError(
            `Cannot read "${file}": it is not a PNG, JPEG, IDX or CSV file (by its first bytes and name)`,
          );
        }
      } catch (error) {
        let why = message(error);
        // Messages of prepareImage and of the decoders name no file.
        if (!why.includes(`"${file}`)) why = `Cannot use "${file}": ${why}`;
        out.push({ name: file, steps: [], error: why });
      }
    }
  }
  return out;
}
