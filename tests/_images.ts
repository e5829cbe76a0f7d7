/**
 * Reading back the pictures softtree writes, to look at them in tests: a PNG decoder (8-bit
 * grey, RGB, grey-alpha and RGBA, not interlaced: what resvg writes) and a GIF block walker.
 */
import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";

/** A decoded PNG: `[height, width, 4]` RGBA bytes. */
export interface Rgba {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** Decode a PNG file's bytes; throws on anything this reader does not handle. */
export function decodePng(png: Uint8Array): Rgba {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  assert.deepEqual([...png.subarray(0, 8)], signature, "a PNG signature");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  for (let p = 8; p < png.length;) {
    const length = view.getUint32(p);
    const type = new TextDecoder().decode(png.subarray(p + 4, p + 8));
    const body = png.subarray(p + 8, p + 8 + length);
    if (type === "IHDR") {
      const h = new DataView(body.buffer, body.byteOffset, body.byteLength);
      width = h.getUint32(0);
      height = h.getUint32(4);
      const [depth, color, , , interlace] = body.subarray(8, 13);
      assert.equal(depth, 8, "8-bit samples");
      assert.equal(interlace, 0, "not interlaced");
      channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[color];
      assert.ok(channels, `PNG colour type ${color} is not handled here`);
    } else if (type === "IDAT") {
      idat.push(body);
    } else if (type === "IEND") {
      break;
    }
    p += 12 + length;
  }
  const compressed = new Uint8Array(idat.reduce((n, part) => n + part.length, 0));
  idat.reduce((at, part) => (compressed.set(part, at), at + part.length), 0);
  const raw = new Uint8Array(inflateSync(compressed));
  const stride = width * channels;
  assert.equal(raw.length, height * (stride + 1), "the image data fills the picture");
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = rows.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? rows.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? out[i - channels] : 0;
      const b = up[i];
      const c = i >= channels ? up[i - channels] : 0;
      let predicted = 0;
      if (filter === 1) predicted = a;
      else if (filter === 2) predicted = b;
      else if (filter === 3) predicted = (a + b) >> 1;
      else if (filter === 4) {
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else assert.equal(filter, 0, `PNG filter ${filter}`);
      out[i] = (line[i] + predicted) & 0xff;
    }
  }
  const pixels = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const s = rows.subarray(i * channels, (i + 1) * channels);
    const [r, g, b, alpha] = channels >= 3
      ? [s[0], s[1], s[2], channels === 4 ? s[3] : 255]
      : [s[0], s[0], s[0], channels === 2 ? s[1] : 255];
    pixels.set([r, g, b, alpha], i * 4);
  }
  return { width, height, pixels };
}

/** How many pixels satisfy `test(r, g, b, a)`. */
export function countPixels(
  image: Rgba,
  test: (r: number, g: number, b: number, a: number) => boolean,
): number {
  let n = 0;
  const p = image.pixels;
  for (let i = 0; i < p.length; i += 4) if (test(p[i], p[i + 1], p[i + 2], p[i + 3])) n++;
  return n;
}

/** The number of images and the logical screen size of a GIF, by walking its blocks. */
export function gifFrames(gif: Uint8Array): { frames: number; width: number; height: number } {
  const v = new DataView(gif.buffer, gif.byteOffset);
  assert.equal(new TextDecoder().decode(gif.subarray(0, 6)), "GIF89a");
  const width = v.getUint16(6, true);
  const height = v.getUint16(8, true);
  let p = 13;
  if (gif[10] & 0x80) p += 3 * 2 ** ((gif[10] & 7) + 1);
  const skipSubBlocks = () => {
    while (gif[p] !== 0) p += gif[p] + 1;
    p++;
  };
  let frames = 0;
  while (p < gif.length) {
    const b = gif[p++];
    if (b === 0x3b) return { frames, width, height };
    if (b === 0x21) {
      p++; // label
      skipSubBlocks();
    } else if (b === 0x2c) {
      frames++;
      const flags = gif[p + 8];
      p += 9;
      if (flags & 0x80) p += 3 * 2 ** ((flags & 7) + 1);
      p++; // LZW minimum code size
      skipSubBlocks();
    } else {
      throw new Error(`Unexpected GIF block 0x${b.toString(16)} at ${p - 1}`);
    }
  }
  throw new Error("GIF has no trailer");
}
