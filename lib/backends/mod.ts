/**
 * Backend selection: `auto` tries cuda, then native, then tfjs; an explicit backend
 * that cannot load is an error (`BackendUnavailableError`), never a silent fallback.
 * The native libraries are built on demand (see `ffi/build.ts`): the first selection on a
 * machine compiles the C library into a per-user cache, later ones load it from there.
 *
 * @module
 */
import { BackendUnavailableError } from "../errors.ts";
import { ensureTf } from "./tf_setup.ts";
import { tfjsBackend } from "./tfjs.ts";
import { prepareNativeBackend } from "./native.ts";
import type { BackendChoice, TreeBackend } from "./types.ts";
import type { BuildEvent } from "../../ffi/build.ts";

export type { BackendChoice, BackendName, TreeBackend, TreeEngine } from "./types.ts";
export { BACKEND_CHOICES } from "./types.ts";
export { tfjsBackend } from "./tfjs.ts";
export {
  loadNativeBackend,
  type NativeBackendOptions,
  prepareNativeBackend,
  type PrepareNativeOptions,
} from "./native.ts";
export { ensureTf } from "./tf_setup.ts";
export type { BuildEvent } from "../../ffi/build.ts";

/** The backend chosen, and why the ones tried before it were passed over. */
export interface BackendSelection {
  /** The backend that loaded. */
  backend: TreeBackend;
  /** One line such as `backend: native (gcc, 2 threads); cuda unavailable: no GPU`. */
  note: string;
}

/** Options of {@link selectBackend}. */
export interface SelectOptions {
  /**
   * CPU threads of the native backend (the CUDA build ignores it); 0 uses every core. Falls
   * back to the `SOFTTREE_THREADS` environment variable.
   * @default 0
   */
  threads?: number;
  /** Told when a native library is compiled (first use on a machine). */
  onBuild?: (event: BuildEvent) => void;
}

/** How much faster the native backend trains than tfjs (measured by `deno task bench`). */
const NATIVE_GAIN = "50-200x";

/**
 * Load a backend by name, or the best one that loads for `"auto"`. A native library that
 * is missing is built first (once per machine and source version).
 *
 * @param choice `"auto"`, `"cuda"`, `"native"` or `"tfjs"`.
 * @param options Build progress, threads.
 * @returns The backend and a one-line note saying which, and why others were passed over.
 * @throws {BackendUnavailableError} when an explicitly named backend cannot load.
 * @example
 * ```ts
 * const { backend, note } = await selectBackend("auto");
 * ```
 */
export async function selectBackend(
  choice: BackendChoice = "auto",
  options: SelectOptions = {},
): Promise<BackendSelection> {
  if (choice === "tfjs") {
    await ensureTf();
    return { backend: tfjsBackend, note: `backend: ${tfjsBackend.description}` };
  }
  if (choice === "native" || choice === "cuda") {
    const backend = await prepareNativeBackend(choice, options);
    return { backend, note: `backend: ${backend.description}` };
  }
  const skipped: string[] = [];
  for (const kind of ["cuda", "native"] as const) {
    try {
      const backend = await prepareNativeBackend(kind, options);
      const why = skipped.length ? ` (${skipped.join("; ")})` : "";
      return { backend, note: `backend: ${backend.description}${why}` };
    } catch (error) {
      if (!(error instanceof BackendUnavailableError)) throw error;
      const why = error.message.replace(/^The \w+ backend cannot (load|run here): /, "");
      skipped.push(
        kind === "native"
          ? `native unavailable: ${why} — the native backend trains trees ${NATIVE_GAIN} ` +
            `faster; ${error.hint}`
          : `${kind} unavailable: ${why}`,
      );
    }
  }
  await ensureTf();
  return {
    backend: tfjsBackend,
    note: `backend: ${tfjsBackend.description} (${skipped.join("; ")})`,
  };
}
