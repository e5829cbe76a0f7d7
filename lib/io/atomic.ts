/**
 * Atomic, durable file writes: write a temporary file beside the target, flush it to the disk
 * (fsync), rename it over the target, then flush the folder so that the rename itself
 * survives a crash. A reader never sees a half-written file, and after a power cut the file
 * is either the old one or the new one.
 *
 * @module
 */

/** `dir/name`, without doubling a trailing slash of `dir`. */
export function inDir(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

/** How {@linkcode writeFileAtomic} writes. */
export interface AtomicWriteOptions {
  /**
   * Flush the file and its folder to the disk (fsync) before returning: the write survives
   * a crash of the machine, not only of the process.
   * @default true
   */
  durable?: boolean;
}

/** The temporary files of this module end with this, after the writer's pid. */
export const TEMP_SUFFIX = ".tmp";

/** The temporary name of a write to `path` by this process. */
function tempName(path: string): string {
  return `${path}.${Deno.pid}-${Math.random().toString(36).slice(2)}${TEMP_SUFFIX}`;
}

/**
 * The folder of `path` (`"."` for a bare name, `"/"` for a file at the root).
 *
 * @example
 * ```ts
 * folderOf("runs/a/tree.sdt"); // "runs/a"
 * ```
 */
export function folderOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
}

/** Flush a folder's entries (a rename in it) to the disk; filesystems that refuse are ignored. */
async function syncFolder(dir: string): Promise<void> {
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // Some filesystems cannot fsync a folder; the rename is still atomic there.
  } finally {
    handle?.close();
  }
}

/**
 * Write `data` to `path` atomically (and durably, unless `durable: false`), creating parent
 * folders.
 *
 * @param path The file to write.
 * @param data Bytes, or text written as UTF-8.
 * @param options Whether to fsync.
 * @example
 * ```ts
 * await writeFileAtomic("runs/a/metrics.json", JSON.stringify({ ok: true }));
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const durable = options.durable ?? true;
  const dir = folderOf(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = tempName(path);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
      if (durable) await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  if (durable) await syncFolder(dir);
}

/**
 * Remove the temporary files that a process with the given pid left in `dir` when it died
 * in the middle of a {@linkcode writeFileAtomic} (they end in `.<pid>-<random>.tmp`).
 *
 * @returns The names removed.
 */
export async function removeStaleTemps(dir: string, pid: number): Promise<string[]> {
  const removed: string[] = [];
  const pattern = new RegExp(`\\.${pid}-[a-z0-9]+\\${TEMP_SUFFIX}$`);
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && pattern.test(entry.name)) {
        await Deno.remove(inDir(dir, entry.name)).then(() => removed.push(entry.name), () => {});
      }
    }
  } catch {
    // No folder, nothing to clean.
  }
  return removed;
}
