/**
 * Adam with its moments in JS arrays and one fused pass per variable: the same update as
 * `tf.train.adam` (bias-corrected, epsilon 1e-7), but one loop instead of about ten
 * elementwise kernels per variable, each reading and writing every weight. With the native
 * teacher kernels registered (`kernels_native.ts`) the pass runs in the C library, reading
 * the weights and gradients in the wasm heap (no copies through JS); otherwise in JS.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { nativeAdam } from "./kernels_native.ts";

/** Adam's moments of a list of variables, in its order, and the steps taken. */
export interface AdamMoments {
  /** Steps taken. */
  step: number;
  /** First moments, one array per variable. */
  m: Float32Array[];
  /** Second moments, one array per variable. */
  v: Float32Array[];
}

/** Adam over a fixed list of variables. */
export class FusedAdam {
  #lr: number;
  #beta1: number;
  #beta2: number;
  #eps: number;
  #step = 0;
  #m = new Map<tf.Variable, Float32Array>();
  #v = new Map<tf.Variable, Float32Array>();

  /**
   * @param learningRate Step size.
   * @param beta1 Decay of the first moment. @default 0.9
   * @param beta2 Decay of the second moment. @default 0.999
   * @param epsilon Added to the root of the second moment. @default 1e-7 (tfjs's)
   */
  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7) {
    this.#lr = learningRate;
    this.#beta1 = beta1;
    this.#beta2 = beta2;
    this.#eps = epsilon;
  }

  /** The step size from the next step on (for schedules). */
  set learningRate(lr: number) {
    this.#lr = lr;
  }

  /**
   * A copy of the moments of `vars` (zeros for a variable not stepped yet) and the step
   * count, to save a training run and resume it exactly.
   */
  getState(vars: tf.Variable[]): AdamMoments {
    return {
      step: this.#step,
      m: vars.map((v) => this.#m.get(v)?.slice() ?? new Float32Array(v.size)),
      v: vars.map((v) => this.#v.get(v)?.slice() ?? new Float32Array(v.size)),
    };
  }

  /**
   * Replace the moments of `vars` and the step count with a saved state.
   * @throws {RangeError} When the state does not fit the variables.
   */
  setState(vars: tf.Variable[], state: AdamMoments): void {
    if (!Number.isSafeInteger(state.step) || state.step < 0) {
      throw new RangeError(`Adam's step count must be a whole number >= 0, got ${state.step}`);
    }
    if (state.m.length !== vars.length || state.v.length !== vars.length) {
      throw new RangeError(
        `Adam's state holds moments of ${state.m.length} variables, expected ${vars.length}`,
      );
    }
    vars.forEach((variable, i) => {
      if (state.m[i].length !== variable.size || state.v[i].length !== variable.size) {
        throw new RangeError(
          `Adam's moments of "${variable.name}" hold ${
            state.m[i].length
          } values, expected ${variable.size}`,
        );
      }
    });
    this.#step = state.step;
    vars.forEach((variable, i) => {
      this.#m.set(variable, state.m[i].slice());
      this.#v.set(variable, state.v[i].slice());
    });
  }

  /**
   * One step: `w -= lr * mHat / (sqrt(vHat) + eps)` for every variable. Each variable gets a
   * new tensor (a new data id), so that caches keyed by tensor (XNNPACK's packed weights)
   * never see stale values.
   *
   * @param vars The variables.
   * @param grads Their gradients, in the same order and shapes.
   */
  apply(vars: tf.Variable[], grads: tf.Tensor[]): void {
    this.#step++;
    const b1 = this.#beta1, b2 = this.#beta2, eps = this.#eps;
    const c1 = 1 - Math.pow(b1, this.#step), c2 = 1 - Math.pow(b2, this.#step);
    const lr = this.#lr;
    for (let i = 0; i < vars.length; i++) {
      const variable = vars[i];
      let m = this.#m.get(variable), v = this.#v.get(variable);
      if (!m || !v) {
        m = new Float32Array(variable.size);
        v = new Float32Array(variable.size);
        this.#m.set(variable, m);
        this.#v.set(variable, v);
      }
      const step = { beta1: b1, beta2: b2, lr, c1, c2, epsilon: eps };
      if (nativeAdam(variable, grads[i], m, v, step)) continue;
      const g = grads[i].dataSync() as Float32Array;
      const w = variable.dataSync() as Float32Array; // a copy
      adamLoop(w, g, m, v, b1, b2, lr / c1, 1 / c2, eps);
      const next = tf.tensor(w, variable.shape, "float32");
      variable.assign(next);
      next.dispose();
    }
  }
}

/** The update, in a function of its own so that V8 compiles a tight loop. */
function adamLoop(
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  b1: number,
  b2: number,
  lrHat: number,
  invC2: number,
  eps: number,
): void {
  const a1 = 1 - b1, a2 = 1 - b2;
  for (let j = 0; j < w.length; j++) {
    const gj = g[j];
    const mj = b1 * m[j] + a1 * gj;
    const vj = b2 * v[j] + a2 * gj * gj;
    m[j] = mj;
    v[j] = vj;
    w[j] -= lrHat * mj / (Math.sqrt(vj * invC2) + eps);
  }
}
