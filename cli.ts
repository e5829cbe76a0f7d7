/**
 * The softtree command line: `train`, `eval`, `distill`, `teacher`, `draw`, and for a trained
 * tree `predict`, `explain`, `report`, `export`.
 *
 * Thin by design: it parses options, calls `lib/`, draws progress and prints results.
 * Usage errors exit with status 2, runtime errors with status 1.
 *
 * @module
 */
import { Command, CommanderError, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { printError, UsageError } from "./cli/common.ts";
import { ADVANCED_OPTIONS } from "./cli/options.ts";
import { exitStatusOf } from "./cli/interrupt.ts";
import { TrainingInterruptedError } from "./lib/errors.ts";
import { evalCommand, trainCommand } from "./cli/train.ts";
import { teacherCommand } from "./cli/teacher.ts";
import { drawCommand } from "./cli/draw.ts";
import { distillCommand } from "./cli/distill.ts";
import { predictCommand } from "./cli/predict.ts";
import { explainCommand } from "./cli/explain.ts";
import { exportCommand } from "./cli/export.ts";
import { reportCommand } from "./cli/report.ts";

/** Each command's docs page, where it is not its section of docs/cli.md. */
const DOCS: Record<string, string> = {
  distill: "docs/cli.md#distill, docs/results.md (what the options achieve)",
  predict: "docs/cli.md#predict, docs/using-a-tree.md#predict",
  explain: "docs/cli.md#explain, docs/using-a-tree.md#explain",
  report: "docs/cli.md#report, docs/using-a-tree.md#report",
  export: "docs/cli.md#export, docs/using-a-tree.md#export",
};

/**
 * Build the command tree (exported for in-process tests and the docs' option lists).
 *
 * @param options `allOptions`: show the options of `ADVANCED_OPTIONS` in `--help` too (as
 *   `--help-all` does).
 */
export function buildProgram(options: { allOptions?: boolean } = {}): Command {
  const program = new Command()
    .name("softtree")
    .description(
      "Distill a neural network into a soft binary decision tree (Frosst & Hinton 2017).",
    )
    .option("--verbose", "show the cause chain of errors")
    .showHelpAfterError(false);
  program.addCommand(trainCommand());
  program.addCommand(evalCommand());
  program.addCommand(distillCommand());
  program.addCommand(teacherCommand());
  program.addCommand(drawCommand());
  program.addCommand(predictCommand());
  program.addCommand(explainCommand());
  program.addCommand(exportCommand());
  program.addCommand(reportCommand());
  program.addHelpText("after", "\nDocs: docs/README.md; every command and option: docs/cli.md");
  for (const command of program.commands) {
    const name = command.name();
    hideAdvanced(command, Boolean(options.allOptions));
    command.addHelpText("after", `\nDocs: ${DOCS[name] ?? `docs/cli.md#${name}`}`);
    for (const sub of command.commands) {
      hideAdvanced(sub, Boolean(options.allOptions));
      sub.addHelpText("after", `\nDocs: docs/cli.md#${name}-${sub.name()}`);
    }
  }
  const override = (c: Command) => {
    c.exitOverride();
    for (const sub of c.commands) override(sub as Command);
  };
  override(program);
  return program;
}

/** Hides a command's advanced options from `--help` (unless `all`) and says how to see them. */
function hideAdvanced(command: CommandUnknownOpts, all: boolean): void {
  const advanced = (command.options as unknown as { long?: string; hidden: boolean }[])
    .filter((o) => o.long && ADVANCED_OPTIONS.has(o.long) && !o.hidden);
  if (all || advanced.length === 0) return;
  for (const o of advanced) o.hidden = true;
  command.addHelpText("after", `\n${advanced.length} more options: --help-all`);
}

/** Run the CLI on `args`; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  // `--help-all`: the help with every option, advanced ones included.
  const all = args.includes("--help-all");
  if (all) args = args.map((a) => a === "--help-all" ? "--help" : a);
  const program = buildProgram({ allOptions: all });
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === "commander.helpDisplayed" || error.code === "commander.help" ||
        error.code === "commander.version" || error.exitCode === 0
      ) return 0;
      // commander already printed the message.
      console.error("see --help for usage");
      return 2;
    }
    // An interrupted run has said where it stopped and how to continue it.
    if (error instanceof TrainingInterruptedError) return exitStatusOf(error.reason);
    printError(error, args.includes("--verbose"));
    return error instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
