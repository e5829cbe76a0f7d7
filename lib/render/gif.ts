/**
 * Animated GIFs with the pure-JavaScript `gifenc` encoder (no ImageMagick): a generic encoder
 * for RGBA frames, and the two-frame picture of an input's decision path (plain, then
 * correlation), as the seed makes with ImageMagick.
 *
 * @module
 */
import { gifenc } from "./_deps.ts";
import { type RasterOptions, type RgbaImage, svgToRgba } from "./png.ts";
import { type DrawableTree, treeSvg } from "./tree_svg.ts";

// gifenc ships no types; these are the parts used here.
type Palette = number[][];
interface GifEncoderInstance {
  writeFrame(
    index: Uint8Array,
    width: number,
    height: number,
    opts: { palette: Palette; delay?: number; repeat?: number },
  ): void;
  finish(): void;
  bytes(): Uint8Array;
}
const { GIFEncoder, quantize, applyPalette } = gifenc as unknown as {
  GIFEncoder: () => GifEncoderInstance;
  quantize: (rgba: Uint8Array, maxColors: number) => Palette;
  applyPalette: (rgba: Uint8Array, palette: Palette) => Uint8Array;
};

/** Options of {@linkcode encodeGif}. */
export interface GifOptions {
  /**
   * How long each frame shows, in milliseconds.
   * @default 500
   */
  delayMs?: number;
  /**
   * How long the last frame shows before the loop restarts, in milliseconds.
   * @default delayMs
   */
  lastDelayMs?: number;
  /**
   * Loop forever (`0`), play once (`-1`), or repeat `n` times.
   * @default 0
   */
  repeat?: number;
}

/**
 * Encode RGBA frames of one size as an animated GIF, each frame quantised to its own
 * 256-colour palette.
 *
 * @param frames Frames from `svgToRgba`, all the same width and height.
 * @param options Frame delays and looping.
 * @returns The GIF file's bytes.
 * @throws {RangeError} When there are no frames or their sizes differ.
 * @example
 * ```ts
 * const gif = encodeGif([await svgToRgba(a), await svgToRgba(b)], { delayMs: 1000 });
 * ```
 */
export function encodeGif(frames: RgbaImage[], options: GifOptions = {}): Uint8Array {
  if (frames.length === 0) throw new RangeError("Cannot encode GIF: no frames");
  const { width, height } = frames[0];
  const delay = options.delayMs ?? 500;
  const last = options.lastDelayMs ?? delay;
  const enc = GIFEncoder();
  frames.forEach((frame, i) => {
    if (frame.width !== width || frame.height !== height) {
      throw new RangeError(
        `Cannot encode GIF: frame ${i} is ${frame.width}x${frame.height}, ` +
          `frame 0 is ${width}x${height}`,
      );
    }
    const palette = quantize(frame.pixels, 256);
    const index = applyPalette(frame.pixels, palette);
    enc.writeFrame(index, width, height, {
      palette,
      delay: i === frames.length - 1 ? last : delay,
      ...(i === 0 ? { repeat: options.repeat ?? 0 } : {}),
    });
  });
  enc.finish();
  return enc.bytes();
}

/** Options of {@linkcode decisionPathGif}. */
export interface DecisionPathGifOptions extends RasterOptions {
  /** The input `x [F]` whose path is drawn. */
  input: ArrayLike<number>;
  /** Its true class, if known. */
  label?: number;
  /** A regression tree's input: its true value, if known. */
  trueValue?: number;
  /** Levels of inner nodes drawn. @default the tree's depth */
  depthLimit?: number;
  /**
   * How long each of the two frames shows, in milliseconds.
   * @default 1500
   */
  delayMs?: number;
}

/**
 * A two-frame GIF of an input's decision path: the filters, then on the path the input
 * times the filters (correlation mode).
 *
 * @param tree The tree to draw.
 * @param options The input, its label, and the raster size (`scale` or `width`).
 * @returns The GIF file's bytes.
 * @throws {RangeError} When the input does not fit the tree.
 * @example
 * ```ts
 * const gif = await decisionPathGif(checkpoint, { input: x, label: 9 });
 * await Deno.writeFile("path.gif", gif);
 * ```
 */
export async function decisionPathGif(
  tree: DrawableTree,
  options: DecisionPathGifOptions,
): Promise<Uint8Array> {
  const { input, label, trueValue, depthLimit, delayMs = 1500, scale, width } = options;
  const frames: RgbaImage[] = [];
  for (const correlation of [false, true]) {
    const svg = treeSvg(tree, { input, label, trueValue, depthLimit, correlation });
    frames.push(await svgToRgba(svg, { scale, width }));
  }
  return encodeGif(frames, { delayMs });
}
