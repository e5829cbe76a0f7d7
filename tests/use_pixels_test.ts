import assert from "node:assert/strict";
import { encode as encodePng } from "npm:fast-png@8.0.0";
import { loadData } from "../lib/data/mod.ts";
import { encodePngRgb } from "../lib/render/_png_encode.ts";
import { decodeImage, sniffFormat } from "../lib/image/decode.ts";
import { frameDigit, type ImageTarget, prepareImage, resize } from "../lib/image/pixels.js";
import { digitImage } from "./_use.ts";

const MNIST: ImageTarget = { height: 28, width: 28, channels: 1, lightOnDark: true, digit: true };
const splits = await loadData("mnist", { limit: { train: 1, val: 1, test: 20 } });
const testDigit = (i: number) => splits.test.x.slice(i * 784, (i + 1) * 784);

/** The bounding box of values above 0.2 and the centre of mass (in pixel indices) of a `[h, w]` image. */
function inkStats(v: ArrayLike<number>, w: number, h: number) {
  let x0 = w, x1 = -1, y0 = h, y1 = -1, m = 0, mx = 0, my = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const a = v[y * w + x];
      if (a > 0.2) {
        [x0, x1, y0, y1] = [Math.min(x0, x), Math.max(x1, x), Math.min(y0, y), Math.max(y1, y)];
      }
      m += a;
      mx += a * x;
      my += a * y;
    }
  }
  return { width: x1 - x0 + 1, height: y1 - y0 + 1, cx: mx / m, cy: my / m };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) [ma, mb] = [ma + a[i] / n, mb + b[i] / n];
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

Deno.test("a 28x28 MNIST digit saved as PNG comes back exactly as the data set holds it", () => {
  for (let i = 0; i < 5; i++) {
    const x = testDigit(i);
    const raster = decodeImage(digitImage(x), `digit-${i}.png`);
    const p = prepareImage(raster, MNIST);
    assert.deepEqual(p.x, x, `test digit ${i}`);
    assert.equal(p.inverted, false);
    assert.equal(p.fit, "none");
    assert.match(
      p.steps.join("; "),
      /^28x28 gray, 8-bit to \[0, 1\]; dark background \(0\.00\): kept$/,
    );
  }
});

Deno.test("dark-on-light images are inverted for light-on-dark models, and the steps say so", () => {
  const x = testDigit(1);
  for (const channels of [1, 3, 4] as const) {
    const raster = decodeImage(digitImage(x, { invert: true, channels }), "inverted.png");
    const p = prepareImage(raster, MNIST);
    assert.equal(p.inverted, true);
    assert.match(p.steps.join("; "), /light background \(1\.00\): inverted/);
    for (let f = 0; f < 784; f++) assert.ok(Math.abs(p.x[f] - x[f]) < 1e-6, `pixel ${f}`);
  }
  // Asked not to, it does not; asked to, it does even on a dark background.
  const dark = decodeImage(digitImage(x), "dark.png");
  assert.equal(
    prepareImage(decodeImage(digitImage(x, { invert: true }), "l.png"), MNIST, { invert: "never" })
      .inverted,
    false,
  );
  assert.equal(prepareImage(dark, MNIST, { invert: "always" }).x[0], 1);
  // Colour models are not inverted by default.
  assert.equal(
    prepareImage(dark, { ...MNIST, channels: 3, lightOnDark: false, digit: false }).inverted,
    false,
  );
});

Deno.test("digit framing scales the ink into a 20-pixel box and centres it by mass, as MNIST", () => {
  // A 120x80 black image with a white bar of 40x12 pixels near its corner.
  const w = 120, h = 80;
  const gray = new Float64Array(w * h);
  for (let y = 5; y < 17; y++) for (let x = 6; x < 46; x++) gray[y * w + x] = 1;
  const { image, notes } = frameDigit({ width: w, height: h, channels: 1, values: gray }, {
    width: 28,
    height: 28,
  });
  const values = image.values;
  const s = inkStats(values, 28, 28);
  assert.equal(s.width, 20);
  assert.equal(s.height, 6);
  assert.ok(Math.abs(s.cx - 14) <= 0.5 && Math.abs(s.cy - 14) <= 0.5, `centre (${s.cx}, ${s.cy})`);
  assert.match(
    notes.join("; "),
    /MNIST framing: ink 40x12 to 20x6, centre of mass at \(14, 14\) of 28x28/,
  );
  const blank = { width: w, height: h, channels: 1, values: new Float64Array(w * h) };
  assert.throws(() => frameDigit(blank, { width: 28, height: 28 }), /blank/);
});

/** The image moved by `(dx, dy)` pixels, `[28 * 28]`. */
function shifted(x: ArrayLike<number>, dx: number, dy: number): Float64Array {
  const out = new Float64Array(784);
  for (let y = 0; y < 28; y++) {
    for (let c = 0; c < 28; c++) {
      const [sx, sy] = [c - dx, y - dy];
      if (sx >= 0 && sx < 28 && sy >= 0 && sy < 28) out[y * 28 + c] = x[sy * 28 + sx];
    }
  }
  return out;
}

Deno.test("larger, inverted PNGs and JPEGs of test digits are framed back onto the originals", () => {
  // MNIST centres by the centre of mass to the nearest pixel, so a reframed digit may sit one
  // pixel off: compare at the best of the nine shifts by at most one pixel.
  for (let i = 0; i < 10; i++) {
    const x = testDigit(i);
    for (const [size, format] of [[64, "jpeg"], [100, "png"], [41, "jpeg"]] as const) {
      const raster = decodeImage(digitImage(x, { size, invert: true, format }), "big");
      const p = prepareImage(raster, MNIST);
      assert.equal(p.fit, "digit");
      assert.equal(p.inverted, true);
      let best = -1;
      for (let dx = -1; dx <= 1; dx++) {
        for (let dy = -1; dy <= 1; dy++) {
          best = Math.max(best, correlation(shifted(p.x, dx, dy), x));
        }
      }
      assert.ok(best > 0.85, `digit ${i} at ${size} (${format}): correlation ${best.toFixed(3)}`);
    }
  }
});

Deno.test("stretch resizes the whole image, and 'none' refuses another size", () => {
  const raster = decodeImage(digitImage(testDigit(0), { size: 56 }), "d.png");
  const p = prepareImage(raster, MNIST, { fit: "stretch" });
  assert.equal(p.fit, "stretch");
  assert.match(p.steps.at(-1)!, /resized 56x56 to 28x28/);
  assert.ok(correlation(p.x, testDigit(0)) > 0.95);
  assert.throws(
    () => prepareImage(raster, MNIST, { fit: "none" }),
    /the image is 56x56 and the model reads 28x28/,
  );
  // Area averaging of a 2x upscale by pixel replication gives back the original exactly.
  const twice = new Float64Array(56 * 56).map((_, i) =>
    testDigit(0)[(Math.floor(i / 112) * 28) + (i % 56 >> 1)]
  );
  const back =
    resize({ width: 56, height: 56, channels: 1, values: twice }, { width: 28, height: 28 })
      .values;
  for (let f = 0; f < 784; f++) assert.ok(Math.abs(back[f] - testDigit(0)[f]) < 1e-7);
});

/** A PNG one pixel high, encoded and decoded again as `name`. */
function pngRow(name: string, options: Omit<Parameters<typeof encodePng>[0], "height">) {
  return decodeImage(encodePng({ ...options, height: 1 }), name);
}

Deno.test("PNGs of every colour type decode: 16-bit, palette, 1-bit gray, gray+alpha over white", () => {
  // 16-bit gray.
  const g16 = pngRow("g16.png", {
    width: 2,
    data: new Uint16Array([0, 65535]),
    channels: 1,
    depth: 16,
  });
  assert.equal(g16.maxValue, 65535);
  assert.deepEqual(
    Array.from(prepareImage(g16, { ...MNIST, width: 2, height: 1 }, { invert: "never" }).x),
    [0, 1],
  );
  // 1-bit gray, 10 pixels wide: the row is padded to two bytes.
  const bits = pngRow("bits.png", {
    width: 10,
    data: new Uint8Array([0b10100000, 0b01000000]),
    channels: 1,
    depth: 1,
  });
  assert.deepEqual(Array.from(bits.data), [255, 0, 255, 0, 0, 0, 0, 0, 0, 255]);
  // Palette: indices looked up.
  const pal = pngRow("pal.png", {
    width: 2,
    data: new Uint8Array([0, 1]),
    depth: 8,
    channels: 1,
    palette: [[255, 0, 0], [0, 0, 255]],
  });
  const rgbModel = { height: 1, width: 2, channels: 3, lightOnDark: false, digit: false };
  assert.deepEqual(Array.from(prepareImage(pal, rgbModel).x), [1, 0, 0, 0, 0, 1]);
  // RGBA: a fully transparent pixel is white, as a browser shows it.
  const rgba = pngRow("rgba.png", {
    width: 2,
    data: new Uint8Array([0, 0, 0, 255, 0, 0, 0, 0]),
    channels: 4,
    depth: 8,
  });
  const clear = prepareImage(rgba, rgbModel);
  assert.deepEqual(Array.from(clear.x), [0, 0, 0, 1, 1, 1]);
  assert.match(clear.steps.join("; "), /transparent pixels over white/);
  // Gray + alpha: half-transparent black is mid-gray; colour becomes gray by luma.
  const ga = pngRow("ga.png", { width: 1, data: new Uint8Array([0, 128]), channels: 2, depth: 8 });
  assert.ok(
    Math.abs(
      prepareImage(ga, { ...MNIST, width: 1, height: 1 }, { invert: "never" }).x[0] -
        (1 - 128 / 255),
    ) < 1e-6,
  );
  const red = pngRow("red.png", {
    width: 1,
    data: new Uint8Array([255, 0, 0]),
    channels: 3,
    depth: 8,
  });
  const p = prepareImage(red, { ...MNIST, width: 1, height: 1 }, { invert: "never" });
  assert.ok(Math.abs(p.x[0] - 0.299) < 1e-6);
  assert.match(p.steps.join("; "), /colour to gray \(luma\)/);
});

Deno.test("broken and foreign files are clear errors that name the file", () => {
  const png = digitImage(testDigit(0));
  assert.equal(sniffFormat(png), "png");
  assert.equal(sniffFormat(digitImage(testDigit(0), { format: "jpeg" })), "jpeg");
  assert.throws(
    () => decodeImage(png.subarray(0, 40), "cut.png"),
    /Cannot read image "cut\.png": the PNG data is broken \(/,
  );
  assert.throws(
    () => decodeImage(new Uint8Array([0xff, 0xd8, 0xff, 0x01, 2, 3]), "bad.jpg"),
    /Cannot read image "bad\.jpg": the JPEG data is broken/,
  );
  assert.throws(
    () => decodeImage(new TextEncoder().encode("hello"), "a.png"),
    /Cannot read image "a\.png": it is not a PNG or JPEG file/,
  );
  const rgbModel = { height: 28, width: 28, channels: 2, lightOnDark: false, digit: false };
  assert.throws(
    () => prepareImage(decodeImage(png, "d.png"), rgbModel),
    /the image has 1 colour channels and the model reads 2/,
  );
});

Deno.test("the pictures' PNG panels (fast-png) decode to the pixels drawn, each as a scale x scale block", () => {
  const rgb = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i * 13);
  const raster = decodeImage(encodePngRgb(3, 2, rgb, 4), "panel.png");
  assert.equal(raster.width, 12);
  assert.equal(raster.height, 8);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 12; x++) {
      const src = (Math.floor(y / 4) * 3 + Math.floor(x / 4)) * 3;
      assert.deepEqual(
        Array.from(raster.data).slice((y * 12 + x) * 3, (y * 12 + x) * 3 + 3),
        Array.from(rgb.subarray(src, src + 3)),
      );
    }
  }
});
