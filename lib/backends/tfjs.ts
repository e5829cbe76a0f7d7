/**
 * The reference backend: the tree's maths written in TensorFlow.js ops, gradients by
 * autodiff. Slow on small batches (per-op overhead) but independent of the hand-written
 * gradients of the native backends, which are tested against it.
 *
 * @module
 */
import { tf } from "../deps.ts";
import {
  adamSize,
  type AdamState,
  type BackendName,
  type EvalResult,
  type ForwardResult,
  type LossReport,
  refuseRegression,
  type TreeBackend,
  type TreeEngine,
  type TreeGradients,
} from "./types.ts";
import {
  ADAM,
  ALPHA_EPS,
  isRegression,
  MIX_EPS,
  type PenaltyState,
  type TreeConfig,
  type TreeParams,
  treeSizes,
} from "../tree/types.ts";
import { checkParams } from "../tree/params.ts";

type Tensor = tf.Tensor;
type Tensor2D = tf.Tensor2D;

/** `tf.tidy` for functions that return plain values. */
function tidy<T>(fn: () => T): T {
  let out: T | undefined;
  tf.tidy(() => {
    out = fn();
  });
  return out as T;
}

/** Rows forwarded at a time by `forward` and `evaluate`, bounding memory. */
const EVAL_CHUNK = 2048;

/** What one forward pass of a batch produces, all tensors. */
interface Graph {
  /** `[B, I]` probability of going right. */
  p: Tensor2D;
  /** `[B, I]` path probability of each inner node. */
  reachInner: Tensor2D;
  /** `[B, L]` path probability of each leaf. */
  leaf: Tensor2D;
}

class TfjsTree implements TreeEngine {
  readonly backend: BackendName = "tfjs";
  readonly config: TreeConfig;
  #inner: number;
  #leaves: number;
  #w: tf.Variable; // [I, F]
  #b: tf.Variable; // [I]
  #phi: tf.Variable; // [L, K]
  #beta: tf.Variable; // []
  /** Adam's moments of w, b, phi, beta (beta's stay 0 unless it is learned). */
  #m: tf.Variable[];
  #v: tf.Variable[];
  /** Adam's step count. */
  #adamStep = 0;
  #lr: number;
  #num: Float32Array; // [I]
  #den: Float32Array; // [I]
  #steps = 0;
  #levelOf: Int32Array; // [I] depth of each inner node
  #x: Tensor2D | null = null; // resident [N, F]
  #t: Tensor2D | null = null; // resident [N, K]

  constructor(config: TreeConfig, params: TreeParams) {
    this.config = { ...config };
    const { inner, leaves } = treeSizes(config.depth);
    this.#inner = inner;
    this.#leaves = leaves;
    checkParams(config, params);
    this.#w = tf.variable(tf.tensor2d(params.w, [inner, config.features]), true);
    this.#b = tf.variable(tf.tensor1d(params.b), true);
    this.#phi = tf.variable(tf.tensor2d(params.phi, [leaves, config.classes]), true);
    this.#beta = tf.variable(tf.scalar(params.beta), config.learnBeta);
    this.#lr = config.learningRate;
    const all = [this.#w, this.#b, this.#phi, this.#beta];
    const zeros = () => tf.tidy(() => all.map((p) => tf.variable(tf.zerosLike(p), false)));
    this.#m = zeros();
    this.#v = zeros();
    this.#num = new Float32Array(inner);
    this.#den = new Float32Array(inner);
    this.#levelOf = new Int32Array(inner);
    for (let n = 0; n < inner; n++) this.#levelOf[n] = Math.floor(Math.log2(n + 1));
  }

  /** Zero Adam's moments and step count. */
  #resetAdam(): void {
    tf.tidy(() => {
      for (const m of [...this.#m, ...this.#v]) m.assign(tf.zerosLike(m));
    });
    this.#adamStep = 0;
  }

  #vars(): tf.Variable[] {
    return this.config.learnBeta
      ? [this.#w, this.#b, this.#phi, this.#beta]
      : [this.#w, this.#b, this.#phi];
  }

  getParams(): TreeParams {
    return {
      w: this.#w.dataSync() as Float32Array,
      b: this.#b.dataSync() as Float32Array,
      phi: this.#phi.dataSync() as Float32Array,
      beta: this.#beta.dataSync()[0],
    };
  }

  setParams(params: TreeParams): void {
    checkParams(this.config, params);
    tf.tidy(() => {
      this.#w.assign(tf.tensor2d(params.w, [this.#inner, this.config.features]));
      this.#b.assign(tf.tensor1d(params.b));
      this.#phi.assign(tf.tensor2d(params.phi, [this.#leaves, this.config.classes]));
      this.#beta.assign(tf.scalar(params.beta));
    });
    this.#resetAdam();
  }

  getAdamState(): AdamState {
    const flat = (parts: tf.Variable[]) => {
      const out = new Float32Array(adamSize(this.config));
      let at = 0;
      for (const p of parts) {
        const d = p.dataSync();
        out.set(d, at);
        at += d.length;
      }
      return out;
    };
    return { m: flat(this.#m), v: flat(this.#v), step: this.#adamStep };
  }

  setAdamState(state: AdamState): void {
    const size = adamSize(this.config);
    if (state.m.length !== size || state.v.length !== size) {
      throw new RangeError(
        `Adam's moments must hold ${size} values each, got ${state.m.length} and ${state.v.length}`,
      );
    }
    if (!Number.isSafeInteger(state.step) || state.step < 0) {
      throw new RangeError(`Adam's step count must be a whole number >= 0, got ${state.step}`);
    }
    tf.tidy(() => {
      for (const [parts, flat] of [[this.#m, state.m], [this.#v, state.v]] as const) {
        let at = 0;
        for (const p of parts) {
          p.assign(tf.tensor(flat.subarray(at, at + p.size), p.shape));
          at += p.size;
        }
      }
    });
    this.#adamStep = state.step;
  }

  getPenaltyState(): PenaltyState {
    return { num: this.#num.slice(), den: this.#den.slice(), steps: this.#steps };
  }

  setPenaltyState(state: PenaltyState): void {
    if (state.num.length !== this.#inner || state.den.length !== this.#inner) {
      throw new RangeError(
        `Penalty state must hold ${this.#inner} values per array, got ${state.num.length} and ${state.den.length}`,
      );
    }
    this.#num = Float32Array.from(state.num);
    this.#den = Float32Array.from(state.den);
    this.#steps = state.steps;
  }

  setBeta(beta: number): void {
    if (!Number.isFinite(beta)) throw new RangeError(`Beta must be finite, got ${beta}`);
    tf.tidy(() => this.#beta.assign(tf.scalar(beta)));
  }

  setLearningRate(lr: number): void {
    this.#lr = lr;
  }

  setTrainData(x: Float32Array, targets: Float32Array): void {
    const { features, classes } = this.config;
    const n = x.length / features;
    if (!Number.isInteger(n) || targets.length !== n * classes) {
      throw new RangeError(
        `Training data must be [N, ${features}] inputs and [N, ${classes}] targets, got ${x.length} and ${targets.length} values`,
      );
    }
    this.#x?.dispose();
    this.#t?.dispose();
    this.#x = tf.tensor2d(x, [n, features]);
    this.#t = tf.tensor2d(targets, [n, classes]);
  }

  /** Routing of a batch `x [B, F]`. */
  #route(x: Tensor2D): Graph {
    const depth = this.config.depth;
    const z = tf.mul(this.#beta, tf.add(tf.matMul(x, this.#w, false, true), this.#b)); // [B, I]
    const p = tf.sigmoid(z) as Tensor2D;
    const batch = x.shape[0];
    let reach: Tensor2D = tf.ones([batch, 1]);
    const reachLevels: Tensor2D[] = [];
    for (let d = 0; d < depth; d++) {
      const start = 2 ** d - 1;
      const pd = tf.slice(p, [0, start], [batch, 2 ** d]); // [B, 2^d]
      reachLevels.push(reach);
      const left = tf.mul(reach, tf.sub(1, pd));
      const right = tf.mul(reach, pd);
      // Interleave so that the children of level position j sit at 2j and 2j + 1.
      reach = tf.reshape(tf.stack([left, right], 2), [batch, 2 ** (d + 1)]);
    }
    const reachInner = (depth === 1 ? reachLevels[0] : tf.concat(reachLevels, 1)) as Tensor2D;
    return { p, reachInner, leaf: reach };
  }

  /** Objective of a batch and its parts; `lambda [I]` and the stored averages are constants. */
  #objective(x: Tensor2D, t: Tensor2D) {
    const cfg = this.config;
    const batch = x.shape[0];
    const g = this.#route(x);
    let lossVec: Tensor;
    if (isRegression(cfg) && cfg.loss === "expected") {
      // sum_l P^l sum_k (phi_lk - T_k)^2 = sum_l P^l (|phi_l|^2 - 2 phi_l.T + |T|^2)
      const cost = tf.add(
        tf.sub(
          tf.reshape(tf.sum(tf.square(this.#phi), 1), [1, -1]),
          tf.mul(2, tf.matMul(t, this.#phi, false, true)),
        ),
        tf.sum(tf.square(t), 1, true),
      ); // [B, L]
      lossVec = tf.sum(tf.mul(g.leaf, cost), 1);
    } else if (isRegression(cfg)) {
      lossVec = tf.sum(tf.square(tf.sub(tf.matMul(g.leaf, this.#phi), t)), 1);
    } else if (cfg.loss === "expected") {
      const logQ = tf.logSoftmax(this.#phi); // [L, K]
      lossVec = tf.neg(tf.sum(tf.mul(g.leaf, tf.matMul(t, logQ, false, true)), 1)); // [B]
    } else {
      const mix = tf.matMul(g.leaf, tf.softmax(this.#phi)); // [B, K]
      lossVec = tf.neg(tf.sum(tf.mul(t, tf.log(tf.maximum(mix, MIX_EPS))), 1));
    }
    const loss = tf.mean(lossVec);
    const lambda = new Float32Array(this.#inner);
    const weight = new Float32Array(this.#inner);
    for (let n = 0; n < this.#inner; n++) {
      const d = this.#levelOf[n];
      lambda[n] = this.#steps === 0 ? 1 : Math.min(1, batch / (cfg.emaWindow * 2 ** d));
      weight[n] = cfg.penaltyDecay ** d;
    }
    const lam = tf.tensor1d(lambda);
    const mNum = tf.mean(tf.mul(g.reachInner, g.p), 0); // [I]
    const mDen = tf.mean(g.reachInner, 0); // [I]
    const sNum = tf.add(tf.mul(tf.sub(1, lam), tf.tensor1d(this.#num)), tf.mul(lam, mNum));
    const sDen = tf.add(tf.mul(tf.sub(1, lam), tf.tensor1d(this.#den)), tf.mul(lam, mDen));
    const alpha = tf.clipByValue(tf.div(sNum, tf.maximum(sDen, 1e-30)), ALPHA_EPS, 1 - ALPHA_EPS);
    const perNode = tf.mul(0.5, tf.add(tf.log(alpha), tf.log(tf.sub(1, alpha))));
    const penalty = tf.mul(-cfg.penaltyStrength, tf.sum(tf.mul(tf.tensor1d(weight), perNode)));
    return { objective: tf.add(loss, penalty) as tf.Scalar, loss, penalty, sNum, sDen };
  }

  /**
   * One Adam step on `x [B, F]`, `t [B, K]`; updates the penalty state. Adam as in the
   * reference maths: `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`,
   * `theta -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)`.
   */
  #step(x: Tensor2D, t: Tensor2D): { loss: number; penalty: number } {
    let kept: Tensor[] = [];
    const vars = this.#vars();
    const { value, grads } = tf.variableGrads(() => {
      const o = this.#objective(x, t);
      kept = [tf.keep(o.loss), tf.keep(o.penalty), tf.keep(o.sNum), tf.keep(o.sDen)];
      return o.objective;
    }, vars);
    value.dispose();
    const step = ++this.#adamStep;
    const { beta1: b1, beta2: b2, eps } = ADAM;
    const c1 = 1 - b1 ** step, c2 = 1 - b2 ** step;
    tf.tidy(() => {
      vars.forEach((p, i) => {
        const g = grads[p.name];
        const m = this.#m[i], v = this.#v[i];
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        p.assign(tf.sub(p, tf.mul(update, this.#lr)));
      });
    });
    tf.dispose(Object.values(grads));
    const [loss, penalty, sNum, sDen] = kept;
    const out = { loss: loss.dataSync()[0], penalty: penalty.dataSync()[0] };
    this.#num = sNum.dataSync() as Float32Array;
    this.#den = sDen.dataSync() as Float32Array;
    this.#steps++;
    tf.dispose(kept);
    return out;
  }

  trainSamples(order: Int32Array, batchSize: number): LossReport {
    if (!this.#x || !this.#t) throw new Error("No training data: call setTrainData first");
    checkBatchSize(batchSize);
    const n = this.#x.shape[0];
    let lossSum = 0;
    let penaltySum = 0;
    let batches = 0;
    for (let start = 0; start < order.length; start += batchSize) {
      const idx = order.subarray(start, Math.min(order.length, start + batchSize));
      for (const i of idx) {
        if (i < 0 || i >= n) throw new RangeError(`Row index ${i} is outside [0, ${n})`);
      }
      const r = tidy(() => {
        const ix = tf.tensor1d(idx, "int32");
        const xb = tf.gather(this.#x!, ix) as Tensor2D;
        const tb = tf.gather(this.#t!, ix) as Tensor2D;
        return this.#step(xb, tb);
      });
      lossSum += r.loss * idx.length;
      penaltySum += r.penalty;
      batches++;
    }
    return {
      loss: order.length ? lossSum / order.length : 0,
      penalty: batches ? penaltySum / batches : 0,
      samples: order.length,
    };
  }

  trainStep(x: Float32Array, targets: Float32Array): LossReport {
    const b = this.#batchRows(x, targets);
    const r = tidy(() =>
      this.#step(
        tf.tensor2d(x, [b, this.config.features]),
        tf.tensor2d(targets, [b, this.config.classes]),
      )
    );
    return { ...r, samples: b };
  }

  gradients(x: Float32Array, targets: Float32Array): TreeGradients {
    const b = this.#batchRows(x, targets);
    // d/dbeta is reported even when beta is fixed: make it differentiable for this call.
    this.#beta.trainable = true;
    try {
      return this.#gradients(x, targets, b);
    } finally {
      this.#beta.trainable = this.config.learnBeta;
    }
  }

  #gradients(x: Float32Array, targets: Float32Array, b: number): TreeGradients {
    return tidy(() => {
      const xb = tf.tensor2d(x, [b, this.config.features]);
      const tb = tf.tensor2d(targets, [b, this.config.classes]);
      let parts: Tensor[] = [];
      const { value, grads } = tf.variableGrads(() => {
        const o = this.#objective(xb, tb);
        parts = [tf.keep(o.loss), tf.keep(o.penalty)];
        return o.objective;
      }, [this.#w, this.#b, this.#phi, this.#beta]);
      value.dispose();
      const out: TreeGradients = {
        loss: parts[0].dataSync()[0],
        penalty: parts[1].dataSync()[0],
        samples: b,
        w: grads[this.#w.name].dataSync() as Float32Array,
        b: grads[this.#b.name].dataSync() as Float32Array,
        phi: grads[this.#phi.name].dataSync() as Float32Array,
        beta: grads[this.#beta.name].dataSync()[0],
      };
      tf.dispose(parts);
      return out;
    });
  }

  forward(x: Float32Array): ForwardResult {
    const { features, classes } = this.config;
    const n = x.length / features;
    if (!Number.isInteger(n)) {
      throw new RangeError(`Inputs must be [N, ${features}], got ${x.length} values`);
    }
    const I = this.#inner, L = this.#leaves;
    const out: ForwardResult = {
      inner: new Float32Array(n * I),
      leaf: new Float32Array(n * L),
      mixture: new Float32Array(n * classes),
      predMaxLeaf: new Int32Array(n),
      predMixture: new Int32Array(n),
      maxLeaf: new Int32Array(n),
    };
    const regression = isRegression(this.config);
    const leafClass = regression
      ? new Int32Array(L)
      : tidy(() => tf.argMax(this.#phi, 1).dataSync() as Int32Array);
    for (let start = 0; start < n; start += EVAL_CHUNK) {
      const m = Math.min(EVAL_CHUNK, n - start);
      tidy(() => {
        const xb = tf.tensor2d(x.subarray(start * features, (start + m) * features), [m, features]);
        const g = this.#route(xb);
        const mix = tf.matMul(g.leaf, regression ? this.#phi : tf.softmax(this.#phi));
        out.inner.set(g.p.dataSync(), start * I);
        out.leaf.set(g.leaf.dataSync(), start * L);
        out.mixture.set(mix.dataSync(), start * classes);
        const best = tf.argMax(g.leaf, 1).dataSync();
        out.maxLeaf.set(best, start);
        for (let i = 0; i < m; i++) out.predMaxLeaf[start + i] = leafClass[best[i]];
        if (!regression) out.predMixture.set(tf.argMax(mix, 1).dataSync(), start);
      });
    }
    return out;
  }

  evaluate(x: Float32Array, labels: Int32Array): EvalResult {
    refuseRegression(this.config);
    const f = this.forward(x);
    if (labels.length !== f.predMaxLeaf.length) {
      throw new RangeError(`Got ${labels.length} labels for ${f.predMaxLeaf.length} inputs`);
    }
    let a = 0, b = 0;
    for (let i = 0; i < labels.length; i++) {
      if (f.predMaxLeaf[i] === labels[i]) a++;
      if (f.predMixture[i] === labels[i]) b++;
    }
    const n = Math.max(1, labels.length);
    return {
      accuracy: a / n,
      accuracyMixture: b / n,
      predMaxLeaf: f.predMaxLeaf,
      predMixture: f.predMixture,
    };
  }

  #batchRows(x: Float32Array, targets: Float32Array): number {
    const { features, classes } = this.config;
    const b = x.length / features;
    if (!Number.isInteger(b) || b < 1 || targets.length !== b * classes) {
      throw new RangeError(
        `A batch must be [B, ${features}] inputs and [B, ${classes}] targets with B >= 1, got ${x.length} and ${targets.length} values`,
      );
    }
    return b;
  }

  dispose(): void {
    tf.dispose([this.#w, this.#b, this.#phi, this.#beta]);
    this.#x?.dispose();
    this.#t?.dispose();
    this.#x = this.#t = null;
    tf.dispose([...this.#m, ...this.#v]);
  }
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`Batch size must be a whole number of at least 1, got ${batchSize}`);
  }
}

/**
 * The TensorFlow.js backend. Call `await ensureTf()` (lib/backends/tf_setup.ts) once
 * before creating trees.
 *
 * @example
 * ```ts
 * await ensureTf();
 * const tree = tfjsBackend.createTree(config, initParams(config, 1));
 * ```
 */
export const tfjsBackend: TreeBackend = {
  name: "tfjs",
  get description() {
    return `tfjs (${tf.getBackend() ?? "not ready"})`;
  },
  createTree(config: TreeConfig, params: TreeParams): TreeEngine {
    return new TfjsTree(config, params);
  },
};
