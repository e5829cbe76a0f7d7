/**
 * A minimal PNG encoder for the small pixel panels embedded in the SVGs (filters, inputs),
 * so that a 28x28 filter is one `<image>` rather than 784 rectangles. Private to `lib/render/`.
 *
 * @module
 */
import { deflateSync } from "node:zlib";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

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
  const stride = 1 + w * 3;
  const raw = new Uint8Array(h * stride);
  for (let y = 0; y < h; y++) {
    const row = y * stride;
    if (y % scale !== 0) {
      raw[row] = 2; // "Up" filter: a repeated row is all zeros and deflates to nothing.
      continue;
    }
    raw[row] = 0;
    const sy = y / scale;
    for (let x = 0; x < w; x++) {
      const src = (sy * width + Math.floor(x / scale)) * 3;
      raw.set(rgb.subarray(src, src + 3), row + 1 + x * 3);
    }
  }
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, w);
  hv.setUint32(4, h);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, adaptive filtering, no interlace
  const idat = new Uint8Array(deflateSync(raw, { level: 9 }));
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A `data:image/png;base64,...` URI of an encoded PNG. */
export function pngDataUri(png: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < png.length; i += 0x8000) {
    bin += String.fromCharCode(...png.subarray(i, i + 0x8000));
  }
  return "data:image/png;base64," + btoa(bin);
}
