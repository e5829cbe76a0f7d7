import assert from "node:assert/strict";
import { cliInProcess } from "./_cli.ts";
import { saveTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { randomTree } from "./_render_fixtures.ts";
import { DEFAULT_TREE_CONFIG } from "../lib/tree/types.ts";

const run = cliInProcess;

async function makeRun(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const tree = randomTree(3);
  await saveTreeCheckpoint(dir, {
    config: { ...DEFAULT_TREE_CONFIG, ...tree.config },
    params: tree.params,
    data: tree.data,
    meta: {},
  });
  return dir;
}

Deno.test("draw writes SVG and PNG of a saved tree, by the output's extension", async () => {
  const dir = await makeRun();
  const svg = await run(["draw", "--model", dir, "--out", `${dir}/tree.svg`, "--quiet"]);
  assert.equal(svg.code, 0, svg.err);
  assert.ok((await Deno.readTextFile(`${dir}/tree.svg`)).startsWith("<svg"));
  const png = await run(["draw", "--model", dir, "--out", `${dir}/tree.png`, "--width", "300"]);
  assert.equal(png.code, 0, png.err);
  const bytes = await Deno.readFile(`${dir}/tree.png`);
  assert.equal(new DataView(bytes.buffer).getUint32(16), 300);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("draw --digit marks the path of a test image of that class", async () => {
  const dir = await makeRun();
  const r = await run([
    "draw",
    "--model",
    dir,
    "--digit",
    "9",
    "--seed",
    "3",
    "--correlation",
    "--json",
    "--quiet",
    "--out",
    `${dir}/path.svg`,
  ]);
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out);
  assert.equal(summary.label, 9);
  assert.equal(summary.path.length, 4);
  const svg = await Deno.readTextFile(`${dir}/path.svg`);
  assert.equal((svg.match(/class="edge on-path"/g) ?? []).length, 3);
  assert.ok(svg.includes(`data-max-leaf="${summary.max_leaf}"`));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("draw reports bad calls as usage errors and a missing model as a runtime error", async () => {
  const dir = await makeRun();
  // commander prints its own parse errors straight to stderr, so only the status is checked.
  const bad = await run(["draw", "--model", dir, "--out", `${dir}/x.jpg`]);
  assert.equal(bad.code, 2);
  const cases: [string[], number, RegExp][] = [
    [["--out", `${dir}/x.png`, "--item", "10000"], 2, /--item must be below 10000/],
    [["--out", `${dir}/x.png`, "--index", "10000"], 2, /--item must be below 10000/],
    [["--out", `${dir}/x.png`, "--class", "12"], 2, /"12" is not a class/],
    [["--out", `${dir}/x.png`, "--item", "1", "--index", "2"], 2, /--item or its old name --index/],
    [["--out", `${dir}/x.png`, "--gif"], 2, /must end in \.gif/],
    [["--out", `${dir}/x.gif`], 2, /give --item or --class/],
    [["--out", `${dir}/x.png`, "--correlation"], 2, /needs an input/],
  ];
  for (const [args, code, message] of cases) {
    const r = await run(["draw", "--model", dir, "--quiet", ...args]);
    assert.equal(r.code, code, args.join(" "));
    assert.match(r.err, message);
  }
  const missing = await run(["draw", "--model", `${dir}/nope`, "--out", `${dir}/x.png`]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /Cannot read tree checkpoint/);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["tree.sdt"], "nothing written");
  await Deno.remove(dir, { recursive: true });
});
