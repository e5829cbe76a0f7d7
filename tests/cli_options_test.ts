/**
 * The command line's options that change what a user gets, each checked by its effect:
 * `--schedule cosine` and `--beta-to` in the run's record and tree, `--label-column` in the
 * tree's classes and features, `--animate` as a GIF of several frames, the run's `tree.png`
 * and `curves.png` as real pictures, and `--verbose` as the cause chain of an error.
 */
import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";
import { separableCsv } from "./_tiny.ts";
import { countPixels, decodePng, gifFrames } from "./_images.ts";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { learningCurvesSvg } from "../lib/render/curves.ts";
import { treeSvg } from "../lib/render/tree_svg.ts";

const dir = await Deno.makeTempDir();
const csv = `${dir}/two-blobs.csv`;
await Deno.writeTextFile(csv, separableCsv(300));
const quick = [
  ...["--data", `csv:${csv}`, "--depth", "2", "--inv-temp", "1", "--learning-rate", "0.05"],
  ...["--restarts", "1", "--patience", "0", "--backend", "tfjs", "--quiet", "--no-pictures"],
  "--json",
];
const readJson = async (path: string) => JSON.parse(await Deno.readTextFile(path));

Deno.test("--schedule cosine lowers the learning rate epoch by epoch; constant keeps it", async () => {
  const rates: Record<string, number[]> = {};
  for (const schedule of ["cosine", "constant"]) {
    const out = `${dir}/schedule-${schedule}`;
    const r = await runCli([
      "train",
      ...quick,
      "--epochs",
      "4",
      "--schedule",
      schedule,
      "--out",
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const metrics = await readJson(`${out}/metrics.json`);
    assert.equal(metrics.fitOptions.schedule, schedule);
    rates[schedule] = metrics.history.map((h: { learningRate: number }) => h.learningRate);
  }
  assert.deepEqual(rates.constant, [0.05, 0.05, 0.05, 0.05]);
  const cos = rates.cosine;
  assert.equal(cos[0], 0.05, "the first epoch trains at the full rate");
  for (let e = 1; e < cos.length; e++) assert.ok(cos[e] < cos[e - 1], `falls: ${cos}`);
  assert.ok(cos[3] < 0.05 / 4 && cos[3] >= 0.05 * 0.05, `ends low, not below 5%: ${cos}`);
});

Deno.test("--beta-to anneals beta from --inv-temp: the saved tree has its epoch's beta", async () => {
  const beta = async (...args: string[]) => {
    const out = `${dir}/beta-${args.join("")}`;
    const r = await runCli(["train", ...quick, "--out", out, ...args]);
    assert.equal(r.code, 0, r.stderr);
    return {
      beta: (await loadTreeCheckpoint(out)).params.beta,
      best: r.json().best_epoch as number,
    };
  };
  assert.equal((await beta("--epochs", "1")).beta, 1, "without --beta-to beta stays");
  assert.equal((await beta("--epochs", "1", "--beta-to", "3")).beta, 3, "one epoch: at once");
  // Three epochs from 1 to 4: beta 1, 2, 4 geometrically; the kept tree is the best epoch's.
  const three = await beta("--epochs", "3", "--beta-to", "4");
  assert.ok(three.best > 1, `the data should improve after epoch 1 (best ${three.best})`);
  assert.equal(three.beta, [1, 2, 4][three.best - 1]);
  const bad = await runCli(["train", ...quick, "--beta-to", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--beta-to must be greater than 0/);
});

Deno.test("--label-column takes the label from a named or numbered column", async () => {
  const rows = ["kind,width,height,weight"];
  for (let i = 0; i < 60; i++) {
    const cat = i % 2 === 0;
    rows.push(`${cat ? "cat" : "dog"},${cat ? 1 + (i % 5) : 8 + (i % 5)},${i % 7},${i % 3}`);
  }
  const pets = `${dir}/pets.csv`;
  await Deno.writeTextFile(pets, rows.join("\n") + "\n");
  const train = (...args: string[]) =>
    runCli([
      ...["train", "--data", `csv:${pets}`, "--depth", "1", "--epochs", "1", "--restarts", "1"],
      ...["--backend", "tfjs", "--quiet", "--no-pictures", "--json", ...args],
    ]);
  for (const column of ["kind", "0"]) {
    const out = `${dir}/pets-${column}`;
    const r = await train("--label-column", column, "--out", out);
    assert.equal(r.code, 0, r.stderr);
    const ckpt = await loadTreeCheckpoint(out);
    assert.deepEqual(ckpt.data.classNames, ["cat", "dog"]);
    assert.deepEqual(ckpt.data.featureNames, ["width", "height", "weight"]);
    assert.equal(ckpt.config.features, 3);
  }
  // Without it the last column is the label, and the text column cannot be a feature.
  const last = await train("--out", `${dir}/pets-last`);
  assert.equal(last.code, 1);
  assert.match(last.stderr, /pets\.csv/);
  assert.match(last.stderr, /"cat"|kind/);
  const missing = await train("--label-column", "colour", "--out", `${dir}/pets-none`);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /colour/);
});

Deno.test("train draws tree.png and curves.png that show the tree and its curves, and --animate a GIF", async () => {
  const out = `${dir}/pictures`;
  const r = await runCli([
    ...["train", "--limit", "300", "--depth", "2", "--epochs", "2", "--batch-size", "16"],
    ...["--inv-temp", "1", "--restarts", "1", "--backend", "tfjs", "--animate", "--out", out],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const ckpt = await loadTreeCheckpoint(out);
  const metrics = await readJson(`${out}/metrics.json`);

  const tree = decodePng(await Deno.readFile(`${out}/tree.png`));
  const drawn = /width="(\d+)" height="(\d+)"/.exec(treeSvg(ckpt, {}))!.slice(1).map(Number);
  assert.equal(tree.height, drawn[1], "as tall as the drawing of a depth-2 tree");
  assert.ok(tree.width >= drawn[0], `at least as wide as the drawing: ${tree.width}`);
  const red = countPixels(tree, (r, g, b) => r > 150 && g < 110 && b < 110);
  const blue = countPixels(tree, (r, _, b) => b > 150 && r < 110);
  const ink = countPixels(tree, (r, g, b) => r + g + b < 200);
  assert.ok(red > 200 && blue > 200, `filters in red and blue: ${red} red, ${blue} blue pixels`);
  assert.ok(ink > 500, `text and edges: ${ink} dark pixels`);

  const curves = decodePng(await Deno.readFile(`${out}/curves.png`));
  const svg = learningCurvesSvg(metrics.history);
  const size = /width="(\d+)" height="(\d+)"/.exec(svg)!.slice(1).map(Number);
  assert.deepEqual([curves.width, curves.height], size);
  const colours = new Set<number>();
  countPixels(curves, (r, g, b) => colours.add((r << 16) | (g << 8) | b).size > 0);
  const lines = countPixels(curves, (r, g, b) => Math.max(r, g, b) - Math.min(r, g, b) > 80);
  assert.ok(lines > 300, `coloured curves: ${lines} saturated pixels`);
  assert.ok(colours.size > 20, `not a blank picture: ${colours.size} colours`);

  const gif = gifFrames(await Deno.readFile(`${out}/training.gif`));
  const told = /wrote .*training\.gif \((\d+) frames\)/.exec(r.stderr);
  assert.ok(told, r.stderr);
  // Before training, then after each of the two epochs (300 samples each).
  assert.equal(gif.frames, 3);
  assert.equal(gif.frames, Number(told[1]));
  assert.ok(gif.width > 100 && gif.height > 100);
});

Deno.test("--verbose adds the cause chain to a runtime error", async () => {
  const missing = `${dir}/no-such-run`;
  const plain = await runCli(["eval", "--model", missing]);
  const verbose = await runCli(["eval", "--model", missing, "--verbose"]);
  for (const r of [plain, verbose]) {
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: Cannot read tree checkpoint ".*no-such-run": no such file$/m);
    assert.match(r.stderr, /^hint: /m);
  }
  assert.doesNotMatch(plain.stderr, /caused by|NotFound|\bat .*\.ts:\d+/);
  assert.match(verbose.stderr, /^caused by:\nNotFound: No such file or directory/m);
  assert.match(verbose.stderr, /\bat .*checkpoint\.ts:\d+/, "with where it happened");
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

Deno.test("--help keeps to the common options and --help-all shows the advanced ones too", async () => {
  const help = await runCli(["distill", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--teacher-mean/);
  assert.doesNotMatch(help.stdout, /--augment-elastic/);
  assert.match(help.stdout, /\d+ more options: --help-all/);
  assert.ok(help.stdout.split("\n").length <= 80, `${help.stdout.split("\n").length} lines`);
  const all = await runCli(["distill", "--help-all"]);
  assert.equal(all.code, 0);
  assert.match(all.stdout, /--augment-elastic/);
  assert.doesNotMatch(all.stdout, /more options: --help-all/);
  // The old names stay hidden aliases, even in --help-all.
  const draw = await runCli(["draw", "--help-all"]);
  assert.doesNotMatch(draw.stdout, /--digit|--index/);
});
