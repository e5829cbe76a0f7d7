/**
 * SVG to PNG (and to raw RGBA for GIF frames) through resvg, with the DejaVu Sans font that
 * ships with the project: system fonts are never loaded, so text renders the same on every
 * machine.
 *
 * @module
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadDejaVuFonts, Resvg } from "./_deps.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { FONT_FAMILY } from "./_svg.ts";

/** Options of {@linkcode svgToPng} and {@linkcode svgToRgba}: at most one of `scale`, `width`. */
export interface RasterOptions {
  /**
   * Zoom factor: output pixels per SVG unit.
   * @default 1
   */
  scale?: number;
  /** Output width in pixels (the height follows the SVG's aspect ratio). */
  width?: number;
}

/** Raw pixels of a rendered SVG. */
export interface RgbaImage {
  width: number;
  height: number;
  /** `[height, width, 4]` RGBA bytes. */
  pixels: Uint8Array;
}

let fonts: Promise<string[]> | undefined;

/**
 * The bundled DejaVu Sans fonts as files resvg can read. The native resvg takes fonts by
 * path only (`fontBuffers` is a WebAssembly-build option that the native build silently
 * ignores), so the bytes, which come from the `dejavu-fonts-ttf` npm package, are written
 * once into a versioned folder of the system's temporary directory and reused.
 * Called by the rasterizers; exported so that a caller can prepare them ahead of time.
 *
 * @returns The paths of the regular and bold TTF files.
 */
export function bundledFonts(): Promise<string[]> {
  fonts ??= (async () => {
    const dir = join(tmpdir(), "softtree-fonts-dejavu-2.37.3");
    await Deno.mkdir(dir, { recursive: true });
    const bytes = await loadDejaVuFonts();
    return await Promise.all(
      ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"].map(async (name, i) => {
        const path = join(dir, name);
        const size = await Deno.stat(path).then((s) => s.size, () => -1);
        if (size !== bytes[i].length) await writeFileAtomic(path, bytes[i]);
        return path;
      }),
    );
  })();
  fonts.catch(() => fonts = undefined); // a failed attempt may be retried
  return fonts;
}

function fitTo(options: RasterOptions) {
  const { scale, width } = options;
  if (scale !== undefined && width !== undefined) {
    throw new TypeError("Cannot rasterize: give either scale or width, not both");
  }
  if (width !== undefined) {
    if (!Number.isInteger(width) || width < 1) {
      throw new RangeError(`Cannot rasterize: width must be a whole number >= 1, got ${width}`);
    }
    return { mode: "width" as const, value: width };
  }
  const s = scale ?? 1;
  if (!(Number.isFinite(s) && s > 0)) {
    throw new RangeError(`Cannot rasterize: scale must be a positive number, got ${s}`);
  }
  return { mode: "zoom" as const, value: s };
}

async function render(svg: string, options: RasterOptions) {
  const fontFiles = await bundledFonts();
  const resvg = new Resvg(svg, {
    fitTo: fitTo(options),
    background: "#ffffff",
    font: {
      fontFiles,
      loadSystemFonts: false,
      defaultFontFamily: FONT_FAMILY,
      sansSerifFamily: FONT_FAMILY,
    },
  });
  return resvg.render();
}

/**
 * Rasterize an SVG document to PNG.
 *
 * @param svg An SVG document (e.g. from `treeSvg` or `learningCurvesSvg`).
 * @param options `scale` (default 1) or `width` in pixels.
 * @returns The PNG file's bytes.
 * @throws {TypeError} When both `scale` and `width` are given.
 * @throws {RangeError} When `scale` or `width` is not positive.
 * @example
 * ```ts
 * await Deno.writeFile("tree.png", await svgToPng(treeSvg(checkpoint), { scale: 2 }));
 * ```
 */
export async function svgToPng(svg: string, options: RasterOptions = {}): Promise<Uint8Array> {
  const image = await render(svg, options);
  return new Uint8Array(image.asPng());
}

/**
 * Rasterize an SVG document to raw RGBA pixels on a white background.
 *
 * @param svg An SVG document.
 * @param options `scale` (default 1) or `width` in pixels.
 * @returns Width, height and `[height, width, 4]` bytes.
 * @throws {TypeError} When both `scale` and `width` are given.
 * @example
 * ```ts
 * const { width, height, pixels } = await svgToRgba(svg, { width: 800 });
 * ```
 */
export async function svgToRgba(svg: string, options: RasterOptions = {}): Promise<RgbaImage> {
  const image = await render(svg, options);
  return { width: image.width, height: image.height, pixels: new Uint8Array(image.pixels) };
}
