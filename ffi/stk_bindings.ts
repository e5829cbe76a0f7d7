/**
 * Deno bindings of the teacher kernels (`ffi/stk.h`): one symbol table, one loader, one
 * `unwrap`. The CPU build (`libstk_cpu.so`) and the CUDA build (`libstk_cuda.so`) export the
 * same symbols. `ffi/build.ts` finds or builds a library (`findLibrary("stk_cpu")`); this
 * module opens it, checks its ABI version, and turns status codes into errors.
 *
 * Array parameters are `buffer`s: any typed array, including views of the wasm backend's
 * heap (`lib/teacher/kernels_native.ts` passes those), so the kernels read and write tensors
 * where they are.
 *
 * @module
 */
import { NativeError } from "./errors.ts";
import { cString, NativeLoadError, Status } from "./bindings.ts";

/** The `STK_ABI_VERSION` these bindings were written for. */
export const STK_ABI_VERSION = 1;

/** Activations of `stk.h`. */
export const Activation = { linear: 0, relu: 1 } as const;

/** Every symbol of `stk.h`, with its C prototype. */
export const STK_SYMBOLS = {
  // int32_t stk_abi_version(void);
  stk_abi_version: { parameters: [], result: "i32" },
  // const char* stk_last_error(void);
  stk_last_error: { parameters: [], result: "pointer" },
  // const char* stk_build_info(void);
  stk_build_info: { parameters: [], result: "pointer" },
  // int32_t stk_probe(char* info, int32_t cap);
  stk_probe: { parameters: ["buffer", "i32"], result: "i32" },
  // int32_t stk_set_threads(int32_t threads);
  stk_set_threads: { parameters: ["i32"], result: "i32" },
  // int32_t stk_threads(void);
  stk_threads: { parameters: [], result: "i32" },
  // int32_t stk_sgemm(float* c, int32_t trans_a, int32_t trans_b, int32_t m, int32_t n,
  //   int32_t k, float alpha, const float* a, int32_t lda, const float* b, int32_t ldb,
  //   float beta, int32_t ldc);
  stk_sgemm: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "i32",
    ],
    result: "i32",
  },
  // int32_t stk_sgemm_naive(...); the same parameters as stk_sgemm
  stk_sgemm_naive: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "i32",
    ],
    result: "i32",
  },
  // int32_t stk_sgemm_blas(...); the same parameters as stk_sgemm
  stk_sgemm_blas: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "i32",
    ],
    result: "i32",
  },
  // int32_t stk_matmul(float* c, const float* a, const float* b, const float* bias,
  //   int32_t batch, int32_t m, int32_t n, int32_t k, int64_t a_stride, int64_t b_stride,
  //   int32_t trans_a, int32_t trans_b, int32_t activation);
  stk_matmul: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "i32",
      "i32",
      "i64",
      "i64",
      "i32",
      "i32",
      "i32",
    ],
    result: "i32",
  },
  // int32_t stk_conv2d(float* y, const float* x, const float* filter, const float* bias,
  //   const stk_conv* g, int32_t activation);
  stk_conv2d: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  // int32_t stk_conv2d_backprop_input(float* dx, const float* dy, const float* filter,
  //   const stk_conv* g);
  stk_conv2d_backprop_input: {
    parameters: ["buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  // int32_t stk_conv2d_backprop_filter(float* dfilter, const float* x, const float* dy,
  //   const stk_conv* g);
  stk_conv2d_backprop_filter: {
    parameters: ["buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  // int32_t stk_max_pool(float* y, const float* x, const stk_conv* g);
  stk_max_pool: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  // int32_t stk_max_pool_grad(float* dx, const float* dy, const float* x, const stk_conv* g);
  stk_max_pool_grad: { parameters: ["buffer", "buffer", "buffer", "buffer"], result: "i32" },
  // int32_t stk_dropout_mask(float* mask, uint32_t state, int64_t n, double rate);
  stk_dropout_mask: { parameters: ["buffer", "u32", "i64", "f64"], result: "i32" },
  // int32_t stk_softmax_xent(float* loss, float* dlogits, const float* logits,
  //   const int32_t* labels, int32_t rows, int32_t classes);
  stk_softmax_xent: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32"],
    result: "i32",
  },
  // int32_t stk_relu_bias_grad(float* dz, float* dbias, const float* dy, const float* y,
  //   int64_t rows, int32_t cols);
  stk_relu_bias_grad: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i64", "i32"],
    result: "i32",
  },
  // int32_t stk_sum_rows(float* out, const float* x, int64_t rows, int32_t cols);
  stk_sum_rows: { parameters: ["buffer", "buffer", "i64", "i32"], result: "i32" },
  // int32_t stk_adam(float* w_out, float* m, float* v, const float* w, const float* g,
  //   int64_t n, double beta1, double beta2, double lr, double c1, double c2, double eps);
  stk_adam: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i64",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The symbols of a loaded teacher-kernel library. */
export type StkSymbols = Deno.DynamicLibrary<typeof STK_SYMBOLS>["symbols"];

/** Which build of the teacher kernels. */
export type StkVariant = "cpu" | "cuda";

/** A loaded teacher-kernel library. */
export interface StkLibrary {
  /** The build. */
  variant: StkVariant;
  /** Where it was loaded from. */
  path: string;
  /** The symbols. */
  symbols: StkSymbols;
  /** `stk_build_info()`, e.g. `"cpu (gcc 12.2, x86-64-v4, avx512, openmp)"`. */
  buildInfo: string;
}

const loaded = new Map<string, StkLibrary>();

/**
 * Load (once per path) and check a teacher-kernel library.
 * @param variant `"cpu"` or `"cuda"`, for messages.
 * @param path The library file.
 * @returns The loaded library.
 * @throws {NativeLoadError} When it is missing, will not load, or has another ABI version.
 * @example
 * ```ts
 * const { path } = await findLibrary("stk_cpu");
 * const lib = loadStkLibrary("cpu", path);
 * ```
 */
export function loadStkLibrary(variant: StkVariant, path: string): StkLibrary {
  const cached = loaded.get(path);
  if (cached) return cached;
  try {
    Deno.statSync(path);
  } catch (cause) {
    throw new NativeLoadError(`No teacher-kernel library at "${path}"`, "missing", path, {
      cause,
    });
  }
  let dylib: Deno.DynamicLibrary<typeof STK_SYMBOLS>;
  try {
    dylib = Deno.dlopen(path, STK_SYMBOLS);
  } catch (cause) {
    throw new NativeLoadError(
      `Cannot load the teacher-kernel library "${path}": ${(cause as Error).message}`,
      "invalid",
      path,
      { cause },
    );
  }
  const version = dylib.symbols.stk_abi_version();
  if (version !== STK_ABI_VERSION) {
    dylib.close();
    throw new NativeLoadError(
      `The teacher-kernel library "${path}" has ABI version ${version}, these bindings need ` +
        `${STK_ABI_VERSION}: rebuild it`,
      "invalid",
      path,
    );
  }
  const lib: StkLibrary = {
    variant,
    path,
    symbols: dylib.symbols,
    buildInfo: cString(dylib.symbols.stk_build_info()),
  };
  loaded.set(path, lib);
  return lib;
}

/**
 * Turn a status code into an exception carrying the library's last-error string.
 * @param lib The library that returned it.
 * @param status The returned status.
 * @param what The call, for the message.
 * @throws {NativeError} When `status` is not 0.
 */
export function unwrapStk(lib: StkLibrary, status: number, what: string): void {
  if (status === Status.OK) return;
  const detail = cString(lib.symbols.stk_last_error()) || "no detail";
  throw new NativeError(`${what} failed in the ${lib.variant} teacher kernels: ${detail}`, status);
}

/**
 * Ask the library whether it can run here (CUDA: a device and a driver).
 * @returns `{ ok, info }`: the build and threads (or device), or why it cannot run.
 */
export function probeStk(lib: StkLibrary): { ok: boolean; info: string } {
  const buf = new Uint8Array(512);
  const status = lib.symbols.stk_probe(buf, buf.length);
  if (status !== Status.OK) return { ok: false, info: cString(lib.symbols.stk_last_error()) };
  const end = buf.indexOf(0);
  return { ok: true, info: new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end)) };
}
