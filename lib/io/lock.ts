/**
 * One writer per run directory: a lock file (`training.lock`) that names the process
 * training into the directory. A second process gets an error naming the first; a lock left
 * by a process that no longer runs (killed, or a second Ctrl-C) is taken over, with a note.
 *
 * @module
 */
import { RunDirectoryError } from "../errors.ts";
import { inDir, removeStaleTemps } from "./atomic.ts";

/** The lock file's name inside a run directory. */
export const LOCK_FILE = "training.lock";

/** What a lock file says about the process that holds it. */
export interface LockHolder {
  /** Process id. */
  pid: number;
  /** The machine's host name ("" when it could not be read). */
  host: string;
  /** When the lock was taken, ISO 8601. */
  started: string;
  /** What the process is doing, e.g. `"train"`. */
  command: string;
  /** The process's start time in clock ticks after boot (Linux), telling a reused pid apart. */
  processStart: string | null;
}

/** A held lock; `release` it when done (it is also released when the process ends). */
export interface RunLock {
  /** The lock file. */
  readonly path: string;
  /**
   * A line to show the user when a stale lock was taken over, e.g.
   * `took over the lock of process 4242 (started ..., no longer running)`; else `null`.
   */
  readonly note: string | null;
  /** Remove the lock file if it is still this process's. */
  release(): Promise<void>;
}

function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "";
  }
}

/** Field 22 of `/proc/<pid>/stat` (start time), or `null` where there is no /proc. */
function processStart(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Whether the process a lock names still runs: `true`, `false`, or `null` when that cannot be
 * told (another machine).
 */
async function isAlive(holder: LockHolder): Promise<boolean | null> {
  if (holder.host && holder.host !== hostName()) return null;
  if (holder.pid === Deno.pid) return true;
  const hasProc = processStart(Deno.pid) !== null;
  if (hasProc) {
    const start = processStart(holder.pid);
    if (start === null) return false;
    return holder.processStart === null || holder.processStart === start;
  }
  try {
    const r = await new Deno.Command("kill", {
      args: ["-0", String(holder.pid)],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return null;
  }
}

/** Whether a file was modified in the last two seconds. */
async function isYoung(path: string): Promise<boolean> {
  const info = await Deno.stat(path).catch(() => null);
  return info?.mtime != null && Date.now() - info.mtime.getTime() < 2000;
}

/** Tries to take a lock; the last ones leave room to take over a stale lock and then take it. */
const ATTEMPTS = 10;
/** Tries that wait (100 ms each) for a young, still unreadable lock file to name its holder. */
const WAIT_ATTEMPTS = 8;

function parseHolder(text: string): LockHolder | null {
  try {
    const h = JSON.parse(text);
    if (!Number.isSafeInteger(h?.pid) || h.pid <= 0) return null;
    return {
      pid: h.pid,
      host: typeof h.host === "string" ? h.host : "",
      started: typeof h.started === "string" ? h.started : "?",
      command: typeof h.command === "string" ? h.command : "?",
      processStart: typeof h.processStart === "string" ? h.processStart : null,
    };
  } catch {
    return null;
  }
}

/**
 * Take the lock of a run directory (creating the directory).
 *
 * @param dir The run directory.
 * @param command What this process does there (shown to a second process).
 * @returns The lock; its `note` says whether a stale lock was taken over.
 * @throws {RunDirectoryError} When a live process holds the lock (the message names it).
 * @example
 * ```ts
 * const lock = await acquireRunLock("runs/d8", "train");
 * try {
 *   // ... train into runs/d8
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export async function acquireRunLock(dir: string, command: string): Promise<RunLock> {
  const kind = await Deno.stat(dir).then((i) => (i.isDirectory ? "dir" : "other"), () => null);
  if (kind === "other") {
    throw new RunDirectoryError(
      `The run directory "${dir}" is a file, not a folder`,
      "give --out a folder's name (a new one is made)",
    );
  }
  await Deno.mkdir(dir, { recursive: true });
  const path = inDir(dir, LOCK_FILE);
  const mine: LockHolder = {
    pid: Deno.pid,
    host: hostName(),
    started: new Date().toISOString(),
    command,
    processStart: processStart(Deno.pid),
  };
  const text = JSON.stringify(mine) + "\n";
  let note: string | null = null;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      const file = await Deno.open(path, { write: true, createNew: true });
      try {
        await file.write(new TextEncoder().encode(text));
      } finally {
        file.close();
      }
      return {
        path,
        note,
        release: async () => {
          const now = await Deno.readTextFile(path).catch(() => "");
          if (parseHolder(now)?.pid === Deno.pid) await Deno.remove(path).catch(() => {});
        },
      };
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    const seen = await Deno.readTextFile(path).catch(() => null);
    if (seen === null) continue; // released meanwhile: try again
    const holder = parseHolder(seen);
    if (holder === null && attempt < WAIT_ATTEMPTS && await isYoung(path)) {
      // Probably just created by another process that has not written its pid yet.
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    const alive = holder ? await isAlive(holder) : false;
    if (holder && alive !== false) {
      const where = holder.host && holder.host !== mine.host ? ` on ${holder.host}` : "";
      throw new RunDirectoryError(
        `The run directory "${dir}" is being trained into by process ${holder.pid}${where} ` +
          `(${holder.command}, since ${holder.started}; lock file "${path}")`,
        alive === null
          ? `wait for it to finish, or remove "${path}" if that process no longer runs`
          : `wait for process ${holder.pid} to finish (or stop it), or choose another --out`,
      );
    }
    // Stale: take it over, unless another process took it over since we read it.
    const again = await Deno.readTextFile(path).catch(() => null);
    if (again !== seen) continue;
    await Deno.remove(path).catch(() => {});
    if (holder) await removeStaleTemps(dir, holder.pid);
    note = holder
      ? `took over the lock of process ${holder.pid} (${holder.command}, since ${holder.started}), which no longer runs`
      : `replaced an unreadable lock file "${path}"`;
  }
  throw new RunDirectoryError(
    `Cannot take the lock "${path}": other processes keep taking it`,
    "make sure only one process trains into this directory",
  );
}
