/**
 * Decoded images as samples: reading and decoding files (naming the one that fails), the
 * most common size, whether any image has colour, and conversion to one size and channel
 * count. Private to `lib/data/`.
 *
 * @module
 */
import { DatasetError } from "../errors.ts";
import { decodeImage, type Raster } from "../image/decode.ts";
import { resize, toChannels } from "../image/pixels.js";
import { readProblem } from "./_common.ts";
import type { RawSamples } from "./_arrays.ts";

/** An image size, `width` x `height` pixels. */
export interface ImageSize {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/**
 * Parses an image size `"WxH"` (`"28x28"`, `"32X24"`).
 *
 * @param text The size.
 * @returns Width and height.
 * @throws {RangeError} When it is not two positive integers joined by `x`.
 * @example
 * ```ts
 * parseImageSize("32x24"); // { width: 32, height: 24 }
 * ```
 */
export function parseImageSize(text: string): ImageSize {
  const m = /^\s*(\d+)\s*[xX×]\s*(\d+)\s*$/.exec(text);
  const width = m ? Number(m[1]) : 0;
  const height = m ? Number(m[2]) : 0;
  if (!(width >= 1 && height >= 1 && width <= 4096 && height <= 4096)) {
    throw new RangeError(
      `Invalid image size "${text}": expected WxH, two integers from 1 to 4096, e.g. "28x28"`,
    );
  }
  return { width, height };
}

/** One image file, decoded. */
export interface Image {
  path: string;
  raster: Raster;
}

/** Reads and decodes images; an unreadable one is named in the error. */
export async function decodeImages(paths: string[]): Promise<Image[]> {
  const out: Image[] = [];
  for (const path of paths) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (error) {
      throw new DatasetError(`Cannot read image "${path}": ${readProblem(error)}`, {
        cause: error,
      });
    }
    try {
      out.push({ path, raster: decodeImage(bytes, path) });
    } catch (error) {
      throw new DatasetError((error as Error).message, { cause: error });
    }
  }
  return out;
}

/** The most common size of the images (ties: the larger area). */
export function commonSize(images: Image[]): ImageSize {
  const counts = new Map<string, { size: ImageSize; count: number }>();
  for (const { raster: r } of images) {
    const key = `${r.width}x${r.height}`;
    const c = counts.get(key) ?? { size: { width: r.width, height: r.height }, count: 0 };
    c.count++;
    counts.set(key, c);
  }
  let best: { size: ImageSize; count: number } | null = null;
  for (const c of counts.values()) {
    if (
      !best || c.count > best.count ||
      (c.count === best.count && c.size.width * c.size.height > best.size.width * best.size.height)
    ) best = c;
  }
  return best!.size;
}

/** 3 when some pixel of some image has red, green and blue that differ, else 1. */
export function colourChannels(images: Image[]): 1 | 3 {
  for (const { raster: r } of images) {
    if (r.channels < 3) continue;
    const { data, channels } = r;
    for (let i = 0; i < data.length; i += channels) {
      if (data[i] !== data[i + 1] || data[i + 1] !== data[i + 2]) return 3;
    }
  }
  return 1;
}

/** Images as samples `[N, H, W, C]` in [0, 1]: channels converted, resized where needed. */
export function imagesToSamples(images: Image[], size: ImageSize, channels: 1 | 3): RawSamples {
  const features = size.width * size.height * channels;
  const values = new Float32Array(images.length * features);
  images.forEach(({ raster }, i) => {
    let plane = toChannels(raster, channels).image;
    if (raster.width !== size.width || raster.height !== size.height) {
      plane = resize(plane, size);
    }
    values.set(plane.values, i * features);
  });
  return {
    values,
    n: images.length,
    features,
    imageShape: [size.height, size.width, channels],
    unit: true,
  };
}

/** The image size option as `{ width, height }`. */
export function imageSizeOption(size: ImageSize | string | undefined): ImageSize | undefined {
  if (size === undefined || typeof size !== "string") {
    if (size) parseImageSize(`${size.width}x${size.height}`); // checks the range
    return size;
  }
  return parseImageSize(size);
}
