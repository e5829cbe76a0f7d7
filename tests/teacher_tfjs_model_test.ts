import assert from "node:assert/strict";
import { tf, tfl } from "../lib/deps.ts";
import { ensureTf } from "../lib/backends/tf_setup.ts";
import type { Dataset } from "../lib/data/types.ts";
import { openTeacher, teacherFileKind } from "../lib/teacher/open.ts";
import { softmaxT } from "../lib/teacher/soft_labels.ts";

function rows(n: number, f: number, imageShape: [number, number, number] | null): Dataset {
  let s = 11;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return {
    x: Float32Array.from({ length: n * f }, () => rand()),
    y: new Int32Array(n),
    n,
    features: f,
    classes: 3,
    imageShape,
    featureNames: null,
    source: "synthetic",
  };
}

/** Saves a layers model as `dir/model.json` + `dir/weights.bin`, as tfjs's file handlers do. */
async function saveLayers(model: tfl.LayersModel, dir: string): Promise<void> {
  await model.save(tf.io.withSaveHandler(async (a) => {
    await Deno.writeFile(`${dir}/weights.bin`, new Uint8Array(a.weightData as ArrayBuffer));
    await Deno.writeTextFile(
      `${dir}/model.json`,
      JSON.stringify({
        modelTopology: a.modelTopology,
        format: a.format,
        generatedBy: a.generatedBy,
        weightsManifest: [{ paths: ["weights.bin"], weights: a.weightSpecs }],
      }),
    );
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
  }));
}

Deno.test("any TensorFlow.js layers model (no softtree metadata) is a teacher: NHWC input, softmax output", async () => {
  await ensureTf();
  const dir = await Deno.makeTempDir();
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, activation: "relu" }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3, activation: "softmax" }),
    ],
  });
  try {
    await saveLayers(model, dir);
    assert.equal((await teacherFileKind(dir)).kind, "tfjs");
    const ds = rows(6, 16, [4, 4, 1]);
    const want = tf.tidy(() =>
      (model.predict(tf.tensor4d(ds.x, [6, 4, 4, 1])) as tf.Tensor).dataSync() as Float32Array
    );
    const t = await openTeacher(dir, ds);
    try {
      assert.equal(t.kind, "tfjs-layers");
      assert.equal(t.preprocessing!.layout, "nhwc");
      const got = softmaxT(await t.logits(ds.x, { batchSize: 4 }), 3);
      want.forEach((p, i) => assert.ok(Math.abs(got[i] - p) < 1e-5, `${i}: ${got[i]} vs ${p}`));
      assert.equal(t.preprocessing!.outputs, "probabilities");
      assert.match(t.describe(), /TensorFlow\.js layers model .*model\.json/);
    } finally {
      t.dispose();
    }
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a TensorFlow.js graph model (model.json written by hand) computes x W + b", async () => {
  const dir = await Deno.makeTempDir();
  const w = [1, 0, -1, 2, 1, 0, 0, 0.5, 3, -1, 1, 1]; // [4, 3]
  const b = [0.1, -0.2, 0.3];
  const json = {
    format: "graph-model",
    generatedBy: "test",
    convertedBy: "hand",
    modelTopology: {
      node: [
        {
          name: "x",
          op: "Placeholder",
          attr: {
            dtype: { type: "DT_FLOAT" },
            shape: { shape: { dim: [{ size: "-1" }, { size: "4" }] } },
          },
        },
        { name: "w", op: "Const", attr: { dtype: { type: "DT_FLOAT" }, value: { tensor: {} } } },
        { name: "b", op: "Const", attr: { dtype: { type: "DT_FLOAT" }, value: { tensor: {} } } },
        {
          name: "mm",
          op: "MatMul",
          input: ["x", "w"],
          attr: { T: { type: "DT_FLOAT" }, transpose_a: { b: false }, transpose_b: { b: false } },
        },
        { name: "logits", op: "BiasAdd", input: ["mm", "b"], attr: { T: { type: "DT_FLOAT" } } },
      ],
      library: {},
      versions: {},
    },
    weightsManifest: [{
      paths: ["group1-shard1of1.bin"],
      weights: [
        { name: "w", shape: [4, 3], dtype: "float32" },
        { name: "b", shape: [3], dtype: "float32" },
      ],
    }],
  };
  try {
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(json));
    await Deno.writeFile(
      `${dir}/group1-shard1of1.bin`,
      new Uint8Array(Float32Array.from([...w, ...b]).buffer),
    );
    const ds = rows(5, 4, null);
    const t = await openTeacher(`${dir}/model.json`, ds, { outputs: "logits" });
    try {
      assert.equal(t.kind, "tfjs-graph");
      const got = await t.logits(ds.x);
      for (let r = 0; r < 5; r++) {
        for (let k = 0; k < 3; k++) {
          let v = b[k];
          for (let j = 0; j < 4; j++) v += ds.x[r * 4 + j] * w[j * 3 + k];
          assert.ok(Math.abs(got[r * 3 + k] - v) < 1e-5);
        }
      }
    } finally {
      t.dispose();
    }
    // Its input does not fit 5 features: both shapes are named.
    await assert.rejects(
      () => openTeacher(`${dir}/model.json`, rows(2, 5, null)),
      /the teacher takes 4, the data has 5 features/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
