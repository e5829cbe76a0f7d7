/**
 * Write pictures to files, atomically: SVG or PNG by the file's extension. These are what
 * the training commands call to leave `tree.png` and `curves.png` in a run directory.
 *
 * @module
 */
import { writeFileAtomic } from "../io/atomic.ts";
import { type CurvePoint, type CurvesOptions, learningCurvesSvg } from "./curves.ts";
import { type RasterOptions, svgToPng } from "./png.ts";
import { type DrawableTree, treeSvg, type TreeSvgOptions } from "./tree_svg.ts";

/** The picture formats a path can name. */
export type PictureFormat = "svg" | "png";

/**
 * The format a file name asks for, from its extension (case-insensitive).
 *
 * @throws {RangeError} When the extension is neither `.svg` nor `.png`.
 * @example
 * ```ts
 * pictureFormat("runs/a/tree.PNG"); // "png"
 * ```
 */
export function pictureFormat(path: string): PictureFormat {
  const ext = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
  if (path.lastIndexOf(".") > path.lastIndexOf("/") && (ext === "svg" || ext === "png")) {
    return ext;
  }
  throw new RangeError(`Cannot write picture "${path}": the name must end in .svg or .png`);
}

/**
 * Write an SVG document to `path` as SVG or, for `.png`, rasterized; atomically, creating
 * parent folders.
 *
 * @param path Where to write; the extension (`.svg` or `.png`) decides the format.
 * @param svg The SVG document.
 * @param options `scale` or `width` for PNG output.
 * @throws {RangeError} When the extension is neither `.svg` nor `.png`.
 * @example
 * ```ts
 * await writePicture("tree.png", treeSvg(checkpoint), { scale: 2 });
 * ```
 */
export async function writePicture(
  path: string,
  svg: string,
  options: RasterOptions = {},
): Promise<void> {
  const format = pictureFormat(path);
  await writeFileAtomic(path, format === "svg" ? svg : await svgToPng(svg, options));
}

/**
 * Draw a tree and write it to `path` (`.png` or `.svg`). Trees deeper than 6 are drawn to
 * depth 6 unless `depthLimit` says otherwise, so the picture stays legible.
 *
 * @param path Where to write, e.g. `runs/x/tree.png`.
 * @param tree A checkpoint, or anything with `config`, `params` and `data`.
 * @param options Drawing options and `scale` / `width`.
 * @example
 * ```ts
 * await writeTreePicture(`${runDir}/tree.png`, checkpoint);
 * ```
 */
export async function writeTreePicture(
  path: string,
  tree: DrawableTree,
  options: TreeSvgOptions & RasterOptions = {},
): Promise<void> {
  const { scale, width, ...draw } = options;
  draw.depthLimit ??= Math.min(tree.config.depth, 6);
  await writePicture(path, treeSvg(tree, draw), { scale, width });
}

/**
 * Draw learning curves and write them to `path` (`.png` or `.svg`).
 *
 * @param path Where to write, e.g. `runs/x/curves.png`.
 * @param records The epochs so far.
 * @param options Title and width of the drawing, and `scale` for PNG.
 * @example
 * ```ts
 * await writeLearningCurves(`${runDir}/curves.svg`, history);
 * await writeLearningCurves(`${runDir}/curves.png`, history, { scale: 2 });
 * ```
 */
export async function writeLearningCurves(
  path: string,
  records: CurvePoint[],
  options: CurvesOptions & { scale?: number } = {},
): Promise<void> {
  const { scale, ...draw } = options;
  await writePicture(path, learningCurvesSvg(records, draw), { scale });
}
