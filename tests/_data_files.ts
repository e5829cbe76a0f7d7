/**
 * Data files written by tests: PNG images (lib/render's encoder, fast-png), JPEG images
 * (jpeg-js's encoder), `.npy` arrays and `.npz` archives (fflate's zip).
 */
import { join } from "node:path";
import { zipSync } from "npm:fflate@0.8.3";
import { encode as encodeJpegData } from "npm:jpeg-js@0.4.4";
import { encodePng } from "../lib/render/_deps.ts";

/** A PNG of `[height, width, channels]` bytes (channels 1, 2, 3 or 4). */
export function png(width: number, height: number, channels: number, data: Uint8Array): Uint8Array {
  return encodePng({ width, height, data, channels, depth: 8 });
}

/** A JPEG (quality 95) of RGB bytes `[height, width, 3]`. */
export function jpeg(width: number, height: number, rgb: Uint8Array): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  return new Uint8Array(encodeJpegData({ width, height, data: rgba }, 95).data);
}

/** The colours of the coloured-folder classes, and their names. */
export const COLOURS: Record<string, [number, number, number]> = {
  blue: [20, 40, 230],
  green: [30, 200, 40],
  red: [220, 30, 30],
};

/**
 * An RGB image of one class: a square of the class colour whose place depends on `i`, on a
 * background tinted with it, with a little noise. `[height, width, 3]`.
 */
export function colourImage(cls: string, i: number, width = 6, height = 5): Uint8Array {
  const [r, g, b] = COLOURS[cls];
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = Math.abs(x - (i % width)) <= 1 && Math.abs(y - (i % height)) <= 1;
      const noise = (x * 7 + y * 13 + i * 5) % 9;
      const px = inside ? [r, g, b] : [r, g, b].map((v) => Math.round(v * 0.5 + 60 + noise));
      out.set(px, (y * width + x) * 3);
    }
  }
  return out;
}

/**
 * Writes a colour image folder: `dir/train/<class>/` with `perClass` PNGs per class (every
 * fifth a JPEG), and `dir/test/<class>/` with 3 PNGs per class.
 */
export async function writeColourFolder(dir: string, perClass = 12): Promise<void> {
  for (const [split, count] of [["train", perClass], ["test", 3]] as const) {
    for (const cls of Object.keys(COLOURS)) {
      const folder = join(dir, split, cls);
      await Deno.mkdir(folder, { recursive: true });
      for (let i = 0; i < count; i++) {
        const k = split === "test" ? i + 100 : i;
        const rgb = colourImage(cls, k);
        const useJpeg = split === "train" && i % 5 === 4;
        await Deno.writeFile(
          join(folder, `${cls}-${i}.${useJpeg ? "jpg" : "png"}`),
          useJpeg ? jpeg(6, 5, rgb) : png(6, 5, 3, rgb),
        );
      }
    }
  }
}

/** NumPy `descr` strings of the typed arrays a test writes. */
const DESCR = new Map<unknown, string>([
  [Uint8Array, "|u1"],
  [Int8Array, "|i1"],
  [Int16Array, "<i2"],
  [Int32Array, "<i4"],
  [BigInt64Array, "<i8"],
  [Float32Array, "<f4"],
  [Float64Array, "<f8"],
]);

/** The bytes of a `.npy` file (version 1.0) holding `data` with `shape`. */
export function npy(
  data:
    | Uint8Array
    | Int8Array
    | Int16Array
    | Int32Array
    | BigInt64Array
    | Float32Array
    | Float64Array,
  shape: number[],
  options: { descr?: string; fortran?: boolean } = {},
): Uint8Array {
  const descr = options.descr ?? DESCR.get(data.constructor)!;
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let header = `{'descr': '${descr}', 'fortran_order': ${
    options.fortran ? "True" : "False"
  }, 'shape': (${dims}), }`;
  // Pad with spaces so that the data starts at a multiple of 64, ending in a newline.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1) + "\n";
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

/** A `.npy` of unicode strings (`<U`). */
export function npyStrings(values: string[]): Uint8Array {
  const chars = Math.max(1, ...values.map((v) => [...v].length));
  const data = new Uint32Array(values.length * chars);
  values.forEach((v, i) => [...v].forEach((ch, c) => data[i * chars + c] = ch.codePointAt(0)!));
  return npy(new Uint8Array(data.buffer), [values.length], { descr: `<U${chars}` });
}

/** The bytes of a `.npz` archive of the given `.npy` files (names without `.npy`). */
export function npz(arrays: Record<string, Uint8Array>): Uint8Array {
  return zipSync(Object.fromEntries(Object.entries(arrays).map(([k, v]) => [`${k}.npy`, v])));
}

/** Runs `fn` in a fresh temporary folder, removed afterwards. */
export async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "softtree-data-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
