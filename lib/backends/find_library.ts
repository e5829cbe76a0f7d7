/**
 * The one way the library finds a native library, for the tree's backends and the teacher's
 * kernels alike: refuse a CUDA library where no NVIDIA driver can run it, then find it (or
 * build it into the per-user cache: `ffi/build.ts`), turning a build failure into a
 * {@link BackendUnavailableError} whose hint says what to do.
 *
 * @module
 */
import {
  BuildError,
  type BuildEvent,
  findLibrary,
  LIBRARIES,
  type LibraryName,
} from "../../ffi/build.ts";
import { BackendUnavailableError } from "../errors.ts";

/** How to get a C compiler, for messages. */
export const NO_COMPILER_HINT =
  "install a C compiler (apt-get install gcc), or point CC at one (CC=clang)";

/**
 * Whether an NVIDIA driver looks installed (Linux, or WSL's GPU device). Without one a CUDA
 * library cannot run, so none is built.
 */
export function hasNvidiaDriver(): boolean {
  for (const path of ["/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/dxg"]) {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      // look further
    }
  }
  return false;
}

/** Options of {@link findNativeLibrary}. */
export interface FindNativeOptions {
  /** What is being loaded, starting a message: `"The cuda backend"`, `"The native teacher kernels"`. */
  what: string;
  /** The choice that avoids the GPU, for hints: `"--backend native"`. */
  instead: string;
  /**
   * A library the caller already knows of (an environment variable or a local build), or
   * `null`: with one, a CUDA library is tried even without a visible driver.
   * @default null
   */
  known?: string | null;
  /** Told when the library is compiled (its first use on a machine). */
  onBuild?: (event: BuildEvent) => void;
  /** Build for this CPU level instead of this machine's. */
  march?: string;
  /** The cache folder of built libraries. @default `cacheDir()` of `ffi/build.ts` */
  cache?: string;
  /** Look in the cache only (not the local build or the environment). @default false */
  cacheOnly?: boolean;
}

/**
 * The path of native library `name`, found or built.
 *
 * @param name A library of `ffi/build.ts` (`"sdt_cpu"`, `"sdt_cuda"`, `"stk_cpu"`, `"stk_cuda"`).
 * @param options What it is (for messages), the CPU-only alternative, build options.
 * @returns The library file.
 * @throws {BackendUnavailableError} When a CUDA library has no driver to run on, or the
 *   library cannot be built (no compiler, a failed build, an unwritable cache).
 * @example
 * ```ts
 * const path = await findNativeLibrary("sdt_cpu", { what: "The native backend", instead: "--backend tfjs" });
 * ```
 */
export async function findNativeLibrary(
  name: LibraryName,
  options: FindNativeOptions,
): Promise<string> {
  const cuda = LIBRARIES[name].compiler === "nvcc";
  const { what, instead } = options;
  if (cuda && !hasNvidiaDriver() && !options.known) {
    throw new BackendUnavailableError(
      `${what} cannot run here: no NVIDIA driver`,
      `use a machine with an NVIDIA GPU and driver, or choose ${instead}`,
    );
  }
  try {
    return (await findLibrary(name, {
      onBuild: options.onBuild,
      march: options.march,
      cache: options.cache,
      cacheOnly: options.cacheOnly,
    })).path;
  } catch (cause) {
    if (!(cause instanceof BuildError)) throw cause;
    const hint = cause.kind === "no-compiler"
      ? cuda ? `install the CUDA toolkit (nvcc), or choose ${instead}` : NO_COMPILER_HINT
      : cause.kind === "cache"
      ? "set SOFTTREE_CACHE to a writable folder"
      : `fix the build, or set ${LIBRARIES[name].envVar} to a built library`;
    throw new BackendUnavailableError(`${what} cannot load: ${cause.message}`, hint, { cause });
  }
}
