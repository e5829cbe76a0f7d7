import assert from "node:assert/strict";
import { learningCurvesSvg } from "../lib/render/curves.ts";
import { svgToPng } from "../lib/render/png.ts";
import { writeLearningCurves, writeTreePicture } from "../lib/render/write.ts";
import { randomTree } from "./_render_fixtures.ts";
import type { EpochRecord } from "../lib/train/types.ts";

function history(n: number): EpochRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    epoch: i + 1,
    trainLoss: 2 / (i + 1),
    penalty: 0.1,
    trainAccuracy: 0.8 + 0.01 * i,
    valAccuracy: 0.78 + 0.01 * i,
    valAccuracyMixture: 0.79 + 0.01 * i,
    learningRate: 5e-3,
    seconds: 1,
    samplesPerSecond: 1000,
  }));
}

Deno.test("learningCurvesSvg() draws loss and the three accuracies with a legend", () => {
  const svg = learningCurvesSvg(history(12));
  const series = [...svg.matchAll(/class="series" data-name="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(series, ["training loss", "training", "validation", "validation (mixture)"]);
  for (const label of ["Training loss", "Accuracy (max-leaf)", "epoch", "validation (mixture)"]) {
    assert.ok(svg.includes(`>${label}</text>`), label);
  }
  assert.equal(learningCurvesSvg(history(12)), svg, "deterministic");
});

Deno.test("learningCurvesSvg() copes with one epoch, none, and a non-finite loss", async () => {
  const one = learningCurvesSvg(history(1));
  assert.equal((one.match(/<circle/g) ?? []).length, 4);
  assert.ok(learningCurvesSvg([]).includes("no epochs recorded yet"));
  const bad = history(3);
  bad[1].trainLoss = NaN;
  const png = await svgToPng(learningCurvesSvg(bad));
  assert.equal(png[1], 0x50); // "P" of the PNG signature
});

Deno.test("writeLearningCurves() and writeTreePicture() write SVG or PNG by extension", async () => {
  const dir = await Deno.makeTempDir();
  await writeLearningCurves(`${dir}/run/curves.svg`, history(3));
  await writeLearningCurves(`${dir}/run/curves.png`, history(3));
  await writeTreePicture(`${dir}/run/tree.png`, randomTree(2));
  assert.ok((await Deno.readTextFile(`${dir}/run/curves.svg`)).startsWith("<svg"));
  assert.equal((await Deno.readFile(`${dir}/run/curves.png`))[1], 0x50);
  assert.equal((await Deno.readFile(`${dir}/run/tree.png`))[1], 0x50);
  const names = [...Deno.readDirSync(`${dir}/run`)].map((e) => e.name).sort();
  assert.deepEqual(names, ["curves.png", "curves.svg", "tree.png"], "no temporary files left");
  await assert.rejects(() => writeTreePicture(`${dir}/tree.jpg`, randomTree(2)), /\.svg or \.png/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("learningCurvesSvg() draws a regression tree's R², very negative values at the floor", () => {
  const h = history(5).map((r, i) => ({ ...r, valAccuracy: i === 0 ? -7 : 0.1 * i }));
  const svg = learningCurvesSvg(h, { score: "r2" });
  assert.ok(svg.includes(">R² (max-leaf)</text>"));
  assert.ok(!svg.includes("%</text>"), "R² is no percentage");
  // Every point lies inside the plot, whose floor is -1 at the lowest.
  const ys = [...svg.matchAll(/<circle cx="[^"]+" cy="([^"]+)"/g)].map((m) => Number(m[1]));
  const box = svg.match(/<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" fill="none"/g)!;
  assert.ok(box.length >= 2);
  const [, top, height] = box[1].match(/y="([^"]+)" width="[^"]+" height="([^"]+)"/)!.map(Number);
  assert.ok(ys.every((y) => y >= top - 1e-6 && y <= top + height + 1e-6), `${ys}`);
  assert.ok(svg.includes(">-1.00</text>") || svg.includes(">-1</text>"), "the floor is labelled");
});
