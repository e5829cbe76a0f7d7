import assert from "node:assert/strict";
import type { Dataset } from "../lib/data/types.ts";
import { CheckpointError } from "../lib/errors.ts";
import { openOnnxTeacher } from "../lib/teacher/onnx.ts";
import { openTeacher, teacherFileKind } from "../lib/teacher/open.ts";
import { softmaxT } from "../lib/teacher/soft_labels.ts";
import type { AnyTeacher } from "../lib/teacher/any.ts";

const FIX = new URL("./fixtures/onnx/", import.meta.url).pathname;

/** Random images `[n, 28, 28, 1]` in [0, 1] (seeded). */
function images(n: number, seed = 1): Dataset {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const x = Float32Array.from({ length: n * 784 }, () => rand());
  return {
    x,
    y: new Int32Array(n),
    n,
    features: 784,
    classes: 10,
    imageShape: [28, 28, 1],
    featureNames: null,
    source: "images",
  };
}

/** Tabular rows `[n, 4]`, min-max scaled from raw values in [-2, 3], with 3 classes. */
function tabular(n: number, classes = 3): Dataset {
  let s = 5;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return {
    x: Float32Array.from({ length: n * 4 }, () => rand()),
    y: new Int32Array(n),
    n,
    features: 4,
    classes,
    imageShape: null,
    featureNames: ["a", "b", "c", "d"],
    source: "csv:t.csv",
    scaling: { min: [-2, -2, 0, 1], max: [3, 3, 1, 5] },
  };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

async function withTeacher<T>(t: Promise<AnyTeacher>, f: (t: AnyTeacher) => Promise<T>) {
  const teacher = await t;
  try {
    return await f(teacher);
  } finally {
    teacher.dispose();
  }
}

/** The MLP's forward pass from the weights exported beside it: Gemm, Relu, Gemm. */
async function mlpReference(
  ds: Dataset,
  pre: (v: number, j: number) => number,
): Promise<Float32Array> {
  const w = JSON.parse(await Deno.readTextFile(`${FIX}tabular_mlp.json`)) as Record<
    string,
    number[] | number[][]
  >;
  const w1 = w["hidden.weight"] as number[][], b1 = w["hidden.bias"] as number[];
  const w2 = w["out.weight"] as number[][], b2 = w["out.bias"] as number[];
  const out = new Float32Array(ds.n * 3);
  for (let r = 0; r < ds.n; r++) {
    const x = Array.from({ length: 4 }, (_, j) => {
      const s = ds.scaling!;
      return pre(ds.x[r * 4 + j] * (s.max[j] - s.min[j]) + s.min[j], j);
    });
    const h = w1.map((row, i) => Math.max(0, row.reduce((a, wij, j) => a + wij * x[j], b1[i])));
    w2.forEach((row, k) => out[r * 3 + k] = row.reduce((a, wkj, j) => a + wkj * h[j], b2[k]));
  }
  return out;
}

Deno.test("an ONNX MLP's logits match a forward pass computed from its weights, on the CSV's own values", async () => {
  const ds = tabular(37);
  const want = await mlpReference(ds, (v) => v);
  await withTeacher(
    openOnnxTeacher(`${FIX}tabular_mlp.onnx`, ds, { output: "logits" }),
    async (t) => {
      const got = await t.logits(ds.x, { batchSize: 8 });
      assert.ok(maxDiff(got, want) < 1e-4, `largest difference ${maxDiff(got, want)}`);
      assert.equal(t.preprocessing!.layout, "flat");
      assert.equal(t.preprocessing!.unscaled, true);
    },
  );
});

Deno.test("--teacher-scale, --teacher-mean and --teacher-std (per feature) reach the model", async () => {
  const ds = tabular(20);
  const mean = [0.5, -1, 2, 0], std = [2, 0.5, 1, 4];
  const want = await mlpReference(ds, (v, j) => (v * 3 - mean[j]) / std[j]);
  await withTeacher(
    openOnnxTeacher(`${FIX}tabular_mlp.onnx`, ds, { output: "logits", scale: 3, mean, std }),
    async (t) => {
      const got = await t.logits(ds.x);
      assert.ok(maxDiff(got, want) < 1e-4, `largest difference ${maxDiff(got, want)}`);
    },
  );
});

Deno.test("a model's probabilities output becomes log-probabilities whose softmax gives them back", async () => {
  const ds = tabular(16);
  const logits = await withTeacher(
    openOnnxTeacher(`${FIX}tabular_mlp.onnx`, ds, { output: "logits" }),
    (t) => t.logits(ds.x),
  );
  for (const outputs of ["auto", "probabilities"] as const) {
    await withTeacher(
      openOnnxTeacher(`${FIX}tabular_mlp.onnx`, ds, { output: "probabilities", outputs }),
      async (t) => {
        const got = await t.logits(ds.x);
        assert.ok(maxDiff(softmaxT(got, 3), softmaxT(logits, 3)) < 1e-5);
        assert.equal(t.preprocessing!.outputs, "probabilities");
      },
    );
  }
  // Told they are logits, probabilities are used as they are.
  await withTeacher(
    openOnnxTeacher(`${FIX}tabular_mlp.onnx`, ds, { output: "probabilities", outputs: "logits" }),
    async (t) => {
      const got = await t.logits(ds.x);
      assert.ok(got.every((v) => v >= 0 && v <= 1));
    },
  );
});

Deno.test("a model with several outputs needs --teacher-output, and an unknown name lists the outputs", async () => {
  const ds = tabular(4);
  await assert.rejects(
    () => openOnnxTeacher(`${FIX}tabular_mlp.onnx`, ds),
    (e: Error) =>
      e instanceof CheckpointError && /2 outputs \("logits", "probabilities"\)/.test(e.message) &&
      /--teacher-output/.test(e.message),
  );
  await assert.rejects(
    () => openOnnxTeacher(`${FIX}tabular_mlp.onnx`, ds, { output: "scores" }),
    /no output "scores".*"logits", "probabilities"/,
  );
});

Deno.test("NCHW, fixed batch 1, NHWC and external-weights exports of one ConvNet give the same logits", async () => {
  const ds = images(7);
  const options = { mean: [0.5], std: [0.5] };
  const base = await withTeacher(
    openOnnxTeacher(`${FIX}mnist_convnet.onnx`, ds, options),
    async (t) => {
      assert.equal(t.preprocessing!.layout, "nchw");
      assert.deepEqual([...t.inputShape], [1, 28, 28]);
      return await t.logits(ds.x, { batchSize: 3 });
    },
  );
  const layouts: Record<string, string> = {
    mnist_convnet_batch1: "nchw",
    mnist_convnet_nhwc: "nhwc",
    mnist_convnet_external: "nchw",
  };
  for (const [name, layout] of Object.entries(layouts)) {
    const done: number[] = [];
    const got = await withTeacher(openTeacher(`${FIX}${name}.onnx`, ds, options), async (t) => {
      assert.equal(t.kind, "onnx");
      assert.equal(t.preprocessing!.layout, layout, name);
      return await t.logits(ds.x, { batchSize: 4, onProgress: (d) => done.push(d) });
    });
    assert.ok(maxDiff(got, base) < 1e-4, `${name}: largest difference ${maxDiff(got, base)}`);
    assert.deepEqual(done, [4, 7], name);
  }
  // Without the normalisation the model sees other inputs.
  const raw = await withTeacher(openTeacher(`${FIX}mnist_convnet.onnx`, ds), (t) => t.logits(ds.x));
  assert.ok(maxDiff(raw, base) > 0.1);
});

Deno.test("the probabilities export of the ConvNet is recognised by auto and matches the logits export", async () => {
  const ds = images(5);
  const options = { mean: [0.5], std: [0.5] };
  const logits = await withTeacher(
    openTeacher(`${FIX}mnist_convnet.onnx`, ds, options),
    (t) => t.logits(ds.x),
  );
  const fromProbs = await withTeacher(
    openTeacher(`${FIX}mnist_convnet_probs.onnx`, ds, options),
    (t) => t.logits(ds.x),
  );
  assert.ok(maxDiff(softmaxT(fromProbs, 10), softmaxT(logits, 10)) < 1e-5);
});

Deno.test("a fixed-batch model labels a number of inputs that is not a multiple of its batch", async () => {
  const ds = images(3);
  const t = await openOnnxTeacher(`${FIX}mnist_convnet_batch1.onnx`, ds);
  try {
    assert.equal(t.fixedBatch, 1);
    assert.equal((await t.logits(ds.x, { batchSize: 2 })).length, 30);
  } finally {
    t.dispose();
  }
});

Deno.test("a layout that the model's input shape does not allow is refused, naming both shapes", async () => {
  const ds = images(2);
  await assert.rejects(
    () => openTeacher(`${FIX}mnist_convnet.onnx`, ds, { layout: "nhwc" }),
    /the teacher takes 1×28×28, the data has 28×28×1 images.*--teacher-layout nhwc/,
  );
});

Deno.test("a teacher whose input does not fit the data is refused, naming both shapes", async () => {
  const ds: Dataset = { ...tabular(3), features: 30, x: new Float32Array(90), scaling: undefined };
  await assert.rejects(
    () => openTeacher(`${FIX}mnist_convnet.onnx`, ds),
    (e: Error) =>
      e instanceof CheckpointError &&
      e.message.includes("the teacher takes 1×28×28, the data has 30 features") &&
      e.message.includes("mnist_convnet.onnx"),
  );
  await assert.rejects(
    () => openTeacher(`${FIX}tabular_mlp.onnx`, images(2), { output: "logits" }),
    /the teacher takes 4, the data has 28×28×1 images/,
  );
});

Deno.test("a teacher whose class count differs from the data's is refused, naming both", async () => {
  await assert.rejects(
    () => openTeacher(`${FIX}tabular_mlp.onnx`, tabular(3, 2), { output: "logits" }),
    /gives 3 outputs per input \("logits"\), the data has 2 classes/,
  );
});

Deno.test("NaN or infinite teacher outputs are an error naming the file and the input", async () => {
  const ds = tabular(3);
  await withTeacher(
    openOnnxTeacher(`${FIX}tabular_mlp.onnx`, ds, { output: "logits", scale: 1e30, std: [1e-30] }),
    async (t) => {
      await assert.rejects(
        () => t.logits(ds.x),
        (e: Error) =>
          e instanceof CheckpointError && /tabular_mlp\.onnx" gave (NaN|-?Infinity) for input 0/
            .test(e.message),
      );
    },
  );
});

Deno.test("a file that is neither ONNX nor TensorFlow.js is refused by content, whatever its name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/model.onnx`, "not a model\n");
    await Deno.writeTextFile(`${dir}/model.json`, '{"layers": []}');
    for (const f of ["model.onnx", "model.json"]) {
      await assert.rejects(
        () => openTeacher(`${dir}/${f}`, images(1)),
        (e: Error) =>
          e instanceof CheckpointError &&
          e.message.includes(`${f}": it is neither an ONNX model nor a TensorFlow.js model.json`),
      );
    }
    // An ONNX model is told by its bytes, not its name.
    await Deno.copyFile(`${FIX}mnist_convnet.onnx`, `${dir}/teacher.bin`);
    assert.equal((await teacherFileKind(`${dir}/teacher.bin`)).kind, "onnx");
    assert.equal((await teacherFileKind(`${dir}/nothing.onnx`)).kind, "missing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an ONNX teacher's fingerprint covers its preprocessing and its external data bytes", async () => {
  const dir = await Deno.makeTempDir();
  const ds = images(1);
  try {
    for (const f of ["mnist_convnet_external.onnx", "mnist_convnet_external.onnx.data"]) {
      await Deno.copyFile(`${FIX}${f}`, `${dir}/${f}`);
    }
    const file = `${dir}/mnist_convnet_external.onnx`;
    const fp = (o = {}) => withTeacher(openTeacher(file, ds, o), (t) => t.fingerprint());
    const a = await fp();
    assert.equal(await fp(), a);
    assert.notEqual(await fp({ mean: [0.5] }), a);
    const data = await Deno.readFile(`${file}.data`);
    data[100] ^= 1;
    await Deno.writeFile(`${file}.data`, data);
    assert.notEqual(await fp(), a);
    await Deno.remove(`${file}.data`);
    await assert.rejects(() => fp(), /external data file .*mnist_convnet_external\.onnx\.data/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
