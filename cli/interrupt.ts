/**
 * What keeps a long command-line run: Ctrl-C and SIGTERM turned into a stop request at the
 * next batch boundary (a second one quits at once), the message and pictures of an
 * interrupted run, and `--resume` taking the options recorded in the run.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import type { TrainingInterruptedError } from "../lib/errors.ts";
import { inDir } from "../lib/io/atomic.ts";
import { StopOnSignals } from "../lib/run/signals.ts";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { writeLearningCurves, writeTreePicture } from "../lib/render/mod.ts";
import { loadTreeState, STATE_FILE } from "../lib/train/state.ts";
import { UsageError } from "./common.ts";
import { info, percent } from "./progress.ts";

/** Exit status of a run stopped by a signal: 128 + the signal's number. */
export const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** The exit status for an interruption's reason (130 unless it was SIGTERM). */
export function exitStatusOf(reason: unknown): number {
  return SIGNAL_EXIT[String(reason)] ?? 130;
}

/**
 * SIGINT and SIGTERM while a command runs (`StopOnSignals` of `lib/run/`): during training
 * the first one aborts `signal` (the run stops at the next batch boundary and saves its
 * state) and says so; outside training, or the second time, the process exits at once with
 * 130 (SIGINT) or 143 (SIGTERM).
 */
export class StopSignals extends StopOnSignals {
  /** @param quiet Print nothing when the first signal arrives. */
  constructor(quiet: boolean) {
    super({
      onStopping: (sig) =>
        info(
          `\n${sig}: stopping at the next batch boundary to save the run (again to quit at once)`,
          quiet,
        ),
      onQuit: (sig, again) => {
        if (again) info(`\n${sig} again: quitting at once`);
        Deno.exit(SIGNAL_EXIT[sig]);
      },
    });
  }
}

/**
 * Tell the user where an interrupted run stopped and how to continue it, after drawing the
 * best tree so far and the learning curves into its directory (unless `pictures` is false):
 * `interrupted at epoch E (batch b of n): best so far val X% saved in RUN; continue with --resume`.
 */
export async function reportInterrupted(
  e: TrainingInterruptedError,
  o: { pictures?: boolean; quiet?: boolean },
  title: string,
): Promise<void> {
  const out = e.out;
  const quiet = Boolean(o.quiet);
  if (o.pictures !== false && out && e.bestValAccuracy !== null) {
    const ckpt = await loadTreeCheckpoint(out).catch(() => null);
    const state = await loadTreeState(out).catch(() => null);
    if (ckpt) {
      const r2 = ckpt.config.task === "regression";
      await writeTreePicture(inDir(out, "tree.png"), ckpt, {
        title: `${title}, best so far (interrupted): depth ${ckpt.config.depth}, val ${
          r2 ? `R² ${e.bestValAccuracy.toFixed(3)}` : `accuracy ${percent(e.bestValAccuracy)}`
        }`,
      });
      const history = state?.fit.history ?? [];
      if (history.length) {
        await writeLearningCurves(inDir(out, "curves.png"), history, {
          title,
          score: r2 ? "r2" : "accuracy",
        });
      }
      info(`drew ${inDir(out, "tree.png")}${history.length ? " and curves.png" : ""}`, quiet);
    }
  }
  const where = `interrupted at epoch ${e.at.epoch} (batch ${e.at.batch} of ${e.at.batches})`;
  const saved = out ? ` saved in ${out}` : "";
  console.error(
    e.bestValAccuracy === null
      ? `${where}: no epoch has finished yet; the run's state is${saved}; continue with --resume`
      : `${where}: best so far val ${percent(e.bestValAccuracy)}${saved}; continue with --resume`,
  );
}

/** Options that may differ on `--resume`: they change how a run is shown, not what it trains. */
const FREE_ON_RESUME = new Set([
  "out",
  "quiet",
  "json",
  "pictures",
  "backend",
  "resume",
  "verbose",
  "cacheDir",
  "teacherKernels",
  "kernels",
]);

/** Options of `FREE_ON_RESUME` that keep the run's value unless given again. */
const RECORDED_UNLESS_GIVEN = new Set(["backend", "cacheDir", "teacherKernels", "kernels"]);

/** The key under which a run records its command-line options (in its state's metadata). */
export const OPTIONS_KEY = "options";

/** The command-line options recorded in the state of the first of `dirs` holding one. */
export async function recordedTreeOptions(
  dirs: string[],
): Promise<Record<string, unknown> | null> {
  for (const dir of dirs) {
    const options = (await loadTreeState(dir))?.meta[OPTIONS_KEY];
    if (options && typeof options === "object") return options as Record<string, unknown>;
  }
  return null;
}

/**
 * The options of an interrupted run to continue with `--resume`: the `recorded` ones (from
 * its state file), with the options of `FREE_ON_RESUME` taken from this call.
 *
 * @param where The run directory, for messages.
 * @param stateFile The state file's name, for messages.
 * @throws {UsageError} when there is nothing to resume, when `--retrain` is given too, or when
 *   an option given on this command line differs from the recorded one (naming it).
 */
export function resumedOptions<T extends Record<string, unknown>>(
  cmd: Command<unknown[], Record<string, unknown>>,
  o: T,
  recorded: Record<string, unknown> | null,
  where: string,
  stateFile = STATE_FILE,
): T {
  if (o.retrain) throw new UsageError("--resume and --retrain cannot be used together");
  if (!recorded) {
    throw new UsageError(
      `--resume: "${where}" holds no interrupted run to continue (no ${stateFile}); run ` +
        `the command without --resume`,
    );
  }
  for (const [key, value] of Object.entries(o)) {
    if (FREE_ON_RESUME.has(key) || cmd.getOptionValueSource(key) !== "cli") continue;
    if (JSON.stringify(value) !== JSON.stringify(recorded[key])) {
      const flag = cmd.options.find((opt) => opt.attributeName() === key)?.long ?? key;
      throw new UsageError(
        `${flag} ${JSON.stringify(value)} conflicts with the interrupted run, which has ${
          JSON.stringify(recorded[key])
        }: --resume continues a run with the options it was started with`,
      );
    }
  }
  const merged: Record<string, unknown> = { ...recorded };
  for (const key of FREE_ON_RESUME) {
    // Where to read and what to print come from this call; the backend and the cache from it
    // only when given, else from the run.
    const given = cmd.getOptionValueSource(key) === "cli" || !(key in recorded);
    if (key in o && (given || !RECORDED_UNLESS_GIVEN.has(key))) merged[key] = o[key];
  }
  merged.resume = true;
  return merged as T;
}
