import assert from "node:assert/strict";
import { decodeImage } from "../lib/image/decode.ts";
import { prepareInputs } from "../lib/use/inputs.ts";
import { TreePredictor } from "../lib/use/predict.ts";
import { gifFrames } from "./_images.ts";
import { digit, digitImage, smallRun } from "./_use.ts";
import { cliInProcess as cli } from "./_cli.ts";

const run = await smallRun();

/** `softtree explain INPUT --model <the small run> --out OUT ...extra`, in process. */
const explain = (input: string, out: string, ...extra: string[]) =>
  cli(["explain", input, "--model", run.dir, "--out", out, ...extra]);

Deno.test("explain draws the decision path of one's own image, prepared as predict prepares it", async () => {
  const dir = await Deno.makeTempDir();
  const image = `${dir}/two.png`;
  await Deno.writeFile(image, digitImage(digit(run.splits, 1), { size: 64, invert: true }));
  const [input] = await prepareInputs([image], run.tree);
  const p = new TreePredictor(run.tree).predict(input.x!);

  const svg = await explain(image, `${dir}/path.svg`, "--label", "2", "--json");
  assert.equal(svg.code, 0, svg.err);
  const s = JSON.parse(svg.out);
  assert.equal(s.class, p.className);
  assert.equal(s.leaf, p.leaf);
  assert.deepEqual(s.path, p.path);
  assert.deepEqual(s.preprocessing, input.steps);
  const text = await Deno.readTextFile(`${dir}/path.svg`);
  assert.match(text, new RegExp(`data-max-leaf="${p.leaf}" data-predicted="${p.class}"`));
  assert.match(text, /input: .*two\.png/);
  assert.match(text, /true class: 2/);
  for (const node of p.path.slice(0, -1)) {
    assert.match(text, new RegExp(`class="inner on-path" data-node="${node}"`));
  }

  const png = await explain(image, `${dir}/path.png`, "--correlation", "--quiet");
  assert.equal(png.code, 0, png.err);
  const raster = decodeImage(await Deno.readFile(`${dir}/path.png`), "path.png");
  assert.ok(raster.width > 600 && raster.height > 400, `${raster.width}x${raster.height}`);

  const gif = await explain(image, `${dir}/path.gif`, "--width", "500", "--quiet");
  assert.equal(gif.code, 0, gif.err);
  const frames = gifFrames(await Deno.readFile(`${dir}/path.gif`));
  assert.equal(frames.frames, 2);
  assert.equal(frames.width, 500);
});

Deno.test("explain's mistakes: a file of many inputs needs --item, unknown labels and SVG sizes are usage errors, a broken image exits 1", async () => {
  const dir = await Deno.makeTempDir();
  const rows = [0, 1].map((i) => Array.from(digit(run.splits, i)).join(","));
  await Deno.writeTextFile(`${dir}/two.csv`, rows.join("\n"));
  const many = await explain(`${dir}/two.csv`, `${dir}/a.svg`);
  assert.equal(many.code, 2);
  assert.match(many.err, /holds 2 inputs: pick one with --item N/);
  const one = await explain(`${dir}/two.csv`, `${dir}/b.svg`, "--item", "1", "--json");
  assert.equal(one.code, 0, one.err);
  assert.equal(JSON.parse(one.out).input, `${dir}/two.csv:2`);
  const label = await explain(`${dir}/two.csv`, `${dir}/c.svg`, "--item", "0", "--class", "ten");
  assert.equal(label.code, 2);
  assert.match(label.err, /--class "ten" is not a class of this tree/);
  const size = await explain(`${dir}/two.csv`, `${dir}/d.svg`, "--scale", "2");
  assert.equal(size.code, 2);
  await Deno.writeTextFile(`${dir}/broken.png`, "nope");
  const broken = await explain(`${dir}/broken.png`, `${dir}/e.png`);
  assert.equal(broken.code, 1);
  assert.match(broken.err, /broken\.png": it is not a PNG or JPEG file/);
  assert.match(broken.err, /hint: /);
  assert.equal(await Deno.stat(`${dir}/e.png`).then(() => true, () => false), false);
});
