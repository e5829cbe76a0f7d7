/**
 * Ctrl-C (SIGINT) and SIGTERM for a long training: while it trains, the first one aborts the
 * run's `AbortSignal` (it stops at the next batch boundary and saves its state); outside
 * training, or the second time, the caller is told to quit at once, after this process's
 * temporary files are cleared from the run's folders. Writes are atomic, so quitting at once
 * never leaves a half-written file. Prints nothing and never exits: the caller does.
 *
 * @module
 */
import { inDir } from "../io/atomic.ts";

/** The signals a run stops on. */
export type StopSignalName = "SIGINT" | "SIGTERM";

/** Options of {@link StopOnSignals}. */
export interface StopOnSignalsOptions {
  /** Told when the first signal during training asks the run to stop and save. */
  onStopping?: (signal: StopSignalName) => void;
  /**
   * Told when the process should quit at once: a signal outside training (`again` false) or
   * a second one (`again` true). The listener is expected to exit.
   */
  onQuit: (signal: StopSignalName, again: boolean) => void;
}

/**
 * Listens for SIGINT and SIGTERM from construction until {@linkcode StopOnSignals.dispose}.
 *
 * @example
 * ```ts
 * const stops = new StopOnSignals({ onQuit: (sig) => Deno.exit(sig === "SIGINT" ? 130 : 143) });
 * stops.training = true;
 * await trainOrLoad(splits, { out, config, fit: { signal: stops.signal } });
 * stops.dispose();
 * ```
 */
export class StopOnSignals {
  readonly #controller = new AbortController();
  readonly #listeners: [Deno.Signal, () => void][] = [];
  readonly #options: StopOnSignalsOptions;
  #training = false;
  /** Folders to clear of this process's temporary files when it quits at once. */
  readonly folders: string[] = [];

  /**
   * Start listening for SIGINT and SIGTERM.
   * @param options What to do on a stop and on a quit.
   */
  constructor(options: StopOnSignalsOptions) {
    this.#options = options;
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      const listener = () => this.#on(sig);
      try {
        Deno.addSignalListener(sig, listener);
        this.#listeners.push([sig, listener]);
      } catch {
        // A platform without this signal (SIGTERM on Windows).
      }
    }
  }

  /** The stop request to pass to training. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether a training run that can save its state is in progress. */
  set training(value: boolean) {
    this.#training = value;
  }

  #on(sig: StopSignalName): void {
    const again = this.#controller.signal.aborted;
    if (!this.#training || again) {
      this.#clearTemps();
      this.#options.onQuit(sig, again);
      return;
    }
    this.#controller.abort(sig);
    this.#options.onStopping?.(sig);
  }

  /** Remove the temporary files of writes this process leaves unfinished by quitting. */
  #clearTemps(): void {
    const mine = new RegExp(`\\.${Deno.pid}-[a-z0-9]+\\.tmp$`);
    for (const dir of this.folders) {
      try {
        for (const entry of Deno.readDirSync(dir)) {
          if (entry.isFile && mine.test(entry.name)) Deno.removeSync(inDir(dir, entry.name));
        }
      } catch {
        // Nothing to clear there.
      }
    }
  }

  /** Remove the listeners (the process then reacts to signals as usual). */
  dispose(): void {
    for (const [sig, listener] of this.#listeners) Deno.removeSignalListener(sig, listener);
    this.#listeners.length = 0;
  }
}
