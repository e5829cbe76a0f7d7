/**
 * A float64 plain-JavaScript transcription of the tree's objective (lib/backends/types.ts),
 * used by tests for hand-checked values and finite differences.
 */
import {
  ALPHA_EPS,
  MIX_EPS,
  type PenaltyState,
  type TreeConfig,
  treeSizes,
} from "../lib/tree/types.ts";

/** Parameters in float64 for finite differences. */
export interface Params64 {
  w: Float64Array;
  b: Float64Array;
  phi: Float64Array;
  beta: number;
}

/** The batch objective and its parts, in float64. */
export function referenceObjective(
  cfg: TreeConfig,
  p: Params64,
  state: PenaltyState,
  x: ArrayLike<number>,
  t: ArrayLike<number>,
): { objective: number; loss: number; penalty: number; leaf: Float64Array; inner: Float64Array } {
  const { inner: I, leaves: L } = treeSizes(cfg.depth);
  const F = cfg.features, K = cfg.classes;
  const B = x.length / F;
  const logQ = new Float64Array(L * K);
  for (let l = 0; l < L; l++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, p.phi[l * K + k]);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(p.phi[l * K + k] - m);
    for (let k = 0; k < K; k++) logQ[l * K + k] = p.phi[l * K + k] - m - Math.log(s);
  }
  const leafAll = new Float64Array(B * L);
  const innerAll = new Float64Array(B * I);
  const mNum = new Float64Array(I), mDen = new Float64Array(I);
  let lossSum = 0;
  for (let i = 0; i < B; i++) {
    const reach = new Float64Array(I + L);
    reach[0] = 1;
    for (let n = 0; n < I; n++) {
      let s = p.b[n];
      for (let f = 0; f < F; f++) s += x[i * F + f] * p.w[n * F + f];
      const pr = 1 / (1 + Math.exp(-p.beta * s));
      innerAll[i * I + n] = pr;
      reach[2 * n + 1] = reach[n] * (1 - pr);
      reach[2 * n + 2] = reach[n] * pr;
      mNum[n] += reach[n] * pr / B;
      mDen[n] += reach[n] / B;
    }
    for (let l = 0; l < L; l++) leafAll[i * L + l] = reach[I + l];
    if (cfg.task === "regression") {
      // the leaves hold values phi^l; squared error per leaf (expected) or of the mixture
      for (let k = 0; k < K; k++) {
        let y = 0;
        for (let l = 0; l < L; l++) {
          const e = p.phi[l * K + k] - t[i * K + k];
          if (cfg.loss === "expected") lossSum += reach[I + l] * e * e;
          y += reach[I + l] * p.phi[l * K + k];
        }
        if (cfg.loss === "mixture") lossSum += (y - t[i * K + k]) ** 2;
      }
    } else if (cfg.loss === "expected") {
      for (let l = 0; l < L; l++) {
        let c = 0;
        for (let k = 0; k < K; k++) c += t[i * K + k] * logQ[l * K + k];
        lossSum -= reach[I + l] * c;
      }
    } else {
      for (let k = 0; k < K; k++) {
        let mix = 0;
        for (let l = 0; l < L; l++) mix += reach[I + l] * Math.exp(logQ[l * K + k]);
        lossSum -= t[i * K + k] * Math.log(Math.max(mix, MIX_EPS));
      }
    }
  }
  let penalty = 0;
  for (let n = 0; n < I; n++) {
    const d = Math.floor(Math.log2(n + 1));
    const lam = state.steps === 0 ? 1 : Math.min(1, B / (cfg.emaWindow * 2 ** d));
    const sNum = (1 - lam) * state.num[n] + lam * mNum[n];
    const sDen = (1 - lam) * state.den[n] + lam * mDen[n];
    const a = Math.min(1 - ALPHA_EPS, Math.max(ALPHA_EPS, sNum / Math.max(sDen, 1e-30)));
    penalty -= cfg.penaltyStrength * cfg.penaltyDecay ** d * 0.5 * (Math.log(a) + Math.log(1 - a));
  }
  const loss = lossSum / B;
  return { objective: loss + penalty, loss, penalty, leaf: leafAll, inner: innerAll };
}

/** Central finite differences of `referenceObjective` for every parameter. */
export function finiteDifferences(
  cfg: TreeConfig,
  p: Params64,
  state: PenaltyState,
  x: ArrayLike<number>,
  t: ArrayLike<number>,
  h = 1e-6,
): { w: Float64Array; b: Float64Array; phi: Float64Array; beta: number } {
  const f = () => referenceObjective(cfg, p, state, x, t).objective;
  const diff = (arr: Float64Array) => {
    const g = new Float64Array(arr.length);
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i];
      arr[i] = v + h;
      const up = f();
      arr[i] = v - h;
      const down = f();
      arr[i] = v;
      g[i] = (up - down) / (2 * h);
    }
    return g;
  };
  const w = diff(p.w), b = diff(p.b), phi = diff(p.phi);
  const beta0 = p.beta;
  p.beta = beta0 + h;
  const up = f();
  p.beta = beta0 - h;
  const down = f();
  p.beta = beta0;
  return { w, b, phi, beta: (up - down) / (2 * h) };
}

/** Tolerances for comparing backends and references, in one place. */
export const TOL = {
  /** float32 forward values against float64. */
  forward: { atol: 1e-5, rtol: 1e-4 },
  /** float32 gradients against float64 finite differences. */
  gradient: { atol: 2e-4, rtol: 2e-3 },
  /** parameters after many Adam steps, float32 against float32. */
  params: { atol: 2e-4, rtol: 2e-3 },
} as const;

/** Assert `|a - b| <= atol + rtol |b|` everywhere, naming the largest difference and the first mismatch. */
export function assertClose(
  what: string,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  { atol, rtol }: { atol: number; rtol: number },
): void {
  if (a.length !== b.length) throw new Error(`${what}: lengths differ, ${a.length} vs ${b.length}`);
  let worst = 0, worstAt = -1, first = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= atol + rtol * Math.abs(b[i]))) {
      if (first < 0) first = i;
    }
    if (d > worst || Number.isNaN(d)) {
      worst = d;
      worstAt = i;
    }
  }
  if (first >= 0) {
    throw new Error(
      `${what}: first mismatch at index ${first} (${a[first]} vs ${
        b[first]
      }); largest difference ${worst} at index ${worstAt}`,
    );
  }
}

/** Seeded random regression data: inputs as `randomBatch` gives them, targets `[b, k]` normal. */
export function regressionBatch(
  rng: { next(): number; normal(): number },
  b: number,
  f: number,
  k: number,
): { x: Float32Array; t: Float32Array } {
  const { x } = randomBatch(rng, b, f, 2, false);
  const t = new Float32Array(b * k);
  for (let i = 0; i < t.length; i++) t[i] = rng.normal();
  return { x, t };
}

/** Seeded random test data: inputs with many zeros like MNIST, and soft or one-hot targets. */
export function randomBatch(
  rng: { next(): number },
  b: number,
  f: number,
  k: number,
  soft: boolean,
): { x: Float32Array; t: Float32Array; labels: Int32Array } {
  const x = new Float32Array(b * f);
  for (let i = 0; i < x.length; i++) x[i] = rng.next() < 0.6 ? 0 : rng.next();
  const t = new Float32Array(b * k);
  const labels = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    labels[i] = Math.floor(rng.next() * k);
    if (soft) {
      let s = 0;
      for (let j = 0; j < k; j++) s += t[i * k + j] = rng.next() + (j === labels[i] ? 2 : 0);
      for (let j = 0; j < k; j++) t[i * k + j] /= s;
    } else t[i * k + labels[i]] = 1;
  }
  return { x, t, labels };
}
