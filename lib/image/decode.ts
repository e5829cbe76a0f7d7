/**
 * PNG and JPEG files to rasters (`{ width, height, channels, data, maxValue }`, see
 * `pixels.js`), through the npm packages `fast-png` and `jpeg-js`. The format is told by the
 * file's first bytes, not by its name.
 *
 * @module
 */
import { decodeJpegData, decodePngData } from "./_deps.ts";
import type { Raster } from "./pixels.js";

export type { Raster } from "./pixels.js";

/** The file formats softtree reads inputs from, told by their first bytes. */
export type InputFormat = "png" | "jpeg" | "idx" | "gzip" | "unknown";

/** Images larger than this many pixels are refused (a 100-megapixel photo needs 400 MB). */
const MAX_PIXELS = 50_000_000;

/**
 * The format of a file from its first bytes: PNG's signature, JPEG's SOI marker, IDX's two
 * zero bytes and a known type code, or gzip's magic (an IDX file is often gzipped).
 *
 * @param bytes The file's content (the first 4 bytes are enough).
 * @returns The format, or `"unknown"`.
 * @example
 * ```ts
 * sniffFormat(await Deno.readFile("seven.png")); // "png"
 * ```
 */
export function sniffFormat(bytes: Uint8Array): InputFormat {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    return "png";
  }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return "gzip";
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && [8, 9, 11, 12, 13, 14].includes(b[2])) {
    return "idx";
  }
  return "unknown";
}

/** Unpacks 1, 2 or 4-bit samples (rows padded to whole bytes) into one byte each. */
function unpackBits(
  packed: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  depth: number,
): Uint8Array {
  const perRow = width * channels;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const out = new Uint8Array(perRow * height);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < perRow; i++) {
      const bit = i * depth;
      const byte = packed[y * rowBytes + (bit >> 3)];
      out[y * perRow + i] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

function decodePng(bytes: Uint8Array): Raster {
  const png = decodePngData(bytes);
  const { width, height } = png;
  if (width * height > MAX_PIXELS) throw new RangeError(`it is ${width}x${height}, too large`);
  if (png.palette) {
    // Indexed colour: look every pixel up in the palette (and its transparency table).
    const indices = png.depth < 8 ? unpackBits(png.data, width, height, 1, png.depth) : png.data;
    const alpha = png.transparency;
    const data = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      const entry = png.palette[indices[i]];
      if (!entry) {
        throw new RangeError(`pixel ${i} names palette entry ${indices[i]}, past its end`);
      }
      data.set([entry[0], entry[1], entry[2], alpha?.[indices[i]] ?? entry[3] ?? 255], i * 4);
    }
    return { width, height, channels: 4, data, maxValue: 255 };
  }
  if (png.depth < 8) {
    // Low bit-depth gray: stretch the samples to 0..255.
    const raw = unpackBits(png.data, width, height, png.channels, png.depth);
    const scale = 255 / ((1 << png.depth) - 1);
    const data = raw.map((v) => Math.round(v * scale));
    return { width, height, channels: png.channels, data, maxValue: 255 };
  }
  return {
    width,
    height,
    channels: png.channels,
    data: png.data,
    maxValue: png.depth === 16 ? 65535 : 255,
  };
}

function decodeJpeg(bytes: Uint8Array): Raster {
  const jpeg = decodeJpegData(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    maxResolutionInMP: MAX_PIXELS / 1e6,
  });
  return { width: jpeg.width, height: jpeg.height, channels: 4, data: jpeg.data, maxValue: 255 };
}

/**
 * Decodes a PNG (any bit depth and colour type, palettes included) or a JPEG (baseline or
 * progressive) into a raster.
 *
 * @param bytes The file's content.
 * @param name The file's name, for messages.
 * @returns Width, height, channels (1-4), samples and their maximum (255 or 65535).
 * @throws {TypeError} When the bytes are neither PNG nor JPEG, or cannot be decoded; the
 *   message names the file and the decoder's complaint.
 * @example
 * ```ts
 * const raster = decodeImage(await Deno.readFile("seven.png"), "seven.png");
 * raster.width; // 64
 * ```
 */
export function decodeImage(bytes: Uint8Array, name: string): Raster {
  const format = sniffFormat(bytes);
  if (format !== "png" && format !== "jpeg") {
    throw new TypeError(`Cannot read image "${name}": it is not a PNG or JPEG file`);
  }
  try {
    const raster = format === "png" ? decodePng(bytes) : decodeJpeg(bytes);
    if (!(raster.width > 0 && raster.height > 0)) {
      throw new RangeError(`it is ${raster.width}x${raster.height}`);
    }
    return raster;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new TypeError(
      `Cannot read image "${name}": the ${format.toUpperCase()} data is broken (${why})`,
      { cause: error },
    );
  }
}
