/**
 * Teacher throughput, native kernels against the wasm path, side by side in one run:
 * training samples/s of the real training step (`trainTeacher`: the shipped recipe's network,
 * Adam, batch 16, dropout) and inference images/s (`teacherLogits`, batch 256), each kernel
 * set in its own process (the kernels are registered process-wide), with the FLOP rate
 * reached; then the machine's SGEMM rate measured by the native library's own blocked kernel
 * on a large square product, the plain triple loop's beside it, and a system BLAS's when one
 * is installed. Before timing, each process checks its kernels' gradients against the plain
 * CPU backend.
 *
 * Back of the envelope (seed network, 28x28x1, per sample): forward conv1 0.39 MFLOP, conv2
 * 21.2, dense 2.36, logits 0.003: 24.0 MFLOP (inference); training adds conv2's filter and
 * input gradients (2 x 21.2), conv1's filter gradient (0.39) and the dense layers' (2 x 2.36):
 * 71.6 MFLOP. The bound: an AVX-512 core with two 512-bit FMA pipes does 2 x 16 x 2 = 64
 * FLOP per cycle (32 with AVX2's two 256-bit pipes), about 190 GFLOP/s at 3 GHz; two such cores
 * bound training near 5,300 samples/s and inference near 16,000 images/s. What is left between
 * that and the measured rates is the kernels' efficiency (packing, edges, threads waiting on
 * each other) and TensorFlow.js's own per-kernel work between them (about 60 kernels a
 * training step, the dropout masks, the elementwise ops).
 *
 * Each rate is also given per CPU-second the process used (all its threads, from
 * `/proc/self/stat`): on a machine shared with other work the wall-clock rate also measures the
 * neighbours; with `SOFTTREE_THREADS=1` the CPU-second rate is what one idle core would do.
 *
 * Beside them, an ONNX teacher's inference images/s through ONNX Runtime (`openTeacher`, all
 * cores, batch 1024, the preprocessing included): by default the committed fixture
 * `tests/fixtures/onnx/mnist_convnet.onnx` (conv 4 3x3/2, conv 8 3x3/2, dense 288->10:
 * 2*13*13*4*9 + 2*6*6*8*9*4 + 2*288*10 = 38.7 kFLOP an image, so its rate measures the
 * per-image overhead more than arithmetic), or any `--onnx FILE` of MNIST's shape. Before
 * timing, its NCHW export must agree with its NHWC export on 64 images.
 *
 * Usage: `deno run -A bench/teacher_bench.ts [--steps N] [--images N] [--batch-size B]
 * [--filters F1,F2] [--dense U] [--kernels native,wasm] [--sgemm N] [--onnx FILE]
 * [--onnx-mean M --onnx-std S]`
 *
 * @module
 */
import { tf } from "../lib/deps.ts";
import { loadMnist } from "../lib/data/mod.ts";
import { sliceRows } from "../lib/data/_common.ts";
import { prepareTeacherKernels } from "../lib/teacher/kernels_select.ts";
import { openTeacher } from "../lib/teacher/open.ts";
import { teacherLogits, trainTeacher } from "../lib/teacher/model.ts";
import { findLibrary } from "../ffi/build.ts";
import { Status } from "../ffi/bindings.ts";
import { loadStkLibrary, type StkLibrary, unwrapStk } from "../ffi/stk_bindings.ts";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

const batchSize = Number(arg("--batch-size", "16"));
const filters = arg("--filters", "32,64").split(",").map(Number) as [number, number];
const dense = Number(arg("--dense", "128"));

/** FLOPs of one sample through the teacher (28x28x1 MNIST images, 3x3 valid convolutions). */
function flopsPerSample(): { forward: number; train: number } {
  const [f1, f2] = filters;
  const conv1 = 2 * 26 * 26 * f1 * 9, conv2 = 2 * 24 * 24 * f2 * 9 * f1;
  const d1 = 2 * 12 * 12 * f2 * dense, d2 = 2 * dense * 10;
  const forward = conv1 + conv2 + d1 + d2;
  return { forward, train: forward + conv1 + 2 * conv2 + 2 * d1 + 2 * d2 };
}

/** The kernels must agree with the CPU backend before their speed means anything. */
async function checkKernels(): Promise<void> {
  const grads = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.randomUniform([4, 12, 12, 8], -1, 1, "float32", 1) as tf.Tensor4D;
      const f = tf.randomUniform([3, 3, 8, 16], -1, 1, "float32", 2) as tf.Tensor4D;
      const w = tf.randomUniform([4 * 5 * 5 * 16, 10], -1, 1, "float32", 3) as tf.Tensor2D;
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
        // No relu: at its kink the gradient would depend on rounding.
        const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "valid");
        const h = tf.maxPool(y, 2, 2, "valid");
        return tf.sum(tf.square(tf.matMul(tf.reshape(h, [1, -1]), tf.reshape(c, [-1, 10]))));
      });
      return g([x, f, w]).map((t) => Array.from(t.dataSync()));
    });
  };
  const cpu = await grads("cpu");
  const got = await grads("wasm");
  // Within 1e-3 of each gradient's largest value: XNNPACK's products round differently.
  cpu.forEach((c, i) => {
    const scale = Math.max(...c.map(Math.abs));
    c.forEach((v, j) => {
      if (Math.abs(v - got[i][j]) > 1e-3 * scale) {
        throw new Error(`gradient ${i}[${j}] = ${got[i][j]}, the CPU backend says ${v}`);
      }
    });
  });
}

/** CPU seconds this process has used (user and system, all threads), or NaN where
 * `/proc/self/stat` is not there. On a machine shared with other work, throughput per CPU
 * second says what the code costs; per wall second, also how much of the machine it got. */
function cpuSeconds(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ ticks
  } catch {
    return NaN;
  }
}

/** Child mode: on the kernels named by SOFTTREE_TEACHER_KERNELS, time training and
 * inference, print JSON. */
async function child(steps: number, images: number): Promise<void> {
  const kernels = await prepareTeacherKernels();
  await checkKernels();
  const { train, test } = await loadMnist();
  const warm = sliceRows(train, 0, batchSize);
  const data = sliceRows(train, batchSize, batchSize * (steps + 1));
  const { teacher } = await trainTeacher(warm, { epochs: 1, batchSize, filters, dense, seed: 1 });
  const c0 = cpuSeconds();
  const { history } = await trainTeacher(data, { teacher, epochs: 1, batchSize, seed: 1 });
  const trainCpu = cpuSeconds() - c0;
  const x = test.x.subarray(0, images * test.features);
  await teacherLogits(teacher, test.x.subarray(0, 256 * test.features)); // warm-up
  const t0 = performance.now(), c1 = cpuSeconds();
  await teacherLogits(teacher, x, { batchSize: 256 });
  const inferSeconds = (performance.now() - t0) / 1000, inferCpu = cpuSeconds() - c1;
  teacher.dispose();
  console.log(JSON.stringify({
    kernels: kernels.name,
    description: kernels.description,
    trainPerSec: history[0].samplesPerSec,
    inferPerSec: images / inferSeconds,
    trainPerCpuSec: data.n / trainCpu,
    inferPerCpuSec: images / inferCpu,
  }));
}

interface ChildResult {
  kernels: string;
  description: string;
  trainPerSec: number;
  inferPerSec: number;
  trainPerCpuSec: number;
  inferPerCpuSec: number;
}

async function run(kernels: string, steps: number, images: number): Promise<ChildResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--child",
      String(steps),
      String(images),
      ...Deno.args,
    ],
    env: { SOFTTREE_TEACHER_KERNELS: kernels },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success) throw new Error(`the ${kernels} benchmark failed`);
  const r = JSON.parse(line) as ChildResult;
  if (r.kernels !== kernels) throw new Error(`asked for ${kernels} kernels, got ${r.description}`);
  return r;
}

const FIXTURES = new URL("../tests/fixtures/onnx/", import.meta.url).pathname;

/** ONNX Runtime's images/s on an ONNX teacher (and its accuracy there), after a correctness check. */
async function onnxRate(
  images: number,
): Promise<{ file: string; perSec: number; accuracy: number; description: string }> {
  const { test } = await loadMnist();
  const file = arg("--onnx", `${FIXTURES}mnist_convnet.onnx`);
  const norm = {
    mean: [Number(arg("--onnx-mean", file.startsWith(FIXTURES) ? "0.5" : "0"))],
    std: [Number(arg("--onnx-std", file.startsWith(FIXTURES) ? "0.5" : "1"))],
  };
  const few = test.x.subarray(0, 64 * test.features);
  const a = await openTeacher(`${FIXTURES}mnist_convnet.onnx`, test, norm);
  const b = await openTeacher(`${FIXTURES}mnist_convnet_nhwc.onnx`, test, norm);
  const [la, lb] = [await a.logits(few), await b.logits(few)];
  a.dispose();
  b.dispose();
  const worst = la.reduce((m, v, i) => Math.max(m, Math.abs(v - lb[i])), 0);
  if (worst > 1e-4) throw new Error(`the NCHW and NHWC exports differ by ${worst}`);
  const t = await openTeacher(file, test, norm);
  const x = test.x.subarray(0, images * test.features);
  await t.logits(few); // warm-up
  const t0 = performance.now();
  const logits = await t.logits(x, { batchSize: 1024 });
  const seconds = (performance.now() - t0) / 1000;
  let right = 0;
  for (let i = 0; i < images; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
    if (best === test.y[i]) right++;
  }
  const description = t.describe();
  t.dispose();
  return { file, perSec: images / seconds, accuracy: right / images, description };
}

/** GFLOP/s of `f` (2 m n k FLOPs), the best of a few runs. */
function rate(m: number, n: number, k: number, runs: number, f: () => number): number {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const status = f();
    if (status !== Status.OK) return NaN;
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return 2 * m * n * k / best / 1e9;
}

/** The machine's SGEMM rates: the library's blocked kernel on an n^3 product (checked
 * against the plain loop on a corner first), the plain loop on a smaller one, a system
 * BLAS's when installed. */
function sgemmRates(lib: StkLibrary, n: number) {
  const a = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const b = new Float32Array(n * n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const c = new Float32Array(n * n);
  const s = lib.symbols;
  // Correctness first: the blocked product of the top-left 97 x 97 corner against the loop.
  const m = 97, c1 = new Float32Array(m * m), c2 = new Float32Array(m * m);
  unwrapStk(lib, s.stk_sgemm(c1, 0, 1, m, m, n, 1, a, n, b, n, 0, m), "stk_sgemm");
  unwrapStk(lib, s.stk_sgemm_naive(c2, 0, 1, m, m, n, 1, a, n, b, n, 0, m), "stk_sgemm_naive");
  c1.forEach((v, i) => {
    if (Math.abs(v - c2[i]) > 1e-3 + 1e-4 * Math.abs(c2[i])) {
      throw new Error(`stk_sgemm [${i}] = ${v}, the plain loop says ${c2[i]}`);
    }
  });
  const blocked = rate(n, n, n, 5, () => s.stk_sgemm(c, 0, 0, n, n, n, 1, a, n, b, n, 0, n));
  const p = 384;
  const plain = rate(p, p, p, 1, () => s.stk_sgemm_naive(c, 0, 0, p, p, p, 1, a, p, b, p, 0, p));
  const blas = rate(n, n, n, 5, () => s.stk_sgemm_blas(c, 0, 0, n, n, n, 1, a, n, b, n, 0, n));
  return { blocked, plain, plainSize: p, blas, threads: s.stk_threads() };
}

const fmt = (v: number, digits = 0) =>
  v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

if (import.meta.main) {
  const childAt = Deno.args.indexOf("--child");
  if (childAt >= 0) {
    await child(Number(Deno.args[childAt + 1]), Number(Deno.args[childAt + 2]));
  } else {
    const steps = Number(arg("--steps", "150"));
    const images = Number(arg("--images", "2560"));
    const kinds = arg("--kernels", "native,wasm").split(",");
    const flops = flopsPerSample();
    const net = `filters ${filters.join(",")}, dense ${dense}`;
    console.log(
      `teacher (${net}; training batch ${batchSize}, ${steps} steps; inference batch 256, ` +
        `${images} images); gradients checked against the CPU backend`,
    );
    const results: ChildResult[] = [];
    for (const k of kinds) {
      const r = await run(k, steps, images);
      results.push(r);
      const perCpu = (v: number) => Number.isNaN(v) ? "" : `  (${fmt(v)} per CPU-second)`;
      console.log(
        `${k.padEnd(6)} ${r.description}\n` +
          `       training  ${fmt(r.trainPerSec).padStart(7)} samples/s  ` +
          `${fmt(r.trainPerSec * flops.train / 1e9, 1).padStart(6)} GFLOP/s` +
          `${perCpu(r.trainPerCpuSec)}\n` +
          `       inference ${fmt(r.inferPerSec).padStart(7)} images/s   ` +
          `${fmt(r.inferPerSec * flops.forward / 1e9, 1).padStart(6)} GFLOP/s` +
          perCpu(r.inferPerCpuSec),
      );
    }
    const onnx = await onnxRate(Number(arg("--onnx-images", "10000")));
    console.log(
      `onnx   ${onnx.description}\n` +
        `       inference ${fmt(onnx.perSec).padStart(7)} images/s   (ONNX Runtime, all cores, ` +
        `batch 1024; ${fmt(100 * onnx.accuracy, 2)}% right on the first MNIST test images)`,
    );
    if (results.length === 2) {
      const [a, b] = results;
      console.log(
        `ratio ${a.kernels} / ${b.kernels}: training ${fmt(a.trainPerSec / b.trainPerSec, 1)}x, ` +
          `inference ${fmt(a.inferPerSec / b.inferPerSec, 1)}x`,
      );
    }
    const n = Number(arg("--sgemm", "2048"));
    const lib = loadStkLibrary("cpu", (await findLibrary("stk_cpu")).path);
    unwrapStk(
      lib,
      lib.symbols.stk_set_threads(Number(Deno.env.get("SOFTTREE_THREADS") ?? 0)),
      "threads",
    );
    const r = sgemmRates(lib, n);
    console.log(
      `SGEMM ${n}^3 (checked against the plain loop): blocked ${fmt(r.blocked, 1)} GFLOP/s ` +
        `(${r.threads} thread${r.threads === 1 ? "" : "s"}), plain triple loop ${
          fmt(r.plain, 2)
        } GFLOP/s (${r.plainSize}^3), ` +
        `system BLAS ${Number.isNaN(r.blas) ? "not installed" : `${fmt(r.blas, 1)} GFLOP/s`}`,
    );
    const best = results.find((x) => x.kernels === "native");
    if (best) {
      console.log(
        `native training reaches ${fmt(100 * best.trainPerSec * flops.train / 1e9 / r.blocked)}% ` +
          `of that SGEMM rate, inference ${
            fmt(100 * best.inferPerSec * flops.forward / 1e9 / r.blocked)
          }%`,
      );
    }
  }
}
