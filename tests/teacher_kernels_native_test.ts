/**
 * The teacher's native kernels (ffi/stk_cpu.c through lib/teacher/kernels_native.ts) against
 * the reference, TensorFlow.js's plain CPU backend: every kernel forward and backward on odd
 * shapes (batch 1 and 17, 1 and 3 channels, same and valid padding, strides), the blocked
 * SGEMM against the library's plain stk_sgemm_naive, Adam against the JS update, a short
 * seeded training whose loss curve must follow the wasm path's, and the shipped teacher's
 * accuracy through the native path. The CUDA build's entry points are held to the CPU
 * build's where a GPU is (ignored elsewhere; SOFTTREE_REQUIRE_CUDA=1 makes that a failure).
 */
import assert from "node:assert/strict";
import { tf } from "../lib/deps.ts";
import { ensureTf } from "../lib/backends/tf_setup.ts";
import { hasNvidiaDriver } from "../lib/backends/native.ts";
import { BackendUnavailableError } from "../lib/errors.ts";
import { NativeError } from "../ffi/errors.ts";
import { findLibrary } from "../ffi/build.ts";
import { Status } from "../ffi/bindings.ts";
import { loadStkLibrary, type StkLibrary, unwrapStk } from "../ffi/stk_bindings.ts";
import { currentTeacherKernels, prepareTeacherKernels } from "../lib/teacher/kernels_select.ts";
import { nativeKernelCalls, nativeSoftmaxCrossEntropy } from "../lib/teacher/kernels_native.ts";
import { FusedAdam } from "../lib/teacher/_adam.ts";
import {
  createTeacher,
  teacherForward,
  teacherLogits,
  trainTeacher,
} from "../lib/teacher/model.ts";
import { loadTeacher } from "../lib/teacher/io.ts";
import { loadMnist } from "../lib/data/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { bandImages } from "./_teacher_data.ts";
import { assertClose, randomArray, valuesOn } from "./_teacher_kernels.ts";

/** The loss curve of a short training: rounding differences compound over the steps. */
const LOSS_TOL = { atol: 1e-3, rtol: 1e-3 };

/** Runs `f` on the CPU backend and on wasm with the native kernels, and compares. */
async function compare(what: string, f: () => tf.Tensor[], kernels: string[]): Promise<void> {
  const before = nativeKernelCalls();
  const ref = await valuesOn("cpu", f);
  const got = await valuesOn("wasm", f);
  const after = nativeKernelCalls();
  for (const k of kernels) {
    assert.ok((after[k] ?? 0) > (before[k] ?? 0), `${what}: ${k} did not run natively`);
  }
  ref.forEach((r, i) => assertClose(got[i], r, `${what} [output ${i}]`));
}

const wasm = (await ensureTf()) === "wasm";
let lib: StkLibrary | null = null;
if (wasm) {
  const kernels = await prepareTeacherKernels({ kernels: "native" });
  assert.equal(kernels.name, "native");
  lib = loadStkLibrary("cpu", (await findLibrary("stk_cpu")).path);
}

interface ConvCase {
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: number | [number, number];
  pad: "valid" | "same";
}

const CONV_CASES: ConvCase[] = [
  { x: [1, 7, 9, 1], f: [3, 3, 1, 5], strides: 1, pad: "valid" },
  { x: [17, 8, 7, 3], f: [3, 2, 3, 4], strides: 1, pad: "same" },
  { x: [2, 9, 10, 3], f: [3, 3, 3, 6], strides: 2, pad: "valid" },
  { x: [3, 11, 8, 2], f: [5, 3, 2, 3], strides: 2, pad: "same" },
  { x: [1, 9, 7, 3], f: [3, 3, 3, 4], strides: [2, 1], pad: "same" },
  { x: [17, 12, 12, 1], f: [3, 3, 1, 33], strides: 1, pad: "valid" },
  { x: [2, 6, 6, 20], f: [1, 1, 20, 70], strides: 1, pad: "valid" },
];

for (const c of CONV_CASES) {
  const name = `x ${c.x}, filter ${c.f}, stride ${c.strides}, ${c.pad}`;
  Deno.test({
    name: `native conv2d and its gradients match the CPU backend (${name})`,
    ignore: !wasm,
    fn: async () => {
      const rng = new Rng(7);
      const xv = randomArray(c.x.reduce((a, b) => a * b), rng);
      const fv = randomArray(c.f.reduce((a, b) => a * b), rng);
      const bv = randomArray(c.f[3], rng);
      await compare(`conv2d ${name}`, () => {
        const x = tf.tensor4d(xv, c.x), f = tf.tensor4d(fv, c.f);
        const y = tf.conv2d(x, f, c.strides, c.pad);
        const w = tf.tensor(randomArray(y.size, new Rng(3)), y.shape);
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad), w))
        );
        return [y, ...g([x, f])];
      }, ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"]);
      await compare(`fused conv2d ${name}`, () => {
        const x = tf.tensor4d(xv, c.x), filter = tf.tensor4d(fv, c.f), bias = tf.tensor1d(bv);
        const opts = { x, filter, strides: c.strides, pad: c.pad, bias };
        return [
          tf.fused.conv2d({ ...opts, activation: "relu" }),
          tf.fused.conv2d({ ...opts, activation: "linear" }),
        ];
      }, ["FusedConv2D"]);
    },
  });
}

Deno.test({
  name: "native matMul matches the CPU backend with every transpose, batch and bias",
  ignore: !wasm,
}, async () => {
  const rng = new Rng(11);
  const cases: [number, number, number, number, number][] = [
    // m, k, n, batch of a, batch of b
    [3, 5, 4, 1, 1],
    [17, 33, 9, 1, 1],
    [1, 128, 10, 1, 1],
    [16, 300, 70, 1, 1],
    [40, 6, 3, 1, 1],
    [2, 50, 60, 3, 3],
    [5, 7, 9, 1, 2],
    [6, 4, 33, 2, 1],
  ];
  for (const [m, k, n, ba, bb] of cases) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const av = randomArray(ba * m * k, rng), bv = randomArray(bb * k * n, rng);
        const biasv = randomArray(n, rng);
        const what = `matMul ${m}x${k}x${n} batch ${ba}/${bb} tA=${tA} tB=${tB}`;
        await compare(what, () => {
          const a = tf.tensor3d(av, tA ? [ba, k, m] : [ba, m, k]);
          const b = tf.tensor3d(bv, tB ? [bb, n, k] : [bb, k, n]);
          const bias = tf.tensor1d(biasv);
          return [
            tf.matMul(a, b, tA, tB),
            tf.fused.matMul({ a, b, transposeA: tA, transposeB: tB, bias, activation: "relu" }),
          ];
        }, ["BatchMatMul", "_FusedMatMul"]);
      }
    }
  }
});

Deno.test(
  { name: "native maxPool and its gradient match the CPU backend", ignore: !wasm },
  async () => {
    const rng = new Rng(5);
    const cases = [
      [[1, 7, 9, 3], 3, 2, "same"],
      [[17, 8, 8, 1], 2, 2, "valid"],
      [[2, 7, 7, 5], 3, 1, "valid"],
      [[3, 24, 24, 20], 2, 2, "valid"],
      [[2, 9, 7, 32], 2, 2, "valid"], // windows tile the image; a row and a column left out
    ] as const;
    for (const [shape, size, stride, pad] of cases) {
      const xv = randomArray(shape.reduce((a: number, b: number) => a * b, 1), rng);
      // Ties: a few equal values, where the first in row order must take the gradient.
      for (let i = 0; i < xv.length; i += 7) xv[i] = 0.5;
      await compare(`maxPool ${shape} size ${size} stride ${stride} ${pad}`, () => {
        const x = tf.tensor4d(xv, [...shape]);
        const y = tf.maxPool(x, size, stride, pad);
        const g = tf.grad((a: tf.Tensor) => {
          const p = tf.maxPool(a as tf.Tensor4D, size, stride, pad);
          return tf.sum(tf.mul(p, tf.reshape(tf.range(0, p.size), p.shape)));
        });
        return [y, g(x)];
      }, ["MaxPool", "MaxPoolGrad"]);
    }
  },
);

Deno.test(
  { name: "native sums over leading axes match the CPU backend", ignore: !wasm },
  async () => {
    const xv = randomArray(17 * 5 * 6 * 7, new Rng(9));
    await compare("sum", () => {
      const x = tf.tensor4d(xv, [17, 5, 6, 7]);
      return [tf.sum(x, [0, 1, 2]), tf.sum(x, [0, 1, 2], true), tf.sum(tf.reshape(x, [510, 7]), 0)];
    }, ["Sum"]);
  },
);

Deno.test({
  name: "stk_sgemm matches stk_sgemm_naive on odd sizes, every transpose, alpha, beta and lda",
  ignore: !wasm,
}, () => {
  const rng = new Rng(13);
  const sizes = [[1, 1, 1], [7, 13, 5], [17, 33, 300], [65, 17, 129], [5, 1000, 3], [100, 70, 0]];
  for (const [m, n, k] of sizes) {
    for (const ta of [0, 1]) {
      for (const tb of [0, 1]) {
        const lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 1;
        const a = randomArray((ta ? k : m) * lda, rng), b = randomArray((tb ? n : k) * ldb, rng);
        const c0 = randomArray(m * ldc, rng);
        const fast = c0.slice(), plain = c0.slice();
        const args = [ta, tb, m, n, k, 0.7, a, lda, b, ldb, 0.3, ldc] as const;
        unwrapStk(lib!, lib!.symbols.stk_sgemm(fast, ...args), "stk_sgemm");
        unwrapStk(lib!, lib!.symbols.stk_sgemm_naive(plain, ...args), "stk_sgemm_naive");
        assertClose(fast, plain, `sgemm ${m}x${n}x${k} ta=${ta} tb=${tb}`, {
          atol: 1e-5 * Math.sqrt(k + 1),
          rtol: 1e-5,
        });
      }
    }
  }
});

Deno.test({ name: "the native kernels reject bad arguments with a message", ignore: !wasm }, () => {
  const s = lib!.symbols;
  const g = new Int32Array([2, 8, 8, 3, 5, 6, 4, 3, 3, 1, 1, 0, 0]); // out 5x6: does not fit
  const y = new Float32Array(2 * 6 * 6 * 4), x = new Float32Array(2 * 8 * 8 * 3);
  const f = new Float32Array(3 * 3 * 3 * 4);
  const status = s.stk_conv2d(y, x, f, null, g, 0);
  assert.equal(status, Status.ARGUMENT);
  assert.throws(() => unwrapStk(lib!, status, "stk_conv2d"), (e: unknown) => {
    assert.ok(e instanceof NativeError && /does not fit an input of 8x8/.test(e.message), `${e}`);
    return true;
  });
  g[4] = 6; // 6x6 fits
  unwrapStk(lib!, s.stk_conv2d(y, x, f, null, g, 0), "stk_conv2d");
  assert.equal(s.stk_conv2d(y, null, f, null, g, 0), Status.ARGUMENT);
  assert.throws(() => unwrapStk(lib!, Status.ARGUMENT, "x"), /argument x is null/);
  assert.equal(s.stk_conv2d(y, x, f, null, g, 7), Status.ARGUMENT);
  assert.throws(() => unwrapStk(lib!, Status.ARGUMENT, "act"), /unknown activation 7/);
  const c = new Float32Array(4);
  assert.equal(s.stk_sgemm(c, 0, 0, 2, 2, 2, 1, c, 1, c, 2, 0, 2), Status.ARGUMENT);
  assert.throws(() => unwrapStk(lib!, Status.ARGUMENT, "lda"), /lda must be >= 2, got 1/);
  assert.equal(s.stk_set_threads(5000), Status.ARGUMENT);
});

Deno.test({
  name: "the fused relu layers of the native training step give the layers' gradients",
  ignore: !wasm,
}, async () => {
  const teacher = createTeacher([11, 10, 3], 3, {
    filters: [4, 6],
    dense: 9,
    dropout: [0, 0],
    seed: 2,
  });
  try {
    const vars = teacher.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const xv = randomArray(17 * 11 * 10 * 3, new Rng(8)), wv = randomArray(17 * 3, new Rng(9));
    const before = nativeKernelCalls();
    await compare("teacher step", () => {
      const x = tf.tensor4d(xv, [17, 11, 10, 3]);
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(teacherForward(teacher, x, new Rng(1)), tf.tensor2d(wv, [17, 3]))),
        vars,
      );
      return [value, ...vars.map((v) => grads[v.name])];
    }, ["SofttreeConv2DRelu", "SofttreeMatMulRelu", "SofttreeReluBiasGrad"]);
    assert.equal(
      (nativeKernelCalls().SofttreeConv2DRelu ?? 0) - (before.SofttreeConv2DRelu ?? 0),
      2,
      "both convolutions ran fused",
    );
  } finally {
    teacher.dispose();
  }
});

Deno.test({
  name: "the native softmax cross-entropy and its gradient match tfjs's on the CPU backend",
  ignore: !wasm,
}, async () => {
  const lv = randomArray(17 * 10, new Rng(12)).map((v) => 5 * v);
  const yv = new Int32Array(17).map((_, i) => (i * 7) % 10);
  const ref = await valuesOn("cpu", () => {
    const logits = tf.tensor2d(lv, [17, 10]);
    const f = (l: tf.Tensor) =>
      tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(yv, "int32"), 10), l) as tf.Scalar;
    return [f(logits), tf.grad(f)(logits)];
  });
  const got = await valuesOn("wasm", () => {
    const logits = tf.tensor2d(lv, [17, 10]);
    const f = (l: tf.Tensor) =>
      nativeSoftmaxCrossEntropy(tf.tensor1d(yv, "int32"), l as tf.Tensor2D)!;
    return [f(logits), tf.grad(f)(logits)];
  });
  ref.forEach((r, i) => assertClose(got[i], r, `softmax cross-entropy [output ${i}]`));
  const bad = lib!.symbols.stk_softmax_xent(
    new Float32Array(1),
    new Float32Array(20),
    new Float32Array(20),
    new Int32Array([0, 10]),
    2,
    10,
  );
  assert.equal(bad, Status.ARGUMENT);
  assert.throws(() => unwrapStk(lib!, bad, "xent"), /label 10 of row 1 is not in \[0, 10\)/);
});

Deno.test({
  name: "native dropout masks are the JS generator's masks, and leave it where JS would",
  ignore: !wasm,
}, () => {
  for (const [n, rate, seed] of [[1, 0.5, 1], [147_457, 0.25, 2], [2_049, 0.5, 3], [33, 0, 4]]) {
    const js = new Rng(seed), native = new Rng(seed);
    js.next(); // not at the start of a sequence
    native.skip(1);
    const keep = 1 / (1 - rate);
    const want = new Float32Array(n).map(() => (js.next() >= rate ? keep : 0));
    const got = new Float32Array(n);
    unwrapStk(lib!, lib!.symbols.stk_dropout_mask(got, native.state, BigInt(n), rate), "mask");
    native.skip(n);
    assert.deepEqual(got, want, `mask of ${n} at rate ${rate}`);
    assert.equal(native.state, js.state);
    assert.equal(native.next(), js.next());
  }
  assert.equal(lib!.symbols.stk_dropout_mask(new Float32Array(1), 0, 1n, 1), Status.ARGUMENT);
});

Deno.test(
  { name: "native Adam gives the JS update's weights and moments", ignore: !wasm },
  async () => {
    const rng = new Rng(21);
    const shapes = [[300, 7], [7], [3, 3, 2, 5]];
    const init = shapes.map((s) => randomArray(s.reduce((a, b) => a * b), rng));
    const grads = [0, 1, 2].map(() =>
      shapes.map((s) => randomArray(s.reduce((a, b) => a * b), rng))
    );
    const run = async (kernels: "native" | "wasm") => {
      await prepareTeacherKernels({ kernels });
      const vars = init.map((v, i) => tf.variable(tf.tensor(v, shapes[i])));
      const opt = new FusedAdam(0.01);
      for (const step of grads) {
        const g = step.map((v, i) => tf.tensor(v, shapes[i]));
        opt.apply(vars, g);
        tf.dispose(g);
      }
      const out = vars.map((v) => v.dataSync() as Float32Array);
      tf.dispose(vars);
      return out;
    };
    const before = nativeKernelCalls();
    const js = await run("wasm");
    const native = await run("native");
    assert.deepEqual(nativeKernelCalls(), before, "Adam is counted apart from the kernels");
    native.forEach((w, i) => assertClose(w, js[i], `weights ${i}`, { atol: 1e-6, rtol: 1e-5 }));
  },
);

Deno.test({
  name: "a short seeded training on the native kernels follows the wasm path's loss curve",
  ignore: !wasm,
}, async () => {
  const data = bandImages(160, { h: 12, w: 12, c: 3, classes: 3, seed: 4 });
  const run = async (kernels: "native" | "wasm") => {
    await prepareTeacherKernels({ kernels });
    const losses: number[] = [];
    const tensors = tf.memory().numTensors, buffers = tf.engine().backend.numDataIds();
    const { teacher, history, kernels: used } = await trainTeacher(data, {
      epochs: 2,
      batchSize: 17, // the last batch of each epoch is short
      filters: [4, 8],
      dense: 16,
      seed: 3,
      onBatch: (b) => losses.push(b.loss),
    });
    assert.equal(used.name, kernels);
    const logits = await teacherLogits(teacher, data.x.subarray(0, 20 * data.features));
    teacher.dispose();
    assert.equal(tf.memory().numTensors, tensors, "no tensor outlives the training");
    assert.equal(tf.engine().backend.numDataIds(), buffers, "nor any buffer in the wasm heap");
    return { losses, logits, loss: history.at(-1)!.loss };
  };
  const w = await run("wasm");
  const n = await run("native");
  assert.ok(n.loss < w.losses[0], "the loss went down");
  assertClose(n.losses, w.losses, "per-batch losses", LOSS_TOL);
  assertClose(n.logits, w.logits, "logits after training", LOSS_TOL);
});

Deno.test({
  name: "the shipped teacher keeps its test accuracy and logits through the native kernels",
  ignore: !wasm,
}, async () => {
  const { test } = await loadMnist();
  const teacher = await loadTeacher("assets/teacher");
  try {
    await prepareTeacherKernels({ kernels: "native" });
    const calls = nativeKernelCalls().FusedConv2D ?? 0;
    const logits = await teacherLogits(teacher, test.x);
    assert.ok((nativeKernelCalls().FusedConv2D ?? 0) > calls, "inference ran natively");
    let right = 0;
    for (let i = 0; i < test.n; i++) {
      let best = 0;
      for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
      if (best === test.y[i]) right++;
    }
    assert.equal(right / test.n, 0.9922);
    await prepareTeacherKernels({ kernels: "wasm" });
    const some = test.x.subarray(0, 300 * test.features);
    const ref = await teacherLogits(teacher, some);
    assertClose(logits.subarray(0, ref.length), ref, "the shipped teacher's logits");
  } finally {
    teacher.dispose();
    await prepareTeacherKernels({ kernels: "native" });
  }
});

Deno.test({
  name: "teacher kernels: a choice that cannot load is an error, auto falls back",
  ignore: !wasm,
}, async () => {
  await assert.rejects(
    () => prepareTeacherKernels({ kernels: "bogus" as "auto" }),
    /Invalid teacher kernels "bogus"/,
  );
  if (!hasNvidiaDriver()) {
    await assert.rejects(() => prepareTeacherKernels({ kernels: "cuda" }), (e: unknown) => {
      assert.ok(e instanceof BackendUnavailableError, `${e}`);
      assert.match(e.message, /The cuda teacher kernels cannot run here: no NVIDIA driver/);
      return true;
    });
  }
  const saved = Deno.env.get("SOFTTREE_TEACHER_LIB");
  Deno.env.set("SOFTTREE_TEACHER_LIB", "/nonexistent/libstk_cpu.so");
  try {
    await assert.rejects(() => prepareTeacherKernels({ kernels: "native" }), (e: unknown) => {
      assert.ok(e instanceof BackendUnavailableError, `${e}`);
      assert.match(e.message, /No teacher-kernel library at "\/nonexistent\/libstk_cpu.so"/);
      return true;
    });
    const auto = await prepareTeacherKernels({ kernels: "auto" });
    assert.equal(auto.name, "wasm");
    assert.match(auto.description, /^wasm kernels \(native kernels unavailable: No teacher-kernel/);
    assert.equal(currentTeacherKernels(), auto);
  } finally {
    if (saved === undefined) Deno.env.delete("SOFTTREE_TEACHER_LIB");
    else Deno.env.set("SOFTTREE_TEACHER_LIB", saved);
  }
  const native = await prepareTeacherKernels({ kernels: "native", threads: 1 });
  assert.match(native.description, /^native kernels \(.*, 1 thread\)$/);
  await prepareTeacherKernels({ kernels: "native" });
});

/* ---------------------------------------------------------------- CUDA against CPU */

const requireCuda = Deno.env.get("SOFTTREE_REQUIRE_CUDA") === "1";

/** The CUDA build of the kernels, or why it cannot run here. */
async function cudaLibrary(): Promise<StkLibrary | string> {
  if (!hasNvidiaDriver()) return "no NVIDIA driver";
  try {
    const cuda = loadStkLibrary("cuda", (await findLibrary("stk_cuda")).path);
    const info = new Uint8Array(256);
    if (cuda.symbols.stk_probe(info, info.length) !== Status.OK) {
      return new TextDecoder().decode(info);
    }
    return cuda;
  } catch (e) {
    return (e as Error).message;
  }
}

const cuda = wasm ? await cudaLibrary() : "the wasm backend did not load";

Deno.test({
  name: "the CUDA teacher kernels match the CPU ones",
  ignore: typeof cuda === "string" && !requireCuda,
}, () => {
  if (typeof cuda === "string") throw new Error(`SOFTTREE_REQUIRE_CUDA=1 but: ${cuda}`);
  const cpu = lib!;
  const rng = new Rng(31);
  const both = (f: (l: StkLibrary) => Float32Array[], what: string) => {
    const a = f(cpu), b = f(cuda);
    a.forEach((x, i) => assertClose(b[i], x, `${what} [output ${i}]`));
  };
  for (const [m, n, k] of [[7, 13, 5], [65, 130, 300], [1, 10, 9216]]) {
    for (const [ta, tb] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      const a = randomArray(m * k, rng), b = randomArray(k * n, rng), c0 = randomArray(m * n, rng);
      both((l) => {
        const c = c0.slice();
        unwrapStk(
          l,
          l.symbols.stk_sgemm(c, ta, tb, m, n, k, 0.5, a, ta ? m : k, b, tb ? k : n, 0.25, n),
          "sgemm",
        );
        const d = new Float32Array(m * n);
        unwrapStk(
          l,
          l.symbols.stk_matmul(d, a, b, c0.subarray(0, n), 1, m, n, k, 0n, 0n, ta, tb, 1),
          "matmul",
        );
        return [c, d];
      }, `sgemm/matmul ${m}x${n}x${k} ${ta}${tb}`);
    }
  }
  const geos = [
    [17, 12, 11, 3, 10, 9, 5, 3, 3, 1, 1, 0, 0],
    [2, 9, 10, 3, 5, 5, 6, 3, 3, 2, 2, 1, 1],
    [1, 28, 28, 1, 26, 26, 32, 3, 3, 1, 1, 0, 0],
  ];
  for (const geo of geos) {
    const g = new Int32Array(geo);
    const [B, H, W, C, OH, OW, CO, KH, KW] = geo;
    const x = randomArray(B * H * W * C, rng), f = randomArray(KH * KW * C * CO, rng);
    const dy = randomArray(B * OH * OW * CO, rng), bias = randomArray(CO, rng);
    both((l) => {
      const y = new Float32Array(B * OH * OW * CO), dx = new Float32Array(x.length);
      const df = new Float32Array(f.length);
      unwrapStk(l, l.symbols.stk_conv2d(y, x, f, bias, g, 1), "conv2d");
      unwrapStk(l, l.symbols.stk_conv2d_backprop_input(dx, dy, f, g), "backprop input");
      unwrapStk(l, l.symbols.stk_conv2d_backprop_filter(df, x, dy, g), "backprop filter");
      return [y, dx, df];
    }, `conv ${geo}`);
  }
  const gp = new Int32Array([3, 8, 9, 5, 4, 4, 5, 2, 2, 2, 2, 0, 0]);
  const x = randomArray(3 * 8 * 9 * 5, rng), dy = randomArray(3 * 4 * 4 * 5, rng);
  both((l) => {
    const y = new Float32Array(dy.length), dx = new Float32Array(x.length);
    const s = new Float32Array(5);
    unwrapStk(l, l.symbols.stk_max_pool(y, x, gp), "max pool");
    unwrapStk(l, l.symbols.stk_max_pool_grad(dx, dy, x, gp), "max pool grad");
    unwrapStk(l, l.symbols.stk_sum_rows(s, x, BigInt(3 * 8 * 9), 5), "sum rows");
    return [y, dx, s];
  }, "pooling and sums");
  const w = randomArray(1000, rng), gr = randomArray(1000, rng);
  both((l) => {
    const m = new Float32Array(1000), v = new Float32Array(1000), out = new Float32Array(1000);
    unwrapStk(
      l,
      l.symbols.stk_adam(out, m, v, w, gr, 1000n, 0.9, 0.999, 0.01, 0.1, 0.001, 1e-7),
      "adam",
    );
    return [out, m, v];
  }, "adam");
});
