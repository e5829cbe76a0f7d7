/**
 * Which kernels the teacher runs on, chosen like the tree's backends: `native` (the C
 * library `ffi/stk_cpu.c`, built on demand into the per-user cache by `ffi/build.ts`),
 * `cuda` (`ffi/stk_cuda.cu`), or `wasm` (TensorFlow.js's wasm backend with softtree's
 * gradient kernels, `kernels.ts`: the fallback and the reference). `auto` takes native and
 * falls back to wasm, saying why; a named choice that cannot load is an error, never a
 * silent fallback. `SOFTTREE_TEACHER_KERNELS` names the choice when the caller does not.
 *
 * The kernels are registered process-wide (TensorFlow.js's kernel registry), so the last
 * {@link prepareTeacherKernels} decides for every teacher in the process.
 *
 * @module
 */
import { BackendUnavailableError } from "../errors.ts";
import { ensureTf } from "../backends/tf_setup.ts";
import { findNativeLibrary } from "../backends/find_library.ts";
import { type BuildEvent, LIBRARIES } from "../../ffi/build.ts";
import { loadStkLibrary, probeStk, type StkLibrary, unwrapStk } from "../../ffi/stk_bindings.ts";
import { registerTeacherKernels } from "./kernels.ts";
import { installNativeKernels, uninstallNativeKernels } from "./kernels_native.ts";

/** What can be asked for. */
export const TEACHER_KERNEL_CHOICES = ["auto", "native", "cuda", "wasm"] as const;

/** `"auto"`, `"native"`, `"cuda"` or `"wasm"`. */
export type TeacherKernelChoice = (typeof TEACHER_KERNEL_CHOICES)[number];

/** The kernels the teacher runs on. */
export interface TeacherKernels {
  /**
   * `"native"`, `"cuda"`, `"wasm"` (the wasm backend with softtree's gradient kernels), or
   * `"cpu"` (TensorFlow.js's plain JS backend, when wasm does not load).
   */
  name: "native" | "cuda" | "wasm" | "cpu";
  /**
   * One line for the user, e.g. `native kernels (gcc 12.2, x86-64-v4, avx512, 2 threads)`
   * or `wasm kernels (native kernels unavailable: no C compiler ...)`.
   */
  description: string;
}

/** Options of {@link prepareTeacherKernels}. */
export interface TeacherKernelOptions {
  /** Which kernels. @default `SOFTTREE_TEACHER_KERNELS`, else `"auto"` */
  kernels?: TeacherKernelChoice;
  /** CPU threads of the native kernels; 0 uses every core. @default `SOFTTREE_THREADS`, else 0 */
  threads?: number;
  /** Told when the native library is compiled (the CLI shows a progress line). */
  onBuild?: (event: BuildEvent) => void;
}

let current: TeacherKernels | null = null;
let pending: Promise<TeacherKernels> | null = null;

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** The choice named by `SOFTTREE_TEACHER_KERNELS`, checked. */
function choiceFromEnv(): TeacherKernelChoice | undefined {
  const value = env("SOFTTREE_TEACHER_KERNELS");
  if (value === undefined) return undefined;
  if (!(TEACHER_KERNEL_CHOICES as readonly string[]).includes(value)) {
    throw new RangeError(
      `Invalid SOFTTREE_TEACHER_KERNELS "${value}": expected one of ${
        TEACHER_KERNEL_CHOICES.join(", ")
      }`,
    );
  }
  return value as TeacherKernelChoice;
}

/**
 * The kernels chosen now, or `null` before the first {@link prepareTeacherKernels} (or
 * {@link ensureTeacherKernels}).
 */
export function currentTeacherKernels(): TeacherKernels | null {
  return current;
}

/**
 * The kernels chosen so far, or the default choice (`SOFTTREE_TEACHER_KERNELS`, else auto)
 * made now: what `trainTeacher` and `teacherLogits` call.
 * @returns The kernels in use.
 * @throws {BackendUnavailableError} When `SOFTTREE_TEACHER_KERNELS` names kernels that
 *   cannot load.
 */
export function ensureTeacherKernels(): Promise<TeacherKernels> {
  if (current) return Promise.resolve(current);
  pending ??= prepareTeacherKernels().finally(() => (pending = null));
  return pending;
}

/**
 * Chooses the teacher's kernels and registers them (process-wide). `auto` loads the native
 * kernels (building the library into the per-user cache on first use) and falls back to the
 * wasm kernels when they cannot load, saying why in the description.
 *
 * @param options The choice, threads, build progress.
 * @returns What the teacher runs on, with a one-line description.
 * @throws {BackendUnavailableError} When `native` or `cuda` is asked for and cannot load or
 *   run here (its `hint` says what to do).
 * @throws {RangeError} When `SOFTTREE_TEACHER_KERNELS` holds an unknown name.
 * @example
 * ```ts
 * const { description } = await prepareTeacherKernels({ kernels: "auto" });
 * console.error(`teacher: ${description}`);
 * ```
 */
export async function prepareTeacherKernels(
  options: TeacherKernelOptions = {},
): Promise<TeacherKernels> {
  const choice = options.kernels ?? choiceFromEnv() ?? "auto";
  if (!(TEACHER_KERNEL_CHOICES as readonly string[]).includes(choice)) {
    throw new RangeError(
      `Invalid teacher kernels "${choice}": expected one of ${TEACHER_KERNEL_CHOICES.join(", ")}`,
    );
  }
  const tfBackend = await ensureTf();
  if (tfBackend !== "wasm") {
    if (choice === "native" || choice === "cuda") {
      throw new BackendUnavailableError(
        `The ${choice} teacher kernels cannot load: they run inside TensorFlow.js's wasm ` +
          `backend, and this process uses the "${tfBackend}" backend`,
        "unset SOFTTREE_TF_BACKEND, or choose the wasm teacher kernels",
      );
    }
    current = { name: "cpu", description: "cpu backend (TensorFlow.js's plain JS kernels)" };
    return current;
  }
  registerTeacherKernels(); // the wasm path's own kernels: the fallback of the native ones
  if (choice === "wasm") {
    uninstallNativeKernels();
    current = {
      name: "wasm",
      description: "wasm kernels (TensorFlow.js wasm backend, softtree's gradient kernels)",
    };
    return current;
  }
  const kind = choice === "cuda" ? "cuda" : "native";
  let lib: StkLibrary, info: string;
  try {
    ({ lib, info } = await loadKernels(kind, options));
  } catch (error) {
    if (choice !== "auto" || !(error instanceof BackendUnavailableError)) throw error;
    uninstallNativeKernels();
    const why = error.message.replace(/^The native teacher kernels cannot (load|run here): /, "");
    current = { name: "wasm", description: `wasm kernels (native kernels unavailable: ${why})` };
    return current;
  }
  installNativeKernels(lib);
  current = { name: kind, description: `${kind} kernels (${info})` };
  return current;
}

/** Finds (building if needed), loads, probes and sets up the library of `kind`. */
async function loadKernels(
  kind: "native" | "cuda",
  options: TeacherKernelOptions,
): Promise<{ lib: StkLibrary; info: string }> {
  const name = kind === "native" ? "stk_cpu" : "stk_cuda";
  const spec = LIBRARIES[name];
  const what = `The ${kind} teacher kernels`;
  const path = await findNativeLibrary(name, {
    what,
    instead: "the native teacher kernels",
    known: env(spec.envVar),
    onBuild: options.onBuild,
  });
  let lib: StkLibrary;
  try {
    lib = loadStkLibrary(kind === "native" ? "cpu" : "cuda", path);
  } catch (cause) {
    throw new BackendUnavailableError(
      `${what} cannot load: ${(cause as Error).message}`,
      `rebuild with \`deno task build:ffi\`, or set ${spec.envVar} to a built library`,
      { cause },
    );
  }
  const threads = Math.max(0, Math.trunc(options.threads ?? Number(env("SOFTTREE_THREADS") ?? 0)));
  unwrapStk(
    lib,
    lib.symbols.stk_set_threads(Number.isFinite(threads) ? threads : 0),
    "stk_set_threads",
  );
  const probed = probeStk(lib);
  if (!probed.ok) {
    throw new BackendUnavailableError(
      `${what} cannot run here: ${probed.info}`,
      kind === "cuda"
        ? "use a machine with an NVIDIA GPU and driver, or choose the native teacher kernels"
        : "rebuild with `deno task build:ffi`",
    );
  }
  // "cpu (gcc 12.2, x86-64-v4, avx512, openmp), 2 threads" -> "gcc 12.2, x86-64-v4, avx512, 2 threads"
  const info = probed.info.replace(/^cpu \((.*)\), (\d+ threads?)$/, "$1, $2").replace(
    /, openmp/,
    "",
  );
  return { lib, info };
}
