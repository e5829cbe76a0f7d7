/**
 * PNG panels for the SVGs (filters, inputs), so that a 28x28 filter is one `<image>` rather
 * than 784 rectangles. Encoding is `fast-png`'s. Private to `lib/render/`.
 *
 * @module
 */
import { encodePng } from "./_deps.ts";

/**
 * Encode an RGB image `[height, width, 3]` as PNG, each source pixel drawn as a
 * `scale x scale` block (so renderers that smooth images still show crisp pixels).
 */
export function encodePngRgb(
  width: number,
  height: number,
  rgb: Uint8Array,
  scale = 1,
): Uint8Array {
  const w = width * scale;
  const h = height * scale;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const src = Math.floor(y / scale) * width;
    for (let x = 0; x < w; x++) {
      const from = (src + Math.floor(x / scale)) * 3;
      data.set(rgb.subarray(from, from + 3), (y * w + x) * 3);
    }
  }
  return encodePng({ width: w, height: h, data, channels: 3, depth: 8 });
}

/** A `data:image/png;base64,...` URI of an encoded PNG. */
export function pngDataUri(png: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < png.length; i += 0x8000) {
    bin += String.fromCharCode(...png.subarray(i, i + 0x8000));
  }
  return "data:image/png;base64," + btoa(bin);
}
