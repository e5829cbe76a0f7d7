/**
 * The teacher's heavy kernels in the native library (`ffi/stk.h`), registered as kernels of
 * TensorFlow.js's wasm backend: the teacher stays a tfjs layers model, and its tensors stay
 * in the wasm heap, where the C code reads and writes them through pointers (views of the
 * heap passed as FFI buffers; outputs are allocated before any view is taken, since an
 * allocation can grow, and so move, the heap).
 *
 * Registered over the wasm kernels (and over softtree's own, `kernels.ts`), each falling back
 * to the kernel it replaced for what it does not handle (another data format or type,
 * dilations, activations other than linear and relu, broadcasts it does not know):
 *
 * | kernel                        | native entry point                                 |
 * | ----------------------------- | -------------------------------------------------- |
 * | `Conv2D`, `FusedConv2D`       | `stk_conv2d` (bias and relu in the GEMM's epilogue) |
 * | `Conv2DBackpropInput`         | `stk_conv2d_backprop_input`                        |
 * | `Conv2DBackpropFilter`        | `stk_conv2d_backprop_filter`                       |
 * | `BatchMatMul`, `_FusedMatMul` | `stk_matmul`                                       |
 * | `MaxPool`, `MaxPoolGrad`      | `stk_max_pool`, `stk_max_pool_grad`                |
 * | `Sum` over leading axes       | `stk_sum_rows` (bias gradients)                    |
 * | `Identity`                    | none: shares the data (the wasm kernel copies it)  |
 *
 * and {@link nativeAdam} runs the optimizer's update (`_adam.ts`), {@link nativeDropoutMask}
 * draws the training step's dropout masks (the JS generator's sequence, straight into the
 * heap).
 *
 * Under a gradient tape tfjs-layers does not fuse a layer's relu (`Conv2D`, `Add`, `Relu`
 * forward; `Cast`, `Step`, `Multiply`, `Sum` backward: four more passes over the activations
 * and a dozen kernel calls per layer). {@link nativeTrainingLayer} runs a relu layer of the
 * training step as one kernel of its own instead (`SofttreeConv2DRelu`, `SofttreeMatMulRelu`:
 * bias and relu in the product's epilogue), whose registered gradient masks dy and sums the
 * bias gradient in one pass (`SofttreeReluBiasGrad`, `stk_relu_bias_grad`) before the
 * products' gradients; the model and its weights are the layers' own. Likewise
 * {@link nativeSoftmaxCrossEntropy} is the loss and its gradient in one kernel
 * (`SofttreeSoftmaxXent`, `stk_softmax_xent`) where tfjs's takes about 25.
 *
 * `kernels_select.ts` chooses between these and the wasm kernels;
 * `tests/teacher_kernels_native_test.ts` holds every kernel to the plain CPU backend.
 *
 * Shapes: `B` batch, `H W C` input image, `OH OW CO` output image, `KH KW` filter (NHWC).
 *
 * @module
 */
import { tf } from "../deps.ts";
import { Activation, type StkLibrary, unwrapStk } from "../../ffi/stk_bindings.ts";
import type { Rng } from "../util/random.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** What the wasm backend exposes to kernels (a subset of `BackendWasm`). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  incRef(dataId: unknown): void;
  disposeData(dataId: unknown): boolean;
}

type KernelArgs = { inputs: Any; attrs: Any; backend: WasmBackend };
type KernelFunc = (args: KernelArgs) => tf.TensorInfo;

const WASM = "wasm";

/** The kernels this module registers. */
const NATIVE_KERNELS = [
  "Conv2D",
  "FusedConv2D",
  "Conv2DBackpropInput",
  "Conv2DBackpropFilter",
  "BatchMatMul",
  "_FusedMatMul",
  "MaxPool",
  "MaxPoolGrad",
  "Sum",
  "Identity",
  "SofttreeConv2DRelu",
  "SofttreeMatMulRelu",
  "SofttreeReluBiasGrad",
  "SofttreeSoftmaxXent",
] as const;

let active: { lib: StkLibrary; saved: Map<string, tf.KernelConfig | undefined> } | null = null;
const calls = new Map<string, number>();

/**
 * How many times each kernel ran natively since the process started (kernels not named here
 * or not counted fell back to the wasm kernels): what tests and profiles check.
 * @example
 * ```ts
 * nativeKernelCalls().Conv2D; // 2 after one forward pass of the teacher
 * ```
 */
export function nativeKernelCalls(): Record<string, number> {
  return Object.fromEntries(calls);
}

/**
 * Registers `lib`'s kernels on the wasm backend over whatever is registered now (which each
 * falls back to). Registering the same library again does nothing; another one replaces it.
 *
 * @param lib A loaded teacher-kernel library (`ffi/stk_bindings.ts`).
 * @returns The kernel names registered (empty when `lib` was already registered).
 * @throws {Error} When the wasm backend is not loaded in this process.
 * @example
 * ```ts
 * installNativeKernels(loadStkLibrary("cpu", path)); // ["Conv2D", "FusedConv2D", ...]
 * ```
 */
export function installNativeKernels(lib: StkLibrary): string[] {
  if (active?.lib === lib) return [];
  uninstallNativeKernels();
  if (!tf.getKernel("BatchMatMul", WASM)) {
    throw new Error("The native teacher kernels need TensorFlow.js's wasm backend, not loaded");
  }
  const saved = new Map<string, tf.KernelConfig | undefined>();
  for (const name of NATIVE_KERNELS) saved.set(name, tf.getKernel(name, WASM));
  const impl: Record<(typeof NATIVE_KERNELS)[number], (args: KernelArgs) => tf.TensorInfo | null> =
    {
      Conv2D: (a) => conv2d(lib, a, false),
      FusedConv2D: (a) => conv2d(lib, a, true),
      Conv2DBackpropInput: (a) => conv2dBackpropInput(lib, a),
      Conv2DBackpropFilter: (a) => conv2dBackpropFilter(lib, a),
      BatchMatMul: (a) => matMul(lib, a, false),
      _FusedMatMul: (a) => matMul(lib, a, true),
      MaxPool: (a) => maxPool(lib, a),
      MaxPoolGrad: (a) => maxPoolGrad(lib, a),
      Sum: (a) => sum(lib, a),
      Identity: identity,
      SofttreeConv2DRelu: (a) => must(conv2d(lib, withRelu(a), true), "SofttreeConv2DRelu"),
      SofttreeMatMulRelu: (a) => must(matMul(lib, withRelu(a), true), "SofttreeMatMulRelu"),
      SofttreeReluBiasGrad: (a) => reluBiasGrad(lib, a) as Any,
      SofttreeSoftmaxXent: (a) => softmaxXent(lib, a) as Any,
    };
  for (const name of NATIVE_KERNELS) {
    const old = saved.get(name);
    const fallback = old?.kernelFunc as KernelFunc | undefined;
    const native = impl[name];
    if (old) tf.unregisterKernel(name, WASM);
    tf.registerKernel({
      kernelName: name,
      backendName: WASM,
      setupFunc: old?.setupFunc,
      kernelFunc: ((args: KernelArgs) => {
        const out = native(args);
        if (out) {
          calls.set(name, (calls.get(name) ?? 0) + 1);
          return out;
        }
        if (!fallback) throw new Error(`No wasm kernel "${name}" to fall back to`);
        return fallback(args);
      }) as Any,
    });
  }
  active = { lib, saved };
  return [...NATIVE_KERNELS];
}

/** Puts back the kernels that {@link installNativeKernels} replaced (nothing when none). */
export function uninstallNativeKernels(): void {
  if (!active) return;
  for (const [name, config] of active.saved) {
    tf.unregisterKernel(name, WASM);
    if (config) tf.registerKernel(config);
  }
  active = null;
}

/* ---------------------------------------------------------------- fused training layers */

function withRelu(args: KernelArgs): KernelArgs {
  return { ...args, attrs: { ...args.attrs, activation: "relu" } };
}

function must(out: tf.TensorInfo | null, name: string): tf.TensorInfo {
  if (!out) throw new Error(`The native kernel ${name} cannot run these tensors`);
  return out;
}

/** `SofttreeReluBiasGrad`: [dz = y > 0 ? dy : 0, dbias = dz summed over all but the last axis]. */
function reluBiasGrad(lib: StkLibrary, args: KernelArgs): tf.TensorInfo[] {
  const { inputs, backend } = args;
  const { dy, y } = inputs as Record<string, tf.TensorInfo>;
  const cols = y.shape[y.shape.length - 1], rows = tf.util.sizeFromShape(y.shape) / cols;
  const dz = backend.makeOutput(y.shape, "float32");
  const db = backend.makeOutput([cols], "float32");
  const status = lib.symbols.stk_relu_bias_grad(
    heap(backend, dz),
    heap(backend, db),
    heap(backend, dy),
    heap(backend, y),
    BigInt(rows),
    cols,
  );
  check(lib, backend, status, "stk_relu_bias_grad", dz, db);
  return [dz, db];
}

/** `SofttreeSoftmaxXent`: [the mean loss (a scalar), its gradient with respect to the
 * logits]. */
function softmaxXent(lib: StkLibrary, args: KernelArgs): tf.TensorInfo[] {
  const { inputs, backend } = args;
  const { logits, labels } = inputs as Record<string, tf.TensorInfo>;
  const [rows, classes] = logits.shape;
  const loss = backend.makeOutput([], "float32");
  const grad = backend.makeOutput(logits.shape, "float32");
  const status = lib.symbols.stk_softmax_xent(
    heap(backend, loss),
    heap(backend, grad),
    heap(backend, logits),
    heap(backend, labels),
    rows,
    classes,
  );
  check(lib, backend, status, "stk_softmax_xent", loss, grad);
  return [loss, grad];
}

const run = (name: string, inputs: Any, attrs: Any = {}) =>
  tf.engine().runKernel(name, inputs, attrs) as Any;

/** The gradients of the fused layers, registered once per process. */
function registerFusedGradients(): void {
  if (!tf.getGradient("SofttreeConv2DRelu")) {
    tf.registerGradient({
      kernelName: "SofttreeConv2DRelu",
      inputsToSave: ["x", "filter"],
      outputsToSave: [true],
      gradFunc: (dy: Any, saved: tf.Tensor[], attrs: Any) => {
        const [x, filter, y] = saved;
        const [dz, db] = run("SofttreeReluBiasGrad", { dy, y }) as tf.Tensor[];
        const conv = { strides: attrs.strides, pad: attrs.pad, dataFormat: "NHWC" };
        return {
          x: () => run("Conv2DBackpropInput", { dy: dz, filter }, { ...conv, inputShape: x.shape }),
          filter: () =>
            run("Conv2DBackpropFilter", { x, dy: dz }, { ...conv, filterShape: filter.shape }),
          bias: () => db,
        };
      },
    });
  }
  if (!tf.getGradient("SofttreeSoftmaxXent")) {
    tf.registerGradient({
      kernelName: "SofttreeSoftmaxXent",
      outputsToSave: [false, true],
      gradFunc: (dy: Any, saved: tf.Tensor[]) => ({
        logits: () => tf.mul(Array.isArray(dy) ? dy[0] : dy, saved[0]),
      }),
    });
  }
  if (!tf.getGradient("SofttreeMatMulRelu")) {
    tf.registerGradient({
      kernelName: "SofttreeMatMulRelu",
      inputsToSave: ["a", "b"],
      outputsToSave: [true],
      gradFunc: (dy: Any, saved: tf.Tensor[]) => {
        const [a, b, y] = saved;
        const [dz, db] = run("SofttreeReluBiasGrad", { dy, y }) as tf.Tensor[];
        return {
          a: () => run("BatchMatMul", { a: dz, b }, { transposeA: false, transposeB: true }),
          b: () => run("BatchMatMul", { a, b: dz }, { transposeA: true, transposeB: false }),
          bias: () => db,
        };
      },
    });
  }
}

/**
 * A relu layer of the training step as one native kernel with its own gradient: a `Conv2D`
 * layer (relu, bias, channels last, dilation 1) or a `Dense` layer (relu, bias, on a batch of
 * vectors), computing what `layer.apply(x, { training: true })` computes from the layer's
 * own weights. Call under the gradient tape (in `tf.variableGrads`).
 *
 * @returns The layer's output, or `null` when the native kernels are not registered or the
 *   layer is of another kind (then `layer.apply` it).
 */
export function nativeTrainingLayer(layer: Any, x: tf.Tensor): tf.Tensor | null {
  if (!active || tf.getBackend() !== WASM) return null;
  const kind = layer.getClassName();
  if (kind !== "Conv2D" && kind !== "Dense") return null;
  const c = layer.getConfig() as Any;
  if (c.activation !== "relu" || !c.useBias || layer.trainableWeights.length !== 2) return null;
  if (c.kernelRegularizer || c.biasRegularizer || c.activityRegularizer) return null;
  const [kernel, bias] = layer.trainableWeights.map((w: Any) => w.read()) as tf.Tensor[];
  registerFusedGradients();
  if (kind === "Dense") {
    if (x.rank !== 2) return null;
    return run("SofttreeMatMulRelu", { a: x, b: kernel, bias });
  }
  const dilations = [c.dilationRate].flat();
  if (x.rank !== 4 || (c.dataFormat ?? "channelsLast") !== "channelsLast") return null;
  if (dilations.some((d: number) => d !== 1) || (c.padding !== "valid" && c.padding !== "same")) {
    return null;
  }
  return run("SofttreeConv2DRelu", { x, filter: kernel, bias }, {
    strides: c.strides,
    pad: c.padding,
    dataFormat: "NHWC",
    dilations: [1, 1],
  });
}

/**
 * The mean softmax cross-entropy of `logits` [B, K] against int32 `labels` [B], as
 * `tf.losses.softmaxCrossEntropy(tf.oneHot(labels, K), logits)`, in one native kernel whose
 * registered gradient is one product (tfjs's takes about 25 kernel calls).
 *
 * @returns The loss (a scalar), or `null` when the native kernels are not registered.
 */
export function nativeSoftmaxCrossEntropy(
  labels: tf.Tensor1D,
  logits: tf.Tensor2D,
): tf.Scalar | null {
  if (!active || tf.getBackend() !== WASM) return null;
  if (labels.dtype !== "int32" || logits.dtype !== "float32" || logits.rank !== 2) return null;
  registerFusedGradients();
  return (run("SofttreeSoftmaxXent", { logits, labels }) as tf.Tensor[])[0] as tf.Scalar;
}

/* ---------------------------------------------------------------- helpers */

const geometry = new Int32Array(13);

/** Fills `geometry` (`stk_conv`) from a tfjs convolution or pooling info, or returns
 * `false` when the native kernels do not handle it (dilations, NCHW, padding as large as the
 * window, an empty tensor). */
function setGeometry(info: tf.backend_util.Conv2DInfo): boolean {
  const p = info.padInfo;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return false;
  if (info.dataFormat !== "channelsLast") return false;
  if (p.top < 0 || p.left < 0 || p.top >= info.filterHeight || p.left >= info.filterWidth) {
    return false;
  }
  if (p.bottom >= info.filterHeight || p.right >= info.filterWidth) return false;
  const v = [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    p.top,
    p.left,
  ];
  if (v.some((d, i) => !(d >= (i >= 11 ? 0 : 1)) || d > 0x7fffffff)) return false;
  geometry.set(v);
  return true;
}

/** Throws the library's error for a failed call, first freeing the outputs made for it. */
function check(
  lib: StkLibrary,
  backend: WasmBackend,
  status: number,
  what: string,
  ...outs: tf.TensorInfo[]
): void {
  if (status === 0) return;
  for (const o of outs) backend.disposeData(o.dataId);
  unwrapStk(lib, status, what);
}

function float32(...ts: (tf.TensorInfo | undefined)[]): boolean {
  return ts.every((t) => !t || t.dtype === "float32");
}

function heap(backend: WasmBackend, t: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t);
}

/** Whether a bias adds one value per output channel (the last axis, `n` of them), or one
 * value to all: the broadcasts the native kernels handle. */
function channelBiasOk(bias: tf.TensorInfo | undefined, n: number): boolean {
  if (!bias) return true;
  const size = tf.util.sizeFromShape(bias.shape);
  return size === 1 || (size === n && bias.shape.slice(0, -1).every((d) => d === 1));
}

/** A bias's `n` values per channel as an FFI buffer (`null` for none). */
function channelBias(
  backend: WasmBackend,
  bias: tf.TensorInfo | undefined,
  n: number,
): Float32Array | null {
  if (!bias) return null;
  const values = heap(backend, bias);
  return values.length === n ? values : new Float32Array(n).fill(values[0]);
}

function activationOf(attrs: Any, fused: boolean): number | null {
  if (!fused) return Activation.linear;
  const act = attrs.activation ?? "linear";
  if (act === "linear") return Activation.linear;
  if (act === "relu") return Activation.relu;
  return null;
}

function convInfo(xShape: number[], filterShape: number[], attrs: Any) {
  const format = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat ?? "NHWC");
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    format,
  );
}

/* ---------------------------------------------------------------- kernels */

/** `Conv2D` and `FusedConv2D`: y = act(conv(x, filter) + bias). */
function conv2d(lib: StkLibrary, args: KernelArgs, fused: boolean): tf.TensorInfo | null {
  const { inputs, attrs, backend } = args;
  const { x, filter, bias, preluActivationWeights } = inputs as Record<string, tf.TensorInfo>;
  const act = activationOf(attrs, fused);
  if (act === null || preluActivationWeights || !float32(x, filter, bias)) return null;
  if (x.shape.length !== 4 || filter.shape.length !== 4) return null;
  const info = convInfo(x.shape, filter.shape, attrs);
  if (!setGeometry(info) || !channelBiasOk(bias, info.outChannels)) return null;
  const out = backend.makeOutput(info.outShape, "float32");
  const status = lib.symbols.stk_conv2d(
    heap(backend, out),
    heap(backend, x),
    heap(backend, filter),
    channelBias(backend, bias, info.outChannels),
    geometry,
    act,
  );
  check(lib, backend, status, "stk_conv2d", out);
  return out;
}

/** `Conv2DBackpropInput`: dx [B, H, W, C] from dy and the filter. */
function conv2dBackpropInput(lib: StkLibrary, args: KernelArgs): tf.TensorInfo | null {
  const { inputs, attrs, backend } = args;
  const { dy, filter } = inputs as Record<string, tf.TensorInfo>;
  if (!float32(dy, filter) || filter.shape.length !== 4) return null;
  const inShape = attrs.inputShape as number[];
  const info = convInfo(inShape, filter.shape, attrs);
  if (!setGeometry(info) || !sameShape(info.outShape, dy.shape)) return null;
  return gradient(lib, backend, "stk_conv2d_backprop_input", inShape, dy, filter);
}

/** `Conv2DBackpropFilter`: dfilter [KH, KW, C, CO] from x and dy. */
function conv2dBackpropFilter(lib: StkLibrary, args: KernelArgs): tf.TensorInfo | null {
  const { inputs, attrs, backend } = args;
  const { x, dy } = inputs as Record<string, tf.TensorInfo>;
  if (!float32(x, dy) || x.shape.length !== 4) return null;
  const filterShape = attrs.filterShape as number[];
  const info = convInfo(x.shape, filterShape, attrs);
  if (!setGeometry(info) || !sameShape(info.outShape, dy.shape)) return null;
  return gradient(lib, backend, "stk_conv2d_backprop_filter", filterShape, x, dy);
}

/** Runs the gradient kernel `name(out, a, b, geometry)` (after `setGeometry`) into a new
 * float32 tensor of `shape`. */
function gradient(
  lib: StkLibrary,
  backend: WasmBackend,
  name: "stk_conv2d_backprop_input" | "stk_conv2d_backprop_filter" | "stk_max_pool_grad",
  shape: number[],
  a: tf.TensorInfo,
  b: tf.TensorInfo,
): tf.TensorInfo {
  const out = backend.makeOutput(shape, "float32");
  const status = lib.symbols[name](
    heap(backend, out),
    heap(backend, a),
    heap(backend, b),
    geometry,
  );
  check(lib, backend, status, name, out);
  return out;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** `BatchMatMul` and `_FusedMatMul`: c = act(op(a) op(b) + bias), batch dimensions equal or
 * one side's all 1 (broadcast). */
function matMul(lib: StkLibrary, args: KernelArgs, fused: boolean): tf.TensorInfo | null {
  const { inputs, attrs, backend } = args;
  const { a, b, bias, preluActivationWeights } = inputs as Record<string, tf.TensorInfo>;
  const act = activationOf(attrs, fused);
  if (act === null || preluActivationWeights || !float32(a, b, bias)) return null;
  if (a.shape.length < 2 || b.shape.length < 2) return null;
  const tA = Boolean(attrs.transposeA), tB = Boolean(attrs.transposeB);
  const m = tA ? a.shape.at(-1)! : a.shape.at(-2)!;
  const k = tA ? a.shape.at(-2)! : a.shape.at(-1)!;
  const n = tB ? b.shape.at(-2)! : b.shape.at(-1)!;
  const kb = tB ? b.shape.at(-1)! : b.shape.at(-2)!;
  if (k !== kb || m < 1 || n < 1 || k < 1) return null;
  const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
  const size = tf.util.sizeFromShape;
  const batchA = size(outerA), batchB = size(outerB);
  let outer: number[];
  if (sameShape(outerA, outerB)) outer = outerA;
  else if (batchB === 1 && outerA.length >= outerB.length) outer = outerA;
  else if (batchA === 1 && outerB.length >= outerA.length) outer = outerB;
  else return null;
  const batch = size(outer);
  if (batch < 1 || !channelBiasOk(bias, n)) return null;
  const out = backend.makeOutput([...outer, m, n], "float32");
  const status = lib.symbols.stk_matmul(
    heap(backend, out),
    heap(backend, a),
    heap(backend, b),
    channelBias(backend, bias, n),
    batch,
    m,
    n,
    k,
    BigInt(batchA === 1 ? 0 : m * k),
    BigInt(batchB === 1 ? 0 : k * n),
    tA ? 1 : 0,
    tB ? 1 : 0,
    act,
  );
  check(lib, backend, status, "stk_matmul", out);
  return out;
}

function poolInfo(shape: number[], attrs: Any) {
  return tf.backend_util.computePool2DInfo(
    shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

/** `MaxPool`: y [B, OH, OW, C]. */
function maxPool(lib: StkLibrary, args: KernelArgs): tf.TensorInfo | null {
  const { inputs, attrs, backend } = args;
  const { x } = inputs as Record<string, tf.TensorInfo>;
  if (!float32(x) || x.shape.length !== 4) return null;
  const info = poolInfo(x.shape, attrs);
  if (!setGeometry(info)) return null;
  const out = backend.makeOutput(info.outShape, "float32");
  const status = lib.symbols.stk_max_pool(heap(backend, out), heap(backend, x), geometry);
  check(lib, backend, status, "stk_max_pool", out);
  return out;
}

/** `MaxPoolGrad`: dx [B, H, W, C]. */
function maxPoolGrad(lib: StkLibrary, args: KernelArgs): tf.TensorInfo | null {
  const { inputs, attrs, backend } = args;
  const { dy, input } = inputs as Record<string, tf.TensorInfo>;
  if (!float32(dy, input) || input.shape.length !== 4) return null;
  const info = poolInfo(input.shape, attrs);
  if (!setGeometry(info) || !sameShape(info.outShape, dy.shape)) return null;
  return gradient(lib, backend, "stk_max_pool_grad", input.shape, dy, input);
}

/** `Sum` over every axis but the last (a bias gradient): out [cols]. */
function sum(lib: StkLibrary, args: KernelArgs): tf.TensorInfo | null {
  const { inputs, attrs, backend } = args;
  const { x } = inputs as Record<string, tf.TensorInfo>;
  const r = x.shape.length;
  if (!float32(x) || r < 2) return null;
  const axes = [...new Set(tf.util.parseAxisParam(attrs.axis, x.shape))].sort((p, q) => p - q);
  if (axes.length !== r - 1 || axes.some((ax, i) => ax !== i)) return null;
  const cols = x.shape[r - 1], rows = tf.util.sizeFromShape(x.shape) / cols;
  if (cols < 1 || rows < 1) return null;
  const shape = attrs.keepDims ? [...x.shape.slice(0, -1).map(() => 1), cols] : [cols];
  const out = backend.makeOutput(shape, "float32");
  const status = lib.symbols.stk_sum_rows(heap(backend, out), heap(backend, x), BigInt(rows), cols);
  check(lib, backend, status, "stk_sum_rows", out);
  return out;
}

/** `Identity`: the same data under a new reference (the wasm kernel copies every value;
 * nothing writes into a tensor's data after it is made, so sharing is safe, as `Reshape`
 * does). */
function identity(args: KernelArgs): tf.TensorInfo | null {
  const { x } = args.inputs as Record<string, tf.TensorInfo>;
  if (x.dtype === "string") return null;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/* ---------------------------------------------------------------- dropout, optimizer */

/**
 * An inverted-dropout mask (`1 / (1 - rate)` with probability `1 - rate`, else 0) drawn by
 * the native library into the wasm heap: the same values, from the same generator state, as
 * drawing them with `rng.next()` in JS; `rng` is advanced past them.
 *
 * @returns The mask, or `null` (nothing drawn) when the native kernels are not registered.
 */
export function nativeDropoutMask(shape: number[], rate: number, rng: Rng): tf.Tensor | null {
  const lib = active?.lib;
  if (!lib || tf.getBackend() !== WASM) return null;
  const backend = tf.backend() as unknown as WasmBackend;
  const out = backend.makeOutput(shape, "float32");
  const n = tf.util.sizeFromShape(shape);
  const status = lib.symbols.stk_dropout_mask(heap(backend, out), rng.state, BigInt(n), rate);
  const mask = tf.engine().makeTensorFromTensorInfo(out);
  if (status !== 0) {
    mask.dispose();
    unwrapStk(lib, status, "stk_dropout_mask");
  }
  rng.skip(n);
  return mask;
}

/** Adam's constants for one step (see `_adam.ts`). */
export interface AdamStep {
  /** Decay of the first moment. */
  beta1: number;
  /** Decay of the second moment. */
  beta2: number;
  /** The step size. */
  lr: number;
  /** `1 - beta1^t` for step `t`. */
  c1: number;
  /** `1 - beta2^t`. */
  c2: number;
  /** Added to the root of the second moment. */
  epsilon: number;
}

/**
 * One Adam step of a variable in the native library: the new weights go into a new tensor in
 * the wasm heap (a new data id, like `_adam.ts`'s update, so no cache keyed by tensor sees a
 * stale value), read from the old ones and the gradient where they are; the moments `m` and
 * `v` (the optimizer's, `variable.size` values each) are updated in place.
 *
 * @returns `false` (nothing done) when the native kernels are not registered or the tensors
 *   are not float32 on the wasm backend.
 */
export function nativeAdam(
  variable: tf.Variable,
  grad: tf.Tensor,
  m: Float32Array,
  v: Float32Array,
  step: AdamStep,
): boolean {
  const lib = active?.lib;
  if (!lib || tf.getBackend() !== WASM) return false;
  if (variable.dtype !== "float32" || grad.dtype !== "float32" || grad.size !== variable.size) {
    return false;
  }
  const backend = tf.backend() as unknown as WasmBackend;
  const out = backend.makeOutput(variable.shape, "float32");
  const status = lib.symbols.stk_adam(
    heap(backend, out),
    m,
    v,
    heap(backend, variable),
    heap(backend, grad),
    BigInt(variable.size),
    step.beta1,
    step.beta2,
    step.lr,
    step.c1,
    step.c2,
    step.epsilon,
  );
  const next = tf.engine().makeTensorFromTensorInfo(out);
  try {
    unwrapStk(lib, status, "stk_adam");
    variable.assign(next);
  } finally {
    next.dispose();
  }
  return true;
}
