/**
 * Backend selection: `auto` tries cuda, then native, then tfjs; an explicit backend
 * that cannot load is an error (`BackendUnavailableError`), never a silent fallback.
 *
 * @module
 */
import { BackendUnavailableError } from "../errors.ts";
import { ensureTf } from "./tf_setup.ts";
import { tfjsBackend } from "./tfjs.ts";
import { loadNativeBackend } from "./native.ts";
import type { BackendChoice, TreeBackend } from "./types.ts";

export type { BackendChoice, BackendName, TreeBackend, TreeEngine } from "./types.ts";
export { BACKEND_CHOICES } from "./types.ts";
export { tfjsBackend } from "./tfjs.ts";
export { loadNativeBackend, type NativeBackendOptions } from "./native.ts";
export { ensureTf } from "./tf_setup.ts";

/** The backend chosen, and why the ones tried before it were passed over. */
export interface BackendSelection {
  backend: TreeBackend;
  /** One line such as `backend: native (gcc, 2 threads); cuda unavailable: no GPU`. */
  note: string;
}

/**
 * Load a backend by name, or the best one that loads for `"auto"`.
 *
 * @throws {BackendUnavailableError} when an explicitly named backend cannot load.
 * @example
 * ```ts
 * const { backend, note } = await selectBackend("auto");
 * ```
 */
export async function selectBackend(choice: BackendChoice = "auto"): Promise<BackendSelection> {
  if (choice === "tfjs") {
    await ensureTf();
    return { backend: tfjsBackend, note: `backend: ${tfjsBackend.description}` };
  }
  if (choice === "native" || choice === "cuda") {
    const backend = loadNativeBackend(choice);
    return { backend, note: `backend: ${backend.description}` };
  }
  const skipped: string[] = [];
  for (const kind of ["cuda", "native"] as const) {
    try {
      const backend = loadNativeBackend(kind);
      const why = skipped.length ? ` (${skipped.join("; ")})` : "";
      return { backend, note: `backend: ${backend.description}${why}` };
    } catch (error) {
      if (!(error instanceof BackendUnavailableError)) throw error;
      skipped.push(`${kind} unavailable: ${error.message}`);
    }
  }
  await ensureTf();
  return {
    backend: tfjsBackend,
    note: `backend: ${tfjsBackend.description} (${skipped.join("; ")})`,
  };
}
