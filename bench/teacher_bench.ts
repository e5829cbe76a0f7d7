/**
 * Teacher training throughput: samples/s of the real training step (`trainTeacher`: the
 * seed's ConvNet, Adam, batch 16, dropout) on the wasm backend with softtree's kernels and on
 * the plain CPU backend, each in its own process, and their ratio.
 *
 * Back of the envelope (seed network, 28x28x1): forward conv1 0.39 MFLOP, conv2 21.2 MFLOP,
 * dense 2.36 MFLOP, about 24 MFLOP per sample; a training step is about 3x that, 72 MFLOP
 * per sample. One core doing about 15 GFLOP/s (XNNPACK with wasm SIMD) bounds the wasm
 * backend near 200 samples/s.
 *
 * Usage: `deno run -A bench/teacher_bench.ts [--steps N] [--cpu-steps N] [--batch-size B]
 * [--filters F1,F2] [--dense U]`
 *
 * @module
 */
import { tf } from "../lib/deps.ts";
import { ensureTf } from "../lib/backends/tf_setup.ts";
import { loadMnist } from "../lib/data/mod.ts";
import { sliceRows } from "../lib/data/_common.ts";
import { registerTeacherKernels } from "../lib/teacher/kernels.ts";
import { trainTeacher } from "../lib/teacher/model.ts";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

const batchSize = Number(arg("--batch-size", "16"));
const filters = arg("--filters", "32,64").split(",").map(Number) as [number, number];
const dense = Number(arg("--dense", "128"));

/** Child mode: time `steps` training steps after one warm-up step, print JSON. */
async function child(steps: number): Promise<void> {
  const backend = await ensureTf();
  const { train } = await loadMnist();
  const warm = sliceRows(train, 0, batchSize);
  const data = sliceRows(train, batchSize, batchSize * (steps + 1));
  const { teacher } = await trainTeacher(warm, { epochs: 1, batchSize, filters, dense, seed: 1 });
  const { history } = await trainTeacher(data, { teacher, epochs: 1, batchSize, seed: 1 });
  teacher.dispose();
  console.log(JSON.stringify({ backend, samplesPerSec: history[0].samplesPerSec }));
}

/** The registered kernels must agree with the CPU backend before their speed means anything. */
async function checkKernels(): Promise<void> {
  if ((await ensureTf()) !== "wasm") throw new Error("the wasm backend did not load");
  registerTeacherKernels();
  const grads = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.randomUniform([4, 12, 12, 8], -1, 1, "float32", 1) as tf.Tensor4D;
      const f = tf.randomUniform([3, 3, 8, 16], -1, 1, "float32", 2) as tf.Tensor4D;
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.square(
            tf.maxPool(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "valid"), 2, 2, "valid"),
          ),
        )
      );
      return g([x, f]).map((t) => Array.from(t.dataSync()));
    });
  };
  const cpu = await grads("cpu");
  const wasm = await grads("wasm");
  cpu.forEach((c, i) =>
    c.forEach((v, j) => {
      if (Math.abs(v - wasm[i][j]) > 1e-3 + 1e-3 * Math.abs(v)) {
        throw new Error(`wasm gradient ${i}[${j}] = ${wasm[i][j]}, CPU backend says ${v}`);
      }
    })
  );
}

async function run(backend: string, steps: number): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child", String(steps), ...Deno.args],
    env: { SOFTTREE_TF_BACKEND: backend },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  const r = JSON.parse(line);
  if (r.backend !== backend) throw new Error(`asked for ${backend}, got ${r.backend}`);
  return r.samplesPerSec;
}

if (import.meta.main) {
  const childAt = Deno.args.indexOf("--child");
  if (childAt >= 0) {
    await child(Number(Deno.args[childAt + 1]));
  } else {
    await checkKernels();
    const steps = Number(arg("--steps", "30"));
    const cpuSteps = Number(arg("--cpu-steps", "2"));
    const net = `filters ${filters.join(",")}, dense ${dense}, batch ${batchSize}`;
    console.log(`teacher training step (${net}); gradients checked against the CPU backend`);
    const wasm = await run("wasm", steps);
    console.log(`wasm (softtree kernels): ${wasm.toFixed(1)} samples/s (${steps} steps)`);
    const cpu = await run("cpu", cpuSteps);
    console.log(`cpu (plain JS):          ${cpu.toFixed(2)} samples/s (${cpuSteps} steps)`);
    console.log(`ratio wasm / cpu:        ${(wasm / cpu).toFixed(0)}x`);
  }
}
