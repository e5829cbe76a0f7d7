import assert from "node:assert/strict";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { runCli } from "./_cli.ts";

const FIX = new URL("./fixtures/onnx/", import.meta.url).pathname;
const QUICK = ["--depth", "3", "--epochs", "2", "--batch-size", "32", "--no-pictures", "--json"];

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** A CSV of 40 rows with 2 features and 2 classes, and a logits file for it. */
async function tabularFiles(dir: string, logitRows = 40): Promise<void> {
  const data = ["a,b,label"], logits = ["logit0,logit1"];
  for (let r = 0; r < 40; r++) {
    const a = (r * 37) % 11, b = (r * 13) % 7;
    data.push(`${a},${b},${a > 5 ? 1 : 0}`);
  }
  for (let r = 0; r < logitRows; r++) {
    const a = (r * 37) % 11;
    logits.push(`${(5 - a) / 2},${(a - 5) / 2}`);
  }
  await Deno.writeTextFile(`${dir}/data.csv`, data.join("\n") + "\n");
  await Deno.writeTextFile(`${dir}/logits.csv`, logits.join("\n") + "\n");
}

Deno.test("distill --teacher model.onnx --teacher-mean/--teacher-std distills a PyTorch-exported ConvNet and records its preprocessing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli([
      "distill",
      "--teacher",
      `${FIX}mnist_convnet.onnx`,
      "--teacher-mean",
      "0.5",
      "--teacher-std",
      "0.5",
      "--limit",
      "600",
      "--out",
      `${dir}/run`,
      "--cache-dir",
      `${dir}/cache`,
      ...QUICK,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const s = r.json();
    // The fixture reaches about 89% on MNIST with the normalisation it was trained with.
    assert.ok((s.teacher_test_accuracy as number) > 0.8, `${s.teacher_test_accuracy}`);
    assert.ok((s.teacher_val_accuracy as number) > 0.8, `${s.teacher_val_accuracy}`);
    assert.ok((s.fidelity as number) >= 0 && (s.fidelity as number) <= 1);
    const [t] = s.teachers as Record<string, unknown>[];
    assert.equal(t.kind, "onnx");
    assert.deepEqual(t.input_shape, [1, 28, 28]);
    const p = t.preprocessing as Record<string, unknown>;
    assert.deepEqual([p.mean, p.std, p.layout, p.outputs], [[0.5], [0.5], "nchw", "logits"]);
    assert.match(r.stderr, /teacher: ONNX model .*mnist_convnet\.onnx .*mean 0\.5, std 0\.5/);
    assert.match(r.stderr, /validation accuracy \d+\.\d+%, test accuracy \d+\.\d+%/);
    // The checkpoint's data facts and metrics.json keep the teacher and its preprocessing.
    const ckpt = await loadTreeCheckpoint(`${dir}/run`);
    const recorded = ckpt.data.teacher![0] as { kind: string; preprocessing: { mean: number[] } };
    assert.equal(recorded.kind, "onnx");
    assert.deepEqual(recorded.preprocessing.mean, [0.5]);
    const metrics = JSON.parse(await Deno.readTextFile(`${dir}/run/metrics.json`));
    assert.deepEqual(metrics.teachers[0].preprocessing.std, [0.5]);
    // Its logits were cached; a second run reads them.
    const again = await runCli([
      "distill",
      "--teacher",
      `${FIX}mnist_convnet.onnx`,
      "--teacher-mean",
      "0.5",
      "--teacher-std",
      "0.5",
      "--limit",
      "600",
      "--out",
      `${dir}/run2`,
      "--cache-dir",
      `${dir}/cache`,
      ...QUICK,
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /soft labels: cached/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("teacher eval --teacher model.onnx reports its accuracy on a split, and the normalisation matters", async () => {
  const args = ["teacher", "eval", "--teacher", `${FIX}mnist_convnet_nhwc.onnx`, "--limit", "500"];
  const right = await runCli([...args, "--teacher-mean", "0.5", "--teacher-std", "0.5", "--json"]);
  assert.equal(right.code, 0, right.stderr);
  const s = right.json();
  assert.equal(s.split, "test");
  assert.ok((s.test_accuracy as number) > 0.8, `${s.test_accuracy}`);
  assert.equal((s.teacher as { preprocessing: { layout: string } }).preprocessing.layout, "nhwc");
  const val = await runCli([...args, "--split", "val", "--json", "--quiet"]);
  assert.equal(val.code, 0, val.stderr);
  assert.ok((val.json().val_accuracy as number) < (s.test_accuracy as number));
});

Deno.test("a teacher that does not fit the data is refused with both shapes, exit 1, no tree written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await tabularFiles(dir);
    const r = await runCli([
      "distill",
      "--data",
      `csv:${dir}/data.csv`,
      "--teacher",
      `${FIX}mnist_convnet.onnx`,
      "--out",
      `${dir}/run`,
      ...QUICK,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /the teacher takes 1×28×28, the data has 2 features/);
    assert.match(r.stderr, /mnist_convnet\.onnx/);
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/); // no stack trace
    assert.equal(await exists(`${dir}/run/tree.sdt`), false);
    // A file that is not a model at all.
    const bad = await runCli(["teacher", "eval", "--teacher", `${dir}/data.csv`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /data\.csv": it is neither an ONNX model nor a TensorFlow\.js/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("distill --soft-labels distills a teacher known only by its outputs file; a wrong row count is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await tabularFiles(dir);
    const data = ["--data", `csv:${dir}/data.csv`];
    const r = await runCli([
      "distill",
      ...data,
      "--soft-labels",
      `${dir}/logits.csv`,
      "--out",
      `${dir}/run`,
      ...QUICK,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const s = r.json();
    assert.equal(s.teacher_test_accuracy, 1); // the logits follow the label rule
    assert.equal((s.teachers as { kind: string }[])[0].kind, "soft-labels");
    assert.ok((s.fidelity as number) >= 0 && (s.fidelity as number) <= 1);
    const ev = await runCli([
      "teacher",
      "eval",
      ...data,
      "--soft-labels",
      `${dir}/logits.csv`,
      "--split",
      "val",
      "--json",
    ]);
    assert.equal(ev.code, 0, ev.stderr);
    assert.equal(ev.json().val_accuracy, 1);

    await tabularFiles(dir, 39);
    const short = await runCli([
      "distill",
      ...data,
      "--soft-labels",
      `${dir}/logits.csv`,
      "--out",
      `${dir}/run-short`,
      ...QUICK,
    ]);
    assert.equal(short.code, 1, short.stderr);
    assert.match(short.stderr, /logits\.csv" holds 39 rows, the data ".*data\.csv" has 40/);
    assert.equal(await exists(`${dir}/run-short/tree.sdt`), false);
    const both = await runCli([
      "distill",
      ...data,
      "--soft-labels",
      `${dir}/logits.csv`,
      "--teacher",
      `${FIX}tabular_mlp.onnx`,
    ]);
    assert.equal(both.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
