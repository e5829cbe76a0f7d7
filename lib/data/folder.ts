/**
 * Image folders in the layout of torchvision's `ImageFolder` and Keras's
 * `image_dataset_from_directory`: one folder per class, PNG and JPEG images in them.
 *
 * @module
 */
import { join } from "node:path";
import { DatasetError } from "../errors.ts";
import { pathName, readProblem } from "./_common.ts";
import { assembleSplits, type Part } from "./_arrays.ts";
import {
  colourChannels,
  commonSize,
  decodeImages,
  type Image,
  type ImageSize,
  imageSizeOption,
  imagesToSamples,
} from "./_images.ts";
import type { ArrayDataOptions } from "./npz.ts";
import type { Splits } from "./types.ts";

export { type ImageSize, parseImageSize } from "./_images.ts";

/** Options of {@linkcode loadImageFolder}; the split options are those of `.npz` files. */
export interface ImageFolderOptions extends ArrayDataOptions {
  /**
   * The size every image is resized to (an area average when shrinking, linear
   * interpolation when enlarging), as `{ width, height }` or `"WxH"`.
   * @default the most common size among the training images (ties: the larger)
   */
  imageSize?: ImageSize | string;
  /**
   * 1 (gray) or 3 (RGB). Colour becomes gray by luma (ITU-R BT.601); transparent pixels are
   * laid over white.
   * @default 3 when some image has a pixel whose red, green and blue differ, else 1
   */
  channels?: 1 | 3;
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;
/** Each split's folder names, in the order they are looked for. */
const SPLITS = [
  ["train", ["train"]],
  ["val", ["val", "valid", "validation"]],
  ["test", ["test"]],
] as const;

/** Entries of a folder: subfolders and image files, each sorted by name. */
async function listFolder(
  dir: string,
  fail: (problem: string, cause?: unknown) => never,
): Promise<{ folders: string[]; images: string[] }> {
  const folders: string[] = [];
  const images: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(".")) continue;
      if (entry.isDirectory) folders.push(entry.name);
      else if (IMAGE_EXT.test(entry.name)) images.push(entry.name);
    }
  } catch (error) {
    const problem = error instanceof Deno.errors.NotFound
      ? `the folder "${dir}" does not exist`
      : error instanceof Deno.errors.NotADirectory
      ? `"${dir}" is a file, not a folder`
      : `cannot read the folder "${dir}": ${readProblem(error)}`;
    fail(problem, error);
  }
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return { folders: folders.sort(byName), images: images.sort(byName) };
}

/** Class folder names sorted numerically when all are integers, else as text. */
function sortClasses(names: string[]): string[] {
  return names.every((n) => /^\d+$/.test(n))
    ? [...names].sort((a, b) => Number(a) - Number(b))
    : [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Loads an image folder: `DIR/<class>/*.png|jpg`, or `DIR/train/<class>/…` with optional
 * `DIR/val/<class>/…` (or `valid/`, `validation/`) and `DIR/test/<class>/…` beside it. Class names are the folder names
 * (sorted numerically when all are integers, else as text; a class is numbered by its place
 * in the training split's list), images are PNG or JPEG (told by their bytes), resized to one
 * size and converted to one channel count (see {@linkcode ImageFolderOptions}), with values
 * in [0, 1], channels last. Files that are not `.png`, `.jpg` or `.jpeg`, and names starting
 * with a dot, are ignored.
 *
 * Splits: `val/` and `test/` when present; otherwise carved from the training images by a
 * seeded shuffle (see {@linkcode ArrayDataOptions}). Within a split, samples are in the order
 * of their class, then of their file name.
 *
 * @param dir The folder.
 * @param options Image size, channels, validation size, split fractions, seed.
 * @returns The three splits, with `classNames`.
 * @throws {DatasetError} When the folder does not exist or holds no class folders, a class
 * folder holds no images, an image cannot be read or decoded (named), or a `val/` or `test/`
 * class is not among the training classes.
 * @throws {RangeError} When the image size, channels, a count or a fraction is out of range.
 * @example
 * ```ts
 * const { train, test } = await loadImageFolder("photos", { imageSize: "32x32" });
 * train.classNames; // ["cat", "dog"]
 * ```
 */
export async function loadImageFolder(
  dir: string | URL,
  options: ImageFolderOptions = {},
): Promise<Splits> {
  const root = pathName(dir);
  const fail = (problem: string, cause?: unknown): never => {
    throw new DatasetError(`Cannot load image folder "${root}": ${problem}`, { cause });
  };
  const wantedSize = imageSizeOption(options.imageSize);
  if (options.channels !== undefined && options.channels !== 1 && options.channels !== 3) {
    throw new RangeError(`Invalid channels "${options.channels}": expected 1 or 3`);
  }

  const top = await listFolder(root, fail);
  const split = top.folders.includes("train");
  const splitDirs: (readonly [string, string])[] = [];
  for (const [name, aliases] of split ? SPLITS : []) {
    const found = aliases.find((a) => top.folders.includes(a));
    if (found) splitDirs.push([name, join(root, found)]);
  }
  if (!split) splitDirs.push(["train", root]);
  const pathOf = new Map(splitDirs);

  // Class folders and their images, per split.
  const files = new Map<string, { classes: string[]; byClass: Map<string, string[]> }>();
  for (const [name, path] of splitDirs) {
    const listing = await listFolder(path, fail);
    if (listing.folders.length === 0) {
      fail(
        listing.images.length > 0
          ? `"${path}" holds ${listing.images.length} images but no class folders; put each ` +
            `class's images in a folder named after it ("${join(path, "<class>")}/…")` +
            ` (unlabeled images are transfer data, not a training set)`
          : `"${path}" holds no class folders with PNG or JPEG images ` +
            `(expected "${join(path, "<class>")}/*.png")`,
      );
    }
    const byClass = new Map<string, string[]>();
    for (const cls of listing.folders) {
      const classDir = join(path, cls);
      const { images } = await listFolder(classDir, fail);
      if (images.length === 0) {
        fail(`the class folder "${classDir}" holds no PNG or JPEG images`);
      }
      byClass.set(cls, images.map((f) => join(classDir, f)));
    }
    files.set(name, { classes: sortClasses(listing.folders), byClass });
  }
  const classNames = files.get("train")!.classes;
  const index = new Map(classNames.map((c, i) => [c, i]));
  for (const [name, { classes }] of files) {
    const extra = classes.filter((c) => !index.has(c));
    if (extra.length) {
      fail(
        `"${pathOf.get(name)}" has the class folder${extra.length > 1 ? "s" : ""} ` +
          `${extra.map((c) => `"${c}"`).join(", ")}, which "${pathOf.get("train")}" lacks`,
      );
    }
  }

  // Decode everything, then choose one size and channel count.
  const decoded = new Map<string, { images: Image[]; y: Int32Array }>();
  for (const [name, { classes, byClass }] of files) {
    const paths: string[] = [];
    const labels: number[] = [];
    for (const cls of classes) {
      for (const p of byClass.get(cls)!) {
        paths.push(p);
        labels.push(index.get(cls)!);
      }
    }
    decoded.set(name, { images: await decodeImages(paths), y: Int32Array.from(labels) });
  }
  const trainImages = decoded.get("train")!.images;
  const size = wantedSize ?? commonSize(trainImages);
  const channels = options.channels ??
    colourChannels([...decoded.values()].flatMap((d) => d.images));
  const part = (name: string): Part | undefined => {
    const d = decoded.get(name);
    return d ? { x: imagesToSamples(d.images, size, channels), y: d.y } : undefined;
  };
  return assembleSplits(
    {
      train: part("train")!,
      val: part("val"),
      test: part("test"),
      classNames,
      featureNames: null,
      source: options.source ?? `folder:${root}`,
    },
    options,
    fail,
  );
}
