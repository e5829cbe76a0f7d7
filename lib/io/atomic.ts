/**
 * Atomic file writes: write a temporary file beside the target, then rename it, so a
 * reader never sees a half-written file.
 *
 * @module
 */

/** `dir/name`, without doubling a trailing slash of `dir`. */
export function inDir(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

/**
 * Write `data` to `path` atomically, creating parent folders.
 *
 * @example
 * ```ts
 * await writeFileAtomic("runs/a/metrics.json", JSON.stringify({ ok: true }));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  const tmp = `${path}.${Deno.pid}-${Math.random().toString(36).slice(2)}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}
