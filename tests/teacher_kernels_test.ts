import { tf } from "../lib/deps.ts";
import { ensureTf } from "../lib/backends/tf_setup.ts";
import { registerTeacherKernels } from "../lib/teacher/kernels.ts";
import { Rng } from "../lib/util/random.ts";
import { assertClose, randomArray, valuesOn } from "./_teacher_kernels.ts";

// The kernels live on the wasm backend; where it cannot load, these tests are ignored.
const wasm = (await ensureTf()) === "wasm";
registerTeacherKernels();

interface ConvCase {
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: number;
  pad: "valid" | "same";
}

const CASES: ConvCase[] = [
  { x: [2, 8, 8, 1], f: [3, 3, 1, 4], strides: 1, pad: "valid" },
  { x: [3, 9, 7, 5], f: [3, 3, 5, 6], strides: 1, pad: "same" },
  { x: [2, 10, 9, 3], f: [3, 2, 3, 4], strides: 2, pad: "valid" },
  { x: [2, 11, 10, 2], f: [5, 3, 2, 3], strides: 2, pad: "same" },
];

for (const c of CASES) {
  Deno.test({
    name:
      `conv2d gradients on wasm match the CPU backend (x ${c.x}, filter ${c.f}, stride ${c.strides}, ${c.pad})`,
    ignore: !wasm,
    fn: async () => {
      const rng = new Rng(7);
      const xv = randomArray(c.x.reduce((a, b) => a * b), rng);
      const fv = randomArray(c.f.reduce((a, b) => a * b), rng);
      const run = () => {
        const x = tf.tensor4d(xv, c.x);
        const f = tf.tensor4d(fv, c.f);
        const y = tf.conv2d(x, f, c.strides, c.pad);
        const w = tf.tensor(randomArray(y.size, new Rng(3)), y.shape);
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad), w))
        );
        return g([x, f]);
      };
      const [dxC, dfC] = await valuesOn("cpu", run);
      const [dxW, dfW] = await valuesOn("wasm", run);
      assertClose(dxW, dxC, "dx");
      assertClose(dfW, dfC, "dfilter");
    },
  });
}

Deno.test({
  name: "matMul on wasm matches the CPU backend with every transpose",
  ignore: !wasm,
}, async () => {
  const rng = new Rng(11);
  // Shapes chosen so that both of the kernel's plans are exercised.
  for (const [m, k, n, batch] of [[3, 5, 4, 1], [40, 6, 3, 1], [2, 50, 60, 2], [70, 8, 90, 1]]) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const av = randomArray(batch * m * k, rng), bv = randomArray(batch * k * n, rng);
        const run = () => {
          const a = tf.tensor3d(av, tA ? [batch, k, m] : [batch, m, k]);
          const b = tf.tensor3d(bv, tB ? [batch, n, k] : [batch, k, n]);
          return [tf.matMul(a, b, tA, tB)];
        };
        const [c] = await valuesOn("cpu", run);
        const [w] = await valuesOn("wasm", run);
        assertClose(w, c, `matMul ${m}x${k}x${n} batch ${batch} tA=${tA} tB=${tB}`);
      }
    }
  }
});

Deno.test({ name: "maxPool gradients on wasm match the CPU backend", ignore: !wasm }, async () => {
  const rng = new Rng(5);
  for (
    const [shape, size, stride, pad] of [
      [[2, 8, 8, 3], 2, 2, "valid"],
      [[2, 7, 9, 2], 3, 2, "same"],
      [[1, 6, 6, 4], 2, 1, "valid"],
    ] as const
  ) {
    const xv = randomArray(shape.reduce((a: number, b: number) => a * b, 1), rng);
    const run = () => {
      const x = tf.tensor4d(xv, [...shape]);
      const g = tf.grad((a: tf.Tensor) => {
        const y = tf.maxPool(a as tf.Tensor4D, size, stride, pad);
        return tf.sum(tf.mul(y, tf.reshape(tf.range(0, y.size), y.shape)));
      });
      return [g(x)];
    };
    const [c] = await valuesOn("cpu", run);
    const [w] = await valuesOn("wasm", run);
    assertClose(w, c, `maxPool grad ${shape} size ${size} stride ${stride} ${pad}`);
  }
});
