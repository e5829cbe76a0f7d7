/**
 * Helpers of the teacher kernel tests (tests/teacher_kernels_test.ts for the wasm kernels,
 * tests/teacher_kernels_native_test.ts for the native ones): seeded inputs, a closure's values
 * on a named tfjs backend, and the comparison with the kernels' tolerance.
 */
import { tf } from "../lib/deps.ts";
import type { Rng } from "../lib/util/random.ts";
import { assertClose as assertCloseTo } from "./_reference.ts";

/** The kernels' tolerance, `|a - b| <= atol + rtol |b|`: they sum up to a few thousand float32
 * terms in another order than the CPU backend does. */
export const KERNEL_TOL = { atol: 1e-4, rtol: 1e-3 };

/** Asserts `|a - b| <= atol + rtol |b|` everywhere (default {@linkcode KERNEL_TOL}), naming
 * the first element out of tolerance and the largest difference. */
export function assertClose(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  what: string,
  tol: { atol: number; rtol: number } = KERNEL_TOL,
): void {
  assertCloseTo(what, a, b, tol);
}

/** `n` standard normal values from `rng`. */
export function randomArray(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** Runs `f` on a backend and returns its outputs' values; the backend in use before comes back
 * afterwards. */
export async function valuesOn(backend: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  const before = tf.getBackend();
  await tf.setBackend(backend);
  const out = tf.tidy(f).map((t) => {
    const v = t.dataSync() as Float32Array;
    t.dispose();
    return v;
  });
  await tf.setBackend(before);
  return out;
}
