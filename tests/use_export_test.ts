import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { SoftDecisionTree } from "../lib/train/soft_tree.ts";
import { EXPORT_FILES } from "../lib/use/export.ts";
import { smallRun } from "./_use.ts";
import { cliInProcess as cli } from "./_cli.ts";

const run = await smallRun();
const { test } = run.splits;
const node = await new Deno.Command("node", { args: ["--version"], stdout: "null", stderr: "null" })
  .output().then((o) => o.success, () => false);
if (!node) console.warn("node is not installed: the export's Node test is skipped");

/** The library's max-leaf predictions and accuracy on the test split. */
async function libraryPredictions(): Promise<{ pred: Int32Array; accuracy: number }> {
  const tree = await SoftDecisionTree.fromCheckpoint(run.tree);
  try {
    const ev = tree.evaluate(test);
    return { pred: ev.predMaxLeaf, accuracy: ev.accuracy };
  } finally {
    tree.dispose();
  }
}

async function exported(): Promise<string> {
  const dir = `${await Deno.makeTempDir()}/predictor`;
  const r = await cli(["export", "--model", run.dir, "--out", dir, "--json"]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(
    JSON.parse(r.out).files.map((f: string) => f.slice(dir.length + 1)).sort(),
    Object.values(EXPORT_FILES).sort(),
  );
  return dir;
}

Deno.test("export's module predicts the test split exactly as the library does, imported by Deno", async () => {
  const dir = await exported();
  const json = JSON.parse(await Deno.readTextFile(`${dir}/tree.json`));
  // The weights read back as the very float32 values of the checkpoint.
  assert.deepEqual(Float32Array.from(json.w), run.tree.params.w);
  assert.deepEqual(Float32Array.from(json.phi), run.tree.params.phi);
  assert.equal(Math.fround(json.beta), run.tree.params.beta);
  const mod = await import(pathToFileURL(`${dir}/predict.mjs`).href);
  const { pred, accuracy } = await libraryPredictions();
  let right = 0;
  for (let i = 0; i < test.n; i++) {
    const p = mod.predict(test.x.subarray(i * 784, (i + 1) * 784));
    assert.equal(p.class, pred[i], `test input ${i}`);
    assert.equal(p.className, String(pred[i]));
    assert.equal(p.path.length, 5);
    assert.ok(Math.abs(p.probabilities.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-9);
    if (p.class === test.y[i]) right++;
  }
  assert.equal(right / test.n, accuracy);
  const readme = await Deno.readTextFile(`${dir}/README.md`);
  assert.match(readme, /depth 4\s+\(15 inner nodes, 16 leaves\), 784 features, 10 classes/);
  assert.match(readme, /import \{ predict \} from "\.\/predict\.mjs"/);
});

Deno.test({
  name:
    "Node imports the exported module from an empty folder and predicts the test split like eval",
  ignore: !node,
  fn: async () => {
    const source = await exported();
    const empty = await Deno.makeTempDir({ prefix: "softtree-node-" });
    await Deno.mkdir(`${empty}/predictor`);
    for (const name of Object.values(EXPORT_FILES)) {
      await Deno.copyFile(`${source}/${name}`, `${empty}/predictor/${name}`);
    }
    await Deno.writeFile(
      `${empty}/x.f32`,
      new Uint8Array(test.x.buffer, test.x.byteOffset, test.x.byteLength),
    );
    await Deno.writeTextFile(
      `${empty}/main.mjs`,
      `import { readFileSync } from "node:fs";
import { model, predict } from "./predictor/predict.mjs";
const bytes = readFileSync(new URL("./x.f32", import.meta.url));
const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
const classes = [];
for (let i = 0; i < x.length / model.features; i++) {
  classes.push(predict(x.subarray(i * model.features, (i + 1) * model.features)).class);
}
console.log(JSON.stringify(classes));
`,
    );
    const out = await new Deno.Command("node", {
      args: ["main.mjs"],
      cwd: empty,
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH") ?? "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(stderr, "", "node printed warnings");
    const classes: number[] = JSON.parse(new TextDecoder().decode(out.stdout));
    const { pred } = await libraryPredictions();
    assert.deepEqual(classes, Array.from(pred));
    // eval reports the same accuracy on the same split.
    const ev = await cli(["eval", "--model", run.dir, "--limit", "2000", "--json", "--quiet"]);
    assert.equal(ev.code, 0, ev.err);
    const right = classes.filter((k, i) => k === test.y[i]).length;
    assert.equal(right / test.n, JSON.parse(ev.out).accuracy);
  },
});

Deno.test("export refuses a folder holding other files and replaces an earlier export", async () => {
  const dir = await exported();
  const again = await cli(["export", "--model", run.dir, "--out", dir, "--quiet"]);
  assert.equal(again.code, 0, again.err);
  await Deno.writeTextFile(`${dir}/mine.txt`, "keep me");
  const refused = await cli(["export", "--model", run.dir, "--out", dir]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /holds other files \(mine\.txt\)/);
  assert.match(refused.err, /hint: give --out a new or empty folder/);
  assert.equal(await Deno.readTextFile(`${dir}/mine.txt`), "keep me");
});
