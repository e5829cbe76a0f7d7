import assert from "node:assert/strict";
import { importanceSvg, weightListSvg } from "../lib/render/features_svg.ts";
import { svgToPng } from "../lib/render/png.ts";

Deno.test("weightListSvg() lists the largest weights by magnitude with their share of |w|²", () => {
  const svg = weightListSvg([0.1, -3, 2, 0], ["a", "b", "c", "d"], 0, 0, 160, 2);
  assert.match(svg, /data-features="b\|c"/);
  assert.match(svg, /data-share="0.9992"/);
  assert.ok(svg.includes("−3.00"), "the negative weight with its sign");
  assert.ok(svg.includes("2 of 4: 100% of |w|²"));
  // The bar of -3 is blue (left of the zero line), the bar of 2 red.
  assert.match(svg, /fill="rgb\(33,102,172\)"/);
});

Deno.test("importanceSvg() draws the most important features first and sums the rest", async () => {
  const names = Array.from({ length: 25 }, (_, f) => `feature ${f}`);
  const imp = names.map((_, f) => (f + 1) / 325);
  const svg = importanceSvg(imp, names, { top: 5, caption: "test split" });
  const bars = [...svg.matchAll(/data-feature="([^"]*)" data-importance="([^"]*)"/g)];
  assert.deepEqual(bars.map((m) => m[1]), [24, 23, 22, 21, 20].map((f) => `feature ${f}`));
  assert.ok(svg.includes("20 more features: 64.6% together"));
  assert.throws(() => importanceSvg([1], ["a", "b"]), /2 names for 1 features/);
  const png = await svgToPng(svg);
  assert.deepEqual([...png.subarray(1, 4)], [80, 78, 71]);
});
