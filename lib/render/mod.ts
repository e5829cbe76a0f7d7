/**
 * Pictures of soft decision trees: tree diagrams with decision paths and correlation mode
 * (SVG), PNG through resvg with a bundled font, animated GIFs of training and of a decision
 * path, and learning curves.
 *
 * @example
 * ```ts
 * import { svgToPng, treeSvg } from "./mod.ts";
 *
 * const svg = treeSvg(checkpoint, { input: x, label: 9, correlation: true });
 * await Deno.writeFile("path.png", await svgToPng(svg, { scale: 2 }));
 * ```
 *
 * @module
 */
export { type DrawableTree, treeSvg, type TreeSvgOptions } from "./tree_svg.ts";
export { bundledFonts, type RasterOptions, type RgbaImage, svgToPng, svgToRgba } from "./png.ts";
export { decisionPathGif, type DecisionPathGifOptions, encodeGif, type GifOptions } from "./gif.ts";
export {
  type SnapshotSchedule,
  snapshotSchedule,
  type SnapshotScheduleOptions,
  TrainingAnimation,
  type TrainingAnimationOptions,
} from "./animation.ts";
export { type CurvePoint, type CurvesOptions, learningCurvesSvg } from "./curves.ts";
export {
  type PictureFormat,
  pictureFormat,
  writeLearningCurves,
  writePicture,
  writeTreePicture,
} from "./write.ts";
export {
  importanceSvg,
  type ImportanceSvgOptions,
  weightListHeight,
  weightListSvg,
} from "./features_svg.ts";
