/**
 * Fast training kernels for the wasm backend of TensorFlow.js.
 *
 * The wasm backend has no `Conv2DBackpropFilter` at all, a naive `Conv2DBackpropInput`
 * (about 1 GFLOP/s), a slow `MaxPoolGrad`, and a `BatchMatMul` that is fast (XNNPACK, about
 * 18 GFLOP/s on one core) only when neither operand is transposed: with a transpose it
 * drops to 0.5-1 GFLOP/s. XNNPACK also repacks the right operand whenever it is a new
 * tensor (every training step), at about 25 ns per element. Backpropagation asks for
 * transposed products everywhere, so this module registers, on the wasm backend only:
 *
 * - `BatchMatMul`: transposes operands (or the product) explicitly in JS, choosing the plan
 *   that copies the fewest elements, then calls the backend's own untransposed matmul;
 * - `Conv2DBackpropFilter`: for stride 1, one untransposed matmul per filter tap over a
 *   shifted view of the channel-major input (no im2col, see the function); im2col otherwise;
 * - `Conv2DBackpropInput`: `cols [M, KK] = dy [M, CO] . W^T [CO, KK]`, then col2im;
 * - `MaxPoolGrad`: one pass in JS.
 *
 * `bench/teacher_bench.ts` measures the training step on wasm against the plain CPU backend.
 *
 * Shapes: `B` batch, `H W C` input image, `OH OW CO` output image, `KH KW` filter,
 * `M = B*OH*OW` output positions, `KK = KH*KW*C` filter taps.
 *
 * The maths is the plain CPU backend's; `tests/teacher_kernels_test.ts` checks it.
 *
 * @module
 */
import { tf } from "../deps.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** What the wasm backend exposes to kernels (a subset of `BackendWasm`). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
  dataIdMap: {
    get(dataId: unknown): { id: number; memoryOffset: number } | undefined;
    delete(dataId: unknown): void;
  };
  wasm: { tfjs: { disposeData(id: number): void } };
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: unknown): boolean;
}

const WASM = "wasm";
const REGISTERED = Symbol.for("softtree.teacherKernels");
/** Measured: XNNPACK packs a new right operand at about 3x a JS transpose's cost per element. */
const PACK_COST = 3;

/**
 * Registers the fast gradient kernels on the wasm backend (once per process; later calls do
 * nothing). Safe to call when the wasm backend is not in use: kernels are registered per
 * backend.
 *
 * @returns The names of the kernels registered (empty when already registered).
 * @example
 * ```ts
 * await ensureTf();
 * registerTeacherKernels(); // ["BatchMatMul", "Conv2DBackpropFilter", ...]
 * ```
 */
export function registerTeacherKernels(): string[] {
  const g = globalThis as Any;
  if (g[REGISTERED]) return [];
  const matMul = tf.getKernel("BatchMatMul", WASM);
  if (!matMul) return []; // the wasm backend is not loaded in this process
  g[REGISTERED] = true;
  const names: string[] = [];
  const replace = (config: tf.KernelConfig) => {
    if (tf.getKernel(config.kernelName, WASM)) tf.unregisterKernel(config.kernelName, WASM);
    tf.registerKernel(config);
    names.push(config.kernelName);
  };
  const mm = matMul.kernelFunc as (args: Any) => tf.TensorInfo;
  const backInput = tf.getKernel("Conv2DBackpropInput", WASM);
  const fastMatMul = (args: Any) => batchMatMul(args, mm);
  replace({
    kernelName: "BatchMatMul",
    backendName: WASM,
    setupFunc: matMul.setupFunc,
    kernelFunc: fastMatMul as Any,
  });
  replace({
    kernelName: "Conv2DBackpropFilter",
    backendName: WASM,
    kernelFunc: ((args: Any) => conv2dBackpropFilter(args, mm)) as Any,
  });
  replace({
    kernelName: "Conv2DBackpropInput",
    backendName: WASM,
    setupFunc: backInput?.setupFunc,
    kernelFunc: ((args: Any) => conv2dBackpropInput(args, mm)) as Any,
  });
  replace({
    kernelName: "MaxPoolGrad",
    backendName: WASM,
    kernelFunc: maxPoolGrad as Any,
  });
  return names;
}

/**
 * `out[c, r] = a[r, c]` for a row-major `[rows, cols]` matrix, in cache-friendly tiles.
 * @param a Source `[rows, cols]`.
 * @param out Destination `[cols, rows]`.
 */
export function transpose2d(
  a: Float32Array,
  out: Float32Array,
  rows: number,
  cols: number,
  aOffset = 0,
  outOffset = 0,
): void {
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const src = aOffset + r * cols;
        for (let c = c0; c < c1; c++) out[outOffset + c * rows + r] = a[src + c];
      }
    }
  }
}

/** A `[batch, rows, cols]` transposed copy `[batch, cols, rows]` of `x`, on the heap. */
function transposeLast2(backend: WasmBackend, x: tf.TensorInfo): tf.TensorInfo {
  const r = x.shape.length;
  const rows = x.shape[r - 2], cols = x.shape[r - 1];
  const batch = tf.util.sizeFromShape(x.shape.slice(0, -2));
  const shape = [...x.shape.slice(0, -2), cols, rows];
  const out = backend.makeOutput(shape, "float32");
  // Views are taken after the allocation: it may grow (and move) the heap.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  for (let b = 0; b < batch; b++) {
    transpose2d(src, dst, rows, cols, b * rows * cols, b * rows * cols);
  }
  return out;
}

/** `BatchMatMul` that never hands a transposed operand to the wasm matmul. */
function batchMatMul(
  args: { inputs: Any; attrs: Any; backend: WasmBackend },
  mm: (args: Any) => tf.TensorInfo,
): tf.TensorInfo {
  const { inputs, attrs, backend } = args;
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== "float32" || b.dtype !== "float32") return mm(args);
  const size = tf.util.sizeFromShape;
  const plain = (x: tf.TensorInfo, y: tf.TensorInfo) =>
    mm({ inputs: { a: x, b: y }, attrs: { transposeA: false, transposeB: false }, backend });
  // The logical product is A' [m, k] . B' [k, n]. XNNPACK repacks its right operand on every
  // call (the weights change every step), which costs about PACK_COST element copies per
  // element, so the plan is chosen by the elements it copies: either A' . B' (transposing
  // what was asked) or (B'^T . A'^T)^T (transposing the rest, and the product).
  const m = transposeA ? a.shape.at(-1)! : a.shape.at(-2)!;
  const k = transposeA ? a.shape.at(-2)! : a.shape.at(-1)!;
  const n = transposeB ? b.shape.at(-2)! : b.shape.at(-1)!;
  const batch = Math.max(size(a.shape.slice(0, -2)), size(b.shape.slice(0, -2)));
  const sa = size(a.shape), sb = size(b.shape);
  const direct = (transposeA ? sa : 0) + (transposeB ? sb : 0) + PACK_COST * k * n * batch;
  const swapped = (transposeA ? 0 : sa) + (transposeB ? 0 : sb) + PACK_COST * m * k * batch +
    m * n * batch;
  if (direct <= swapped) {
    const at = transposeA ? transposeLast2(backend, a) : a;
    const bt = transposeB ? transposeLast2(backend, b) : b;
    const out = plain(at, bt);
    if (at !== a) backend.disposeData(at.dataId);
    if (bt !== b) backend.disposeData(bt.dataId);
    return out;
  }
  const bs = transposeB ? b : transposeLast2(backend, b);
  const as = transposeA ? a : transposeLast2(backend, a);
  const prod = plain(bs, as); // [batch, n, m]
  if (bs !== b) backend.disposeData(bs.dataId);
  if (as !== a) backend.disposeData(as.dataId);
  const out = transposeLast2(backend, prod);
  backend.disposeData(prod.dataId);
  return out;
}

/** The convolution's geometry, from tfjs's own helper (so padding rules match exactly). */
function convInfo(xShape: number[], filterShape: number[], attrs: Any) {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs;
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat ?? "NHWC");
  if (format !== "channelsLast") {
    throw new TypeError(`The teacher's wasm kernels support NHWC data only, got "${dataFormat}"`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
}

/** A convolution's or pooling's sizes under the short names the loops below use. */
function dims(info: tf.backend_util.Conv2DInfo) {
  return {
    B: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    C: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    KH: info.filterHeight,
    KW: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

/**
 * im2col, transposed: `colsT[(kh, kw, c), (b, oh, ow)] = x[b, oh*sh + kh - top, ow*sw + kw - left, c]`
 * (zero where the filter hangs over the edge), written row by row.
 */
function im2colT(
  x: Float32Array,
  colsT: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { B, H, W, C, OH, OW, KH, KW, sh, sw, top, left } = dims(info);
  const M = B * OH * OW;
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      for (let c = 0; c < C; c++) {
        let o = ((kh * KW + kw) * C + c) * M;
        for (let b = 0; b < B; b++) {
          for (let oh = 0; oh < OH; oh++) {
            const ih = oh * sh + kh - top;
            if (ih < 0 || ih >= H) {
              colsT.fill(0, o, o + OW);
              o += OW;
              continue;
            }
            const base = (b * H + ih) * W * C + c;
            for (let ow = 0; ow < OW; ow++, o++) {
              const iw = ow * sw + kw - left;
              colsT[o] = iw >= 0 && iw < W ? x[base + iw * C] : 0;
            }
          }
        }
      }
    }
  }
}

/** Adds `cols [M, KK]` back into `dx [B, H, W, C]`: the adjoint of im2col. */
function col2im(
  cols: Float32Array,
  dx: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { B, H, W, C, OH, OW, KH, KW, sh, sw, top, left } = dims(info);
  const KK = KH * KW * C;
  dx.fill(0);
  let row = 0;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++, row += KK) {
        let o = row;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh + kh - top;
          const inRow = ih >= 0 && ih < H;
          for (let kw = 0; kw < KW; kw++, o += C) {
            const iw = ow * sw + kw - left;
            if (!inRow || iw < 0 || iw >= W) continue;
            const s = ((b * H + ih) * W + iw) * C;
            for (let c = 0; c < C; c++) dx[s + c] += cols[o + c];
          }
        }
      }
    }
  }
}

/**
 * `dW [KH, KW, C, CO]` from `x [B, H, W, C]` and `dy [B, OH, OW, CO]`.
 *
 * Stride 1: no im2col. With `x` laid out channel-major and zero-padded, `xT [C, B*Hp*Wp]`,
 * and `dy` zero-padded to the same grid, `dyP [B*Hp*Wp, CO]`, every filter tap is one plain
 * matmul: `dW[kh, kw] [C, CO] = xT shifted by (kh*Wp + kw) . dyP`. The shifted `xT` is a view
 * (no copy): where a shift wraps into the next row or image it meets the zero rows of `dyP`.
 * All taps share `dyP`, so XNNPACK packs it once. Other strides use im2col.
 */
function conv2dBackpropFilter(
  args: { inputs: Any; attrs: Any; backend: WasmBackend },
  mm: (args: Any) => tf.TensorInfo,
): tf.TensorInfo {
  const { inputs, attrs, backend } = args;
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const filterShape = attrs.filterShape as number[];
  const info = convInfo(x.shape, filterShape, attrs);
  if (info.strideHeight !== 1 || info.strideWidth !== 1) {
    return conv2dBackpropFilterIm2col(info, x, dy, filterShape, backend, mm);
  }
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outChannels: CO } = info;
  const { outHeight: OH, outWidth: OW, filterHeight: KH, filterWidth: KW } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const Hp = OH + KH - 1, Wp = OW + KW - 1; // the padded image the filter slides over
  const G = B * Hp * Wp; // grid positions
  const tail = (KH - 1) * Wp + (KW - 1); // the largest shift reads this far past the end
  const xT = backend.makeOutput([C * G + tail], "float32");
  const dyP = backend.makeOutput([G, CO], "float32");
  const out = backend.makeOutput(filterShape, "float32");
  {
    const xs = backend.typedArrayFromHeap(x), xt = backend.typedArrayFromHeap(xT);
    xt.fill(0);
    for (let b = 0; b < B; b++) {
      for (let ih = 0; ih < H; ih++) {
        const ph = ih + top;
        if (ph < 0 || ph >= Hp) continue;
        for (let iw = 0; iw < W; iw++) {
          const pw = iw + left;
          if (pw < 0 || pw >= Wp) continue;
          const src = ((b * H + ih) * W + iw) * C;
          const dst = (b * Hp + ph) * Wp + pw;
          for (let c = 0; c < C; c++) xt[c * G + dst] = xs[src + c];
        }
      }
    }
    const g = backend.typedArrayFromHeap(dy), gp = backend.typedArrayFromHeap(dyP);
    gp.fill(0);
    for (let b = 0; b < B; b++) {
      for (let oh = 0; oh < OH; oh++) {
        const src = (b * OH + oh) * OW * CO;
        gp.set(g.subarray(src, src + OW * CO), ((b * Hp + oh) * Wp) * CO);
      }
    }
  }
  const base = backend.dataIdMap.get(xT.dataId)!.memoryOffset;
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const view = backend.makeOutput([1, C, G], "float32", base + 4 * (kh * Wp + kw));
      const prod = mm({
        inputs: { a: view, b: { ...dyP, shape: [1, G, CO] } },
        attrs: { transposeA: false, transposeB: false },
        backend,
      });
      releaseView(backend, view);
      backend.typedArrayFromHeap(out).set(
        backend.typedArrayFromHeap(prod),
        (kh * KW + kw) * C * CO,
      );
      backend.disposeData(prod.dataId);
    }
  }
  backend.disposeData(xT.dataId);
  backend.disposeData(dyP.dataId);
  return out;
}

/** Forgets a tensor made over memory that another tensor owns, without freeing it. */
function releaseView(backend: WasmBackend, view: tf.TensorInfo): void {
  const data = backend.dataIdMap.get(view.dataId)!;
  backend.wasm.tfjs.disposeData(data.id);
  backend.dataIdMap.delete(view.dataId);
}

/** `dW` through im2col: `dW [KK, CO] = cols^T [KK, M] . dy [M, CO]`. */
function conv2dBackpropFilterIm2col(
  info: tf.backend_util.Conv2DInfo,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  filterShape: number[],
  backend: WasmBackend,
  mm: (args: Any) => tf.TensorInfo,
): tf.TensorInfo {
  const { outChannels: CO } = info;
  const M = info.batchSize * info.outHeight * info.outWidth;
  const KK = info.filterHeight * info.filterWidth * info.inChannels;
  const colsT = backend.makeOutput([KK, M], "float32");
  im2colT(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(colsT), info);
  // Untransposed, and the operand XNNPACK packs is dy, the smaller one.
  const out = mm({
    inputs: { a: { ...colsT, shape: [1, KK, M] }, b: { ...dy, shape: [1, M, CO] } },
    attrs: { transposeA: false, transposeB: false },
    backend,
  });
  backend.disposeData(colsT.dataId);
  return { dataId: out.dataId, shape: filterShape, dtype: "float32" };
}

/** `dx [B, H, W, C]` from `dy [B, OH, OW, CO]` and the filter `W [KH, KW, C, CO]`. */
function conv2dBackpropInput(
  args: { inputs: Any; attrs: Any; backend: WasmBackend },
  mm: (args: Any) => tf.TensorInfo,
): tf.TensorInfo {
  const { inputs, attrs, backend } = args;
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const inShape = attrs.inputShape as number[];
  const info = convInfo(inShape, filter.shape, attrs);
  const { outChannels: CO } = info;
  const M = info.batchSize * info.outHeight * info.outWidth;
  const KK = info.filterHeight * info.filterWidth * info.inChannels;
  const wT = backend.makeOutput([CO, KK], "float32");
  transpose2d(backend.typedArrayFromHeap(filter), backend.typedArrayFromHeap(wT), KK, CO);
  // cols [M, KK] = dy [M, CO] . W^T [CO, KK]
  const cols = mm({
    inputs: { a: { ...dy, shape: [1, M, CO] }, b: { ...wT, shape: [1, CO, KK] } },
    attrs: { transposeA: false, transposeB: false },
    backend,
  });
  backend.disposeData(wT.dataId);
  const out = backend.makeOutput(inShape, "float32");
  col2im(backend.typedArrayFromHeap(cols), backend.typedArrayFromHeap(out), info);
  backend.disposeData(cols.dataId);
  return out;
}

/** `dx [B, H, W, C]`: each `dy` goes to the first largest input of its pooling window. */
function maxPoolGrad(args: { inputs: Any; attrs: Any; backend: WasmBackend }): tf.TensorInfo {
  const { inputs, attrs, backend } = args;
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { B, H, W, C, OH, OW, KH, KW, sh, sw, top, left } = dims(info);
  const out = backend.makeOutput(input.shape, "float32");
  const x = backend.typedArrayFromHeap(input);
  const g = backend.typedArrayFromHeap(dy);
  const dx = backend.typedArrayFromHeap(out);
  dx.fill(0);
  let o = 0;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = Math.max(0, oh * sh - top), h1 = Math.min(H, oh * sh - top + KH);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = Math.max(0, ow * sw - left), w1 = Math.min(W, ow * sw - left + KW);
        for (let c = 0; c < C; c++, o++) {
          let best = -1, bestV = -Infinity;
          for (let ih = h0; ih < h1; ih++) {
            for (let iw = w0; iw < w1; iw++) {
              const i = ((b * H + ih) * W + iw) * C + c;
              if (x[i] > bestV || best < 0) {
                bestV = x[i];
                best = i;
              }
            }
          }
          if (best >= 0) dx[best] += g[o];
        }
      }
    }
  }
  return out;
}
