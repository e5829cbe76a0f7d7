/**
 * Progress bars on stderr: redrawn in place on a terminal, one line per epoch otherwise
 * (logs and CI). `--json` output on stdout stays clean.
 *
 * @module
 */

const enc = new TextEncoder();

/** Seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** A fraction as a percentage with two decimals: `0.9922` -> `"99.22%"`. */
export function percent(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

/** A progress bar for work measured in units (samples) over epochs. */
export class ProgressBar {
  #label: string;
  #tty: boolean;
  #quiet: boolean;
  #start = performance.now();
  #lastDraw = 0;
  #width = 24;

  /**
   * @param label Shown at the start of the line, e.g. `"tree"` or `"teacher"`.
   * @param quiet Draw nothing at all.
   */
  constructor(label: string, quiet = false) {
    this.#label = label;
    this.#quiet = quiet;
    this.#tty = Deno.stderr.isTerminal();
  }

  /**
   * Redraw: `done` of `total` units in epoch `epoch` of `epochs`, with extra fields.
   * Throttled to 10 redraws per second; drawn only on a terminal.
   */
  update(
    epoch: number,
    epochs: number,
    done: number,
    total: number,
    fields: Record<string, string>,
  ): void {
    if (this.#quiet || !this.#tty) return;
    const now = performance.now();
    if (now - this.#lastDraw < 100 && done < total) return;
    this.#lastDraw = now;
    const frac = total ? done / total : 1;
    const overall = ((epoch - 1) + frac) / epochs;
    const elapsed = (now - this.#start) / 1000;
    const eta = overall > 0 ? elapsed * (1 - overall) / overall : NaN;
    const filled = Math.round(frac * this.#width);
    const bar = "#".repeat(filled) + ".".repeat(this.#width - filled);
    const extra = Object.entries(fields).map(([k, v]) => `${k} ${v}`).join("  ");
    const line = `${this.#label}${epochs > 1 ? ` epoch ${epoch}/${epochs}` : ""} [${bar}] ${
      (frac * 100).toFixed(0).padStart(3)
    }%  ${extra}  ETA ${formatDuration(eta)}`;
    Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${line}`));
  }

  /** End an epoch with a summary line that stays on screen (and in logs). */
  line(text: string): void {
    if (this.#quiet) return;
    Deno.stderr.writeSync(enc.encode(`${this.#tty ? "\r\x1b[2K" : ""}${this.#label} ${text}\n`));
  }
}

/** Print an informational line on stderr (backend chosen, files written). */
export function info(text: string, quiet = false): void {
  if (!quiet) Deno.stderr.writeSync(enc.encode(`${text}\n`));
}

/** What {@link buildProgress} is told (a native library's build; see `ffi/build.ts`). */
interface BuildNotice {
  library: string;
  phase: "start" | "done" | "failed";
  compiler: string;
  target: string;
  path: string;
  seconds?: number;
}

/**
 * One progress line while a native library builds, e.g.
 * `building the native library (sdt_cpu, x86-64-v4) with gcc 12.2 … 3.2 s`: completed in
 * place on a terminal, written as two lines otherwise. Failures are left to the backend note.
 */
export function buildProgress(quiet = false): (event: BuildNotice) => void {
  const tty = Deno.stderr.isTerminal();
  return (e) => {
    if (quiet) return;
    const what = `the native library (${e.library}, ${e.target}) with ${e.compiler}`;
    if (e.phase === "start") {
      const line = `building ${what} …`;
      Deno.stderr.writeSync(enc.encode(tty ? line : `${line}\n`));
    } else {
      const took = `${(e.seconds ?? 0).toFixed(1)} s`;
      const text = e.phase === "done" ? `${took}, cached in ${e.path}` : `failed after ${took}`;
      Deno.stderr.writeSync(enc.encode(tty ? ` ${text}\n` : `built ${what}: ${text}\n`));
    }
  };
}
