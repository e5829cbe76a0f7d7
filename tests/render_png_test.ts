import assert from "node:assert/strict";
import { randomTree } from "./_render_fixtures.ts";
import { svgToPng, svgToRgba } from "../lib/render/png.ts";
import { treeSvg } from "../lib/render/tree_svg.ts";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function pngSize(png: Uint8Array): [number, number] {
  const v = new DataView(png.buffer, png.byteOffset);
  return [v.getUint32(16), v.getUint32(20)];
}

function svgSize(svg: string): [number, number] {
  const m = /<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg)!;
  return [Number(m[1]), Number(m[2])];
}

Deno.test("svgToPng() writes a PNG of the SVG's size, scaled or fitted to a width", async () => {
  const svg = treeSvg(randomTree(3), {});
  const [w, h] = svgSize(svg);
  const png = await svgToPng(svg);
  assert.deepEqual([...png.subarray(0, 8)], SIGNATURE);
  assert.deepEqual(pngSize(png), [w, h]);
  assert.deepEqual(pngSize(await svgToPng(svg, { scale: 2 })), [2 * w, 2 * h]);
  const [fw, fh] = pngSize(await svgToPng(svg, { width: 500 }));
  assert.equal(fw, 500);
  assert.ok(Math.abs(fh - (500 * h) / w) <= 1);
});

Deno.test("svgToPng() draws text with the bundled font (no system fonts)", async () => {
  const blank = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"></svg>`;
  const words = blank.replace(
    "></svg>",
    `><text x="4" y="28" font-family="DejaVu Sans" font-size="20">β = 0.5</text></svg>`,
  );
  const ink = async (svg: string) => {
    const { pixels } = await svgToRgba(svg);
    let dark = 0;
    for (let i = 0; i < pixels.length; i += 4) if (pixels[i] < 128) dark++;
    return dark;
  };
  assert.equal(await ink(blank), 0);
  assert.ok(await ink(words) > 100, "the text left ink on the picture");
});

Deno.test("svgToPng() rejects both scale and width, and non-positive sizes", async () => {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>`;
  await assert.rejects(() => svgToPng(svg, { scale: 2, width: 10 }), TypeError);
  await assert.rejects(() => svgToPng(svg, { scale: 0 }), RangeError);
  await assert.rejects(() => svgToPng(svg, { width: 0 }), RangeError);
});
