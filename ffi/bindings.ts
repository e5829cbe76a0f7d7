/**
 * Deno bindings of the native tree library (`ffi/sdt.h`): one symbol table, one loader,
 * one `unwrap`. The CPU and CUDA builds export the same symbols.
 *
 * {@link loadLibrary} opens a library at a given path, or where it is found without
 * building: the path in `SOFTTREE_NATIVE_LIB` (CPU) or `SOFTTREE_CUDA_LIB` (CUDA), else
 * `ffi/build/` next to this file when it is on disk and up to date. `ffi/build.ts` finds
 * or builds a library in the per-user cache first (`findLibrary`); the backends use both.
 *
 * @module
 */
import { NativeError } from "./errors.ts";
import { checkoutLibrary, LIBRARIES, type LibraryName } from "./build.ts";

/** The `SDT_ABI_VERSION` these bindings were written for. */
export const ABI_VERSION = 4;

/** Status codes of `sdt.h`. */
export const Status = {
  OK: 0,
  ARGUMENT: 1,
  STATE: 2,
  MEMORY: 3,
  DEVICE: 4,
  UNAVAILABLE: 5,
} as const;

/** Loss kinds of `sdt.h`. */
export const LossCode = { expected: 0, mixture: 1 } as const;
/** `sdt_loss_kind` of a regression tree's losses (leaves hold values, squared error). */
export const RegressionLossCode = { expected: 2, mixture: 3 } as const;

/** Every symbol of `sdt.h`, with its C prototype. */
export const SYMBOLS = {
  // int32_t sdt_abi_version(void);
  sdt_abi_version: { parameters: [], result: "i32" },
  // const char* sdt_last_error(void);
  sdt_last_error: { parameters: [], result: "pointer" },
  // const char* sdt_build_info(void);
  sdt_build_info: { parameters: [], result: "pointer" },
  // int32_t sdt_probe(char* info, int32_t cap);
  sdt_probe: { parameters: ["buffer", "i32"], result: "i32" },
  // int32_t sdt_create(sdt_ctx** out, int32_t depth, int32_t features, int32_t classes,
  //   int32_t loss_kind, int32_t learn_beta, double inv_temp, double penalty_strength,
  //   double penalty_decay, double ema_window, double learning_rate, int32_t threads);
  sdt_create: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
      "i32",
    ],
    result: "i32",
  },
  // void sdt_destroy(sdt_ctx* ctx);
  sdt_destroy: { parameters: ["pointer"], result: "void" },
  // int32_t sdt_set_params(sdt_ctx* ctx, const float* w, const float* b, const float* phi,
  //   float beta);
  sdt_set_params: { parameters: ["pointer", "buffer", "buffer", "buffer", "f32"], result: "i32" },
  // int32_t sdt_get_params(float* w, float* b, float* phi, float* beta, const sdt_ctx* ctx);
  sdt_get_params: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "pointer"],
    result: "i32",
  },
  // int32_t sdt_set_penalty(sdt_ctx* ctx, const float* num, const float* den, int64_t steps);
  sdt_set_penalty: { parameters: ["pointer", "buffer", "buffer", "i64"], result: "i32" },
  // int32_t sdt_get_penalty(float* num, float* den, int64_t* steps, const sdt_ctx* ctx);
  sdt_get_penalty: { parameters: ["buffer", "buffer", "buffer", "pointer"], result: "i32" },
  // int32_t sdt_set_learning_rate(sdt_ctx* ctx, double learning_rate);
  sdt_set_learning_rate: { parameters: ["pointer", "f64"], result: "i32" },
  // int32_t sdt_set_beta(sdt_ctx* ctx, float beta);
  sdt_set_beta: { parameters: ["pointer", "f32"], result: "i32" },
  // int32_t sdt_get_adam(float* m, float* v, int64_t* t, const sdt_ctx* ctx);
  sdt_get_adam: { parameters: ["buffer", "buffer", "buffer", "pointer"], result: "i32" },
  // int32_t sdt_set_adam(sdt_ctx* ctx, const float* m, const float* v, int64_t t);
  sdt_set_adam: { parameters: ["pointer", "buffer", "buffer", "i64"], result: "i32" },
  // int32_t sdt_set_train_data(sdt_ctx* ctx, const float* x, const float* targets, int32_t n);
  sdt_set_train_data: { parameters: ["pointer", "buffer", "buffer", "i32"], result: "i32" },
  // int32_t sdt_train_samples(double* loss_sum, double* penalty_sum, int32_t* batches,
  //   sdt_ctx* ctx, const int32_t* order, int32_t n, int32_t batch_size);
  sdt_train_samples: {
    parameters: ["buffer", "buffer", "buffer", "pointer", "buffer", "i32", "i32"],
    result: "i32",
  },
  // int32_t sdt_train_step(double* loss, double* penalty, sdt_ctx* ctx, const float* x,
  //   const float* targets, int32_t batch);
  sdt_train_step: {
    parameters: ["buffer", "buffer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  // int32_t sdt_gradients(float* dw, float* db, float* dphi, double* dbeta, double* loss,
  //   double* penalty, sdt_ctx* ctx, const float* x, const float* targets, int32_t batch);
  sdt_gradients: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "i32",
    ],
    result: "i32",
  },
  // int32_t sdt_forward(float* inner, float* leaf, float* mixture, int32_t* pred_max_leaf,
  //   int32_t* pred_mixture, int32_t* max_leaf, sdt_ctx* ctx, const float* x, int32_t n);
  sdt_forward: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "i32",
    ],
    result: "i32",
  },
  // int32_t sdt_evaluate(double* accuracy_max_leaf, double* accuracy_mixture,
  //   int32_t* pred_max_leaf, int32_t* pred_mixture, sdt_ctx* ctx, const float* x,
  //   const int32_t* labels, int32_t n);
  sdt_evaluate: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The symbols of a loaded library. */
export type SdtSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Which build of the library. */
export type NativeVariant = "cpu" | "cuda";

/** A loaded library. */
export interface NativeLibrary {
  /** The build. */
  variant: NativeVariant;
  /** Where it was loaded from. */
  path: string;
  /** The symbols. */
  symbols: SdtSymbols;
  /** `sdt_build_info()`, e.g. `"cpu (gcc 12.2, avx2, openmp)"`. */
  buildInfo: string;
}

/** Why a library could not be loaded; `kind` tells a missing file from a broken one. */
export class NativeLoadError extends Error {
  override name = "NativeLoadError";
  /** `"missing"`: no library at the path; `"invalid"`: it would not load or has another ABI. */
  readonly kind: "missing" | "invalid";
  /** The path tried. */
  readonly path: string;
  /**
   * @param message What failed.
   * @param kind Missing or invalid.
   * @param path The path tried.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, kind: "missing" | "invalid", path: string, options?: ErrorOptions) {
    super(message, options);
    this.kind = kind;
    this.path = path;
  }
}

/** The library of each variant. */
export const LIBRARY_OF: Record<NativeVariant, LibraryName> = { cpu: "sdt_cpu", cuda: "sdt_cuda" };

const loaded = new Map<string, NativeLibrary>();

/**
 * Where the library of a variant is found without building: the environment variable, else
 * the checkout's `ffi/build/` when it is up to date, else `null`.
 */
export function libraryPath(variant: NativeVariant): string | null {
  const name = LIBRARY_OF[variant];
  let fromEnv: string | undefined;
  try {
    fromEnv = Deno.env.get(LIBRARIES[name].envVar) || undefined;
  } catch {
    fromEnv = undefined;
  }
  return fromEnv ?? checkoutLibrary(name);
}

/** Read a C string the library owns. */
export function cString(ptr: Deno.PointerValue): string {
  return ptr === null ? "" : Deno.UnsafePointerView.getCString(ptr);
}

/**
 * Load (once per path) and check the library of a variant.
 * @param variant `"cpu"` or `"cuda"`.
 * @param at Its path. @default {@link libraryPath}(variant)
 * @returns The loaded library.
 * @throws {NativeLoadError} When it is missing, will not load, or has another ABI version.
 * @example
 * ```ts
 * const lib = loadLibrary("cpu");
 * console.log(lib.buildInfo);
 * ```
 */
export function loadLibrary(variant: NativeVariant, at?: string): NativeLibrary {
  const path = at ?? libraryPath(variant);
  if (path === null) {
    throw new NativeLoadError(
      `No built ${variant} library (set ${
        LIBRARIES[LIBRARY_OF[variant]].envVar
      }, or let softtree build it)`,
      "missing",
      "",
    );
  }
  const cached = loaded.get(path);
  if (cached) return cached;
  try {
    Deno.statSync(path);
  } catch (cause) {
    throw new NativeLoadError(`No ${variant} library at "${path}"`, "missing", path, { cause });
  }
  let dylib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    dylib = Deno.dlopen(path, SYMBOLS);
  } catch (cause) {
    throw new NativeLoadError(
      `Cannot load the ${variant} library "${path}": ${(cause as Error).message}`,
      "invalid",
      path,
      { cause },
    );
  }
  const version = dylib.symbols.sdt_abi_version();
  if (version !== ABI_VERSION) {
    dylib.close();
    throw new NativeLoadError(
      `The ${variant} library "${path}" has ABI version ${version}, these bindings need ` +
        `${ABI_VERSION}: rebuild it`,
      "invalid",
      path,
    );
  }
  const lib: NativeLibrary = {
    variant,
    path,
    symbols: dylib.symbols,
    buildInfo: cString(dylib.symbols.sdt_build_info()),
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
export function unwrap(lib: NativeLibrary, status: number, what: string): void {
  if (status === Status.OK) return;
  const detail = cString(lib.symbols.sdt_last_error()) || "no detail";
  throw new NativeError(`${what} failed in the ${lib.variant} library: ${detail}`, status);
}

/**
 * Ask the library whether it can run here (CUDA: a device and a driver).
 * @returns `{ ok, info }`: a description of the device, or why it cannot run.
 */
export function probe(lib: NativeLibrary): { ok: boolean; info: string } {
  const buf = new Uint8Array(256);
  const status = lib.symbols.sdt_probe(buf, buf.length);
  if (status !== Status.OK) return { ok: false, info: cString(lib.symbols.sdt_last_error()) };
  const end = buf.indexOf(0);
  return { ok: true, info: new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end)) };
}
