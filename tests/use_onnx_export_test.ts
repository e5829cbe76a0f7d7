import assert from "node:assert/strict";
import { ort } from "../lib/deps_onnx.ts";
import { main } from "../cli.ts";
import type { Dataset } from "../lib/data/types.ts";
import type { TreeCheckpoint } from "../lib/io/types.ts";
import { ONNX_NAMES, treeOnnx } from "../lib/use/onnx_export.ts";
import { onnx } from "../lib/use/_onnx_deps.ts";
import { TreePredictor } from "../lib/use/predict.ts";
import { tabularRun } from "./_tabular.ts";
import { smallRun } from "./_use.ts";

/** The raw values of a split's rows: the scaling undone (images are used as they are). */
function rawRows(tree: TreeCheckpoint, ds: Dataset): Float32Array {
  const sc = tree.data.scaling;
  if (!sc) return ds.x;
  const F = ds.features;
  return Float32Array.from(ds.x, (v, i) => sc.min[i % F] + v * (sc.max[i % F] - sc.min[i % F]));
}

/** softtree's prediction of a raw row, scaled as `predict` scales CSV rows. */
function scaled(tree: TreeCheckpoint, raw: Float32Array, i: number, F: number): Float32Array {
  const x = raw.slice(i * F, (i + 1) * F);
  const sc = tree.data.scaling;
  if (!sc) return x;
  for (let f = 0; f < F; f++) {
    const lo = sc.min[f], hi = sc.max[f];
    x[f] = hi > lo ? (x[f] - lo) / (hi - lo) : 0;
  }
  return x;
}

/** Runs tree.onnx in ONNX Runtime on a whole split and compares it with softtree's predictor. */
async function compare(tree: TreeCheckpoint, ds: Dataset) {
  const session = await ort.InferenceSession.create(treeOnnx(tree));
  const F = ds.features, K = tree.config.classes;
  const raw = rawRows(tree, ds);
  const out = await session.run({ [ONNX_NAMES.input]: new ort.Tensor("float32", raw, [ds.n, F]) });
  const predictor = new TreePredictor(tree);
  let classMismatch = 0, mixtureMismatch = 0, leafMismatch = 0, largest = 0;
  const probs = out[ONNX_NAMES.probabilities].data as Float32Array;
  const mixture = out[ONNX_NAMES.mixture].data as Float32Array;
  const reach = out[ONNX_NAMES.leafProbability].data as Float32Array;
  for (let i = 0; i < ds.n; i++) {
    const p = predictor.predict(scaled(tree, raw, i, F));
    if (Number(out[ONNX_NAMES.class].data[i]) !== p.class) classMismatch++;
    if (Number(out[ONNX_NAMES.mixtureClass].data[i]) !== p.mixtureClass) mixtureMismatch++;
    if (Number(out[ONNX_NAMES.leaf].data[i]) !== p.leaf) leafMismatch++;
    largest = Math.max(largest, Math.abs(reach[i] - p.leafProbability));
    for (let k = 0; k < K; k++) {
      largest = Math.max(
        largest,
        Math.abs(probs[i * K + k] - p.probabilities[k]),
        Math.abs(mixture[i * K + k] - p.mixture[k]),
      );
    }
  }
  return { classMismatch, mixtureMismatch, leafMismatch, largest, outputs: out };
}

Deno.test("tree.onnx of a tabular tree predicts the whole test split as softtree does, scaling inside", async () => {
  const run = await tabularRun();
  const r = await compare(run.tree, run.splits.test);
  assert.equal(r.classMismatch, 0, "max-leaf classes differ");
  assert.equal(r.mixtureMismatch, 0, "mixture classes differ");
  assert.equal(r.leafMismatch, 0, "leaves differ");
  assert.ok(r.largest <= 1e-5, `probabilities differ by up to ${r.largest}`);
  assert.deepEqual(r.outputs[ONNX_NAMES.probabilities].dims, [run.splits.test.n, 3]);
  await Deno.remove(run.dir, { recursive: true });
});

Deno.test("tree.onnx of an image tree predicts the whole test split as softtree does", async () => {
  const run = await smallRun();
  const r = await compare(run.tree, run.splits.test);
  assert.equal(run.splits.test.n, 2000);
  assert.equal(r.classMismatch, 0, "max-leaf classes differ");
  assert.equal(r.mixtureMismatch, 0, "mixture classes differ");
  assert.ok(r.largest <= 1e-5, `probabilities differ by up to ${r.largest}`);
  await Deno.remove(run.dir, { recursive: true });
});

Deno.test("tree.onnx uses standard operators only and documents its input with the feature names", async () => {
  const run = await tabularRun();
  const model = onnx.ModelProto.decode(treeOnnx(run.tree));
  const standard = new Set([
    "Cast",
    "Sub",
    "Mul",
    "Add",
    "MatMul",
    "Sigmoid",
    "Gather",
    "GatherElements",
    "ArgMax",
    "Unsqueeze",
    "Squeeze",
  ]);
  const graph = model.graph!;
  for (const n of graph.node!) assert.ok(standard.has(n.opType!), n.opType!);
  assert.ok(graph.node!.every((n) => !n.domain));
  const doc = graph.input![0].docString!;
  for (const name of ["age", "income", "constant", "noise_a", "noise_b"]) {
    assert.ok(doc.includes(name), `${name} missing from "${doc}"`);
  }
  assert.match(doc, /original units/);
  const props = Object.fromEntries(model.metadataProps!.map((p) => [p.key, p.value]));
  assert.deepEqual(JSON.parse(props.class_names!), ["high", "low", "mid"]);
  await Deno.remove(run.dir, { recursive: true });
});

Deno.test("export --format onnx writes tree.onnx that ONNX Runtime loads; other formats stay", async () => {
  const run = await tabularRun();
  const out = `${run.dir}/export`;
  const [log, error] = [console.log, console.error];
  let printed = "";
  console.log = (...a: unknown[]) => void (printed += a.join(" ") + "\n");
  console.error = () => {};
  let code: number, moduleCode: number;
  try {
    moduleCode = await main(["export", "--model", run.dir, "--out", `${out}-module`, "--quiet"]);
    code = await main(["export", "--model", run.dir, "--out", out, "--format", "onnx", "--json"]);
  } finally {
    [console.log, console.error] = [log, error];
  }
  assert.equal(code, 0);
  assert.equal(moduleCode, 0);
  assert.ok((await Deno.stat(`${out}-module/predict.mjs`)).isFile);
  const summary = JSON.parse(printed);
  assert.equal(summary.format, "onnx");
  assert.deepEqual(summary.files, [`${out}/tree.onnx`]);
  const session = await ort.InferenceSession.create(await Deno.readFile(`${out}/tree.onnx`));
  assert.deepEqual(session.outputNames, Object.values(ONNX_NAMES).filter((n) => n !== "input"));
  await Deno.remove(run.dir, { recursive: true });
});
