/**
 * The native backends: the tree's hot path in the C library (`native`, built with gcc) or
 * the CUDA library (`cuda`), both through the bindings in `ffi/bindings.ts`. They implement
 * {@link TreeBackend} and agree with the tfjs reference within the tolerances of
 * `tests/backends_native_test.ts`.
 *
 * @module
 */
import { BackendUnavailableError } from "../errors.ts";
import type { PenaltyState, TreeConfig, TreeParams } from "../tree/types.ts";
import { isRegression, treeSizes } from "../tree/types.ts";
import {
  adamSize,
  type AdamState,
  type EvalResult,
  type ForwardResult,
  type LossReport,
  refuseRegression,
  type TreeBackend,
  type TreeEngine,
  type TreeGradients,
} from "./types.ts";
import { type BuildEvent, LIBRARIES } from "../../ffi/build.ts";
import { findNativeLibrary } from "./find_library.ts";

export { hasNvidiaDriver, NO_COMPILER_HINT } from "./find_library.ts";
import {
  LIBRARY_OF,
  libraryPath,
  loadLibrary,
  LossCode,
  type NativeLibrary,
  NativeLoadError,
  probe,
  RegressionLossCode,
  unwrap,
} from "../../ffi/bindings.ts";

/** Options of {@link loadNativeBackend}. */
export interface NativeBackendOptions {
  /**
   * CPU threads (the CUDA build ignores it); 0 uses every core. Falls back to the
   * `SOFTTREE_THREADS` environment variable.
   * @default 0
   */
  threads?: number;
  /**
   * The library file to load.
   * @default `SOFTTREE_NATIVE_LIB` / `SOFTTREE_CUDA_LIB`, else the checkout's `ffi/build/`
   */
  path?: string;
}

/** Options of {@link prepareNativeBackend}. */
export interface PrepareNativeOptions extends NativeBackendOptions {
  /** Told when the library is compiled (the CLI shows a progress line). */
  onBuild?: (event: BuildEvent) => void;
  /** The CPU level of a C build (e.g. `"x86-64"` for the baseline). @default this CPU's best */
  march?: string;
  /** The cache folder of built libraries. @default `cacheDir()` of `ffi/build.ts` */
  cache?: string;
}

const BUILD_HINT = "build it with `deno task build:ffi`";

/**
 * Find the library of a native backend (building it into the per-user cache when it is
 * missing: see `ffi/build.ts`), then load it.
 *
 * @param kind `"native"` (the CPU library) or `"cuda"` (the GPU library).
 * @param options Threads, build progress, CPU level, cache folder; `path` skips the search.
 * @returns The backend, ready to create trees.
 * @throws {BackendUnavailableError} When the library cannot be found or built (no compiler,
 *   a failed build, no NVIDIA driver for `cuda`), will not load, or cannot run here.
 * @example
 * ```ts
 * const backend = await prepareNativeBackend("native", {
 *   onBuild: (e) => e.phase === "start" && console.error(`building with ${e.compiler}`),
 * });
 * ```
 */
export async function prepareNativeBackend(
  kind: "native" | "cuda",
  options: PrepareNativeOptions = {},
): Promise<TreeBackend> {
  if (options.path) return loadNativeBackend(kind, options);
  const path = await findNativeLibrary(LIBRARY_OF[kind === "native" ? "cpu" : "cuda"], {
    what: `The ${kind} backend`,
    instead: "--backend native",
    known: libraryPath("cuda"),
    onBuild: options.onBuild,
    march: options.march,
    cache: options.cache,
    cacheOnly: options.march !== undefined || options.cache !== undefined,
  });
  return loadNativeBackend(kind, { ...options, path });
}

/**
 * Load a native backend from a library that is already built (see
 * {@link prepareNativeBackend} to build it on demand).
 * @param kind `"native"` (the CPU library) or `"cuda"` (the GPU library).
 * @param options Thread count, library path.
 * @returns The backend, ready to create trees.
 * @throws {BackendUnavailableError} When the library is missing or will not load, or (cuda)
 * when there is no GPU or driver; its `hint` says how to fix it.
 * @example
 * ```ts
 * const backend = loadNativeBackend("native");
 * const tree = backend.createTree(config, params);
 * ```
 */
export function loadNativeBackend(
  kind: "native" | "cuda",
  options: NativeBackendOptions = {},
): TreeBackend {
  const variant = kind === "native" ? "cpu" : "cuda";
  const envVar = LIBRARIES[LIBRARY_OF[variant]].envVar;
  let lib: NativeLibrary;
  try {
    lib = loadLibrary(variant, options.path);
  } catch (cause) {
    const missing = cause instanceof NativeLoadError && cause.kind === "missing";
    const hint = kind === "cuda" && missing
      ? `${BUILD_HINT} on a machine with nvcc, or set ${envVar} to a built libsdt_cuda.so`
      : `${BUILD_HINT}, or set ${envVar} to the library's path`;
    throw new BackendUnavailableError(
      `The ${kind} backend cannot load: ${(cause as Error).message}`,
      hint,
      { cause },
    );
  }
  const probed = probe(lib);
  if (!probed.ok) {
    throw new BackendUnavailableError(
      `The ${kind} backend cannot run here: ${probed.info}`,
      kind !== "cuda"
        ? BUILD_HINT
        : /SOFTTREE_CUBLAS/.test(probed.info)
        ? "point SOFTTREE_CUBLAS at a libcublas.so that loads, set it to none for the " +
          "built-in GEMM, or unset it"
        : "use a machine with an NVIDIA GPU and driver, or choose --backend native",
    );
  }
  const envThreads = Number(Deno.env.get("SOFTTREE_THREADS") ?? "0");
  const threads = Math.max(0, Math.trunc(options.threads ?? (envThreads || 0)));
  const description = kind === "native"
    ? `native (${probed.info.replace(/^cpu \(|\)$/g, "")}, ${
      threads || navigator.hardwareConcurrency
    } threads)`
    : `cuda (${probed.info})`;
  return {
    name: kind,
    description,
    createTree: (config, params) => new NativeEngine(kind, lib, config, params, threads),
  };
}

/** Frees native trees that were never disposed. */
const finalizer = new FinalizationRegistry<{ lib: NativeLibrary; ptr: Deno.PointerObject }>(
  ({ lib, ptr }) => lib.symbols.sdt_destroy(ptr),
);

function checkLength(what: string, got: number, want: number): void {
  if (got !== want) {
    throw new RangeError(`${what} must hold ${want} values, got ${got}`);
  }
}

class NativeEngine implements TreeEngine {
  readonly backend: "native" | "cuda";
  readonly config: TreeConfig;
  #lib: NativeLibrary;
  #ptr: Deno.PointerObject | null;
  #I: number;
  #L: number;
  #F: number;
  #K: number;
  #trainRows = 0;
  #token = {};

  constructor(
    backend: "native" | "cuda",
    lib: NativeLibrary,
    config: TreeConfig,
    params: TreeParams,
    threads: number,
  ) {
    this.backend = backend;
    this.config = { ...config };
    this.#lib = lib;
    const { inner, leaves } = treeSizes(config.depth);
    this.#I = inner;
    this.#L = leaves;
    this.#F = config.features;
    this.#K = config.classes;
    const out = new BigUint64Array(1);
    unwrap(
      lib,
      lib.symbols.sdt_create(
        out,
        config.depth,
        config.features,
        config.classes,
        (isRegression(config) ? RegressionLossCode : LossCode)[config.loss],
        config.learnBeta ? 1 : 0,
        config.invTemp,
        config.penaltyStrength,
        config.penaltyDecay,
        config.emaWindow,
        config.learningRate,
        threads,
      ),
      "Creating a tree",
    );
    const ptr = Deno.UnsafePointer.create(out[0]);
    if (ptr === null) throw new Error("The native library returned a null tree");
    this.#ptr = ptr;
    finalizer.register(this, { lib, ptr }, this.#token);
    this.setParams(params);
  }

  #ctx(): Deno.PointerObject {
    if (this.#ptr === null) throw new TypeError(`This ${this.backend} tree has been disposed`);
    return this.#ptr;
  }

  #rows(x: Float32Array, what: string): number {
    if (x.length % this.#F !== 0) {
      throw new RangeError(
        `${what} holds ${x.length} values, not a multiple of the ${this.#F} features`,
      );
    }
    return x.length / this.#F;
  }

  getParams(): TreeParams {
    const w = new Float32Array(this.#I * this.#F);
    const b = new Float32Array(this.#I);
    const phi = new Float32Array(this.#L * this.#K);
    const beta = new Float32Array(1);
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_get_params(w, b, phi, beta, this.#ctx()),
      "Reading parameters",
    );
    return { w, b, phi, beta: beta[0] };
  }

  setParams(params: TreeParams): void {
    checkLength("w", params.w.length, this.#I * this.#F);
    checkLength("b", params.b.length, this.#I);
    checkLength("phi", params.phi.length, this.#L * this.#K);
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_set_params(this.#ctx(), params.w, params.b, params.phi, params.beta),
      "Setting parameters",
    );
  }

  getPenaltyState(): PenaltyState {
    const num = new Float32Array(this.#I);
    const den = new Float32Array(this.#I);
    const steps = new BigInt64Array(1);
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_get_penalty(num, den, steps, this.#ctx()),
      "Reading the penalty state",
    );
    return { num, den, steps: Number(steps[0]) };
  }

  setPenaltyState(state: PenaltyState): void {
    checkLength("num", state.num.length, this.#I);
    checkLength("den", state.den.length, this.#I);
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_set_penalty(this.#ctx(), state.num, state.den, BigInt(state.steps)),
      "Setting the penalty state",
    );
  }

  getAdamState(): AdamState {
    const size = adamSize(this.config);
    const m = new Float32Array(size);
    const v = new Float32Array(size);
    const step = new BigInt64Array(1);
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_get_adam(m, v, step, this.#ctx()),
      "Reading Adam's state",
    );
    return { m, v, step: Number(step[0]) };
  }

  setAdamState(state: AdamState): void {
    const size = adamSize(this.config);
    checkLength("m", state.m.length, size);
    checkLength("v", state.v.length, size);
    if (!Number.isSafeInteger(state.step) || state.step < 0) {
      throw new RangeError(`Adam's step count must be a whole number >= 0, got ${state.step}`);
    }
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_set_adam(this.#ctx(), state.m, state.v, BigInt(state.step)),
      "Setting Adam's state",
    );
  }

  setBeta(beta: number): void {
    unwrap(this.#lib, this.#lib.symbols.sdt_set_beta(this.#ctx(), beta), "Setting beta");
  }

  setLearningRate(lr: number): void {
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_set_learning_rate(this.#ctx(), lr),
      "Setting the learning rate",
    );
    this.config.learningRate = lr;
  }

  setTrainData(x: Float32Array, targets: Float32Array): void {
    const n = this.#rows(x, "x");
    checkLength("targets", targets.length, n * this.#K);
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_set_train_data(this.#ctx(), x, targets, n),
      "Uploading the training set",
    );
    this.#trainRows = n;
  }

  trainSamples(order: Int32Array, batchSize: number): LossReport {
    if (this.#trainRows === 0) {
      throw new TypeError("trainSamples() needs a training set: call setTrainData() first");
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`Batch size must be a positive integer, got ${batchSize}`);
    }
    if (order.length === 0) return { loss: 0, penalty: 0, samples: 0 };
    const loss = new Float64Array(1);
    const penalty = new Float64Array(1);
    const batches = new Int32Array(1);
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_train_samples(
        loss,
        penalty,
        batches,
        this.#ctx(),
        order,
        order.length,
        batchSize,
      ),
      "Training",
    );
    return {
      loss: loss[0] / order.length,
      penalty: penalty[0] / batches[0],
      samples: order.length,
    };
  }

  trainStep(x: Float32Array, targets: Float32Array): LossReport {
    const b = this.#rows(x, "x");
    checkLength("targets", targets.length, b * this.#K);
    const loss = new Float64Array(1);
    const penalty = new Float64Array(1);
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_train_step(loss, penalty, this.#ctx(), x, targets, b),
      "A training step",
    );
    return { loss: loss[0], penalty: penalty[0], samples: b };
  }

  gradients(x: Float32Array, targets: Float32Array): TreeGradients {
    const b = this.#rows(x, "x");
    checkLength("targets", targets.length, b * this.#K);
    const w = new Float32Array(this.#I * this.#F);
    const bias = new Float32Array(this.#I);
    const phi = new Float32Array(this.#L * this.#K);
    const beta = new Float64Array(1);
    const loss = new Float64Array(1);
    const penalty = new Float64Array(1);
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_gradients(
        w,
        bias,
        phi,
        beta,
        loss,
        penalty,
        this.#ctx(),
        x,
        targets,
        b,
      ),
      "Computing gradients",
    );
    return { w, b: bias, phi, beta: beta[0], loss: loss[0], penalty: penalty[0], samples: b };
  }

  forward(x: Float32Array): ForwardResult {
    const n = this.#rows(x, "x");
    const r: ForwardResult = {
      inner: new Float32Array(n * this.#I),
      leaf: new Float32Array(n * this.#L),
      mixture: new Float32Array(n * this.#K),
      predMaxLeaf: new Int32Array(n),
      predMixture: new Int32Array(n),
      maxLeaf: new Int32Array(n),
    };
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_forward(
        r.inner,
        r.leaf,
        r.mixture,
        r.predMaxLeaf,
        r.predMixture,
        r.maxLeaf,
        this.#ctx(),
        x,
        n,
      ),
      "Forwarding",
    );
    return r;
  }

  evaluate(x: Float32Array, labels: Int32Array): EvalResult {
    refuseRegression(this.config);
    const n = this.#rows(x, "x");
    checkLength("labels", labels.length, n);
    const predMaxLeaf = new Int32Array(n);
    const predMixture = new Int32Array(n);
    if (n === 0) return { accuracy: 0, accuracyMixture: 0, predMaxLeaf, predMixture };
    const a1 = new Float64Array(1);
    const a2 = new Float64Array(1);
    unwrap(
      this.#lib,
      this.#lib.symbols.sdt_evaluate(a1, a2, predMaxLeaf, predMixture, this.#ctx(), x, labels, n),
      "Evaluating",
    );
    return { accuracy: a1[0], accuracyMixture: a2[0], predMaxLeaf, predMixture };
  }

  dispose(): void {
    if (this.#ptr === null) return;
    finalizer.unregister(this.#token);
    this.#lib.symbols.sdt_destroy(this.#ptr);
    this.#ptr = null;
  }
}
