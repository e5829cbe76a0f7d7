/**
 * The options several commands share, declared once so that the same thing has the same name,
 * help and checks in every command. A command adds them with `.addOption(jsonOption())`.
 *
 * Renamed options keep their old name as a hidden alias (`--index` for `--item`, `--digit` and
 * `--label` for `--class`, `--kernels` for `--teacher-kernels`): {@linkcode aliased} reads
 * whichever was given.
 *
 * @module
 */
import { Option } from "@commander-js/extra-typings";
import { TEACHER_KERNEL_CHOICES } from "../lib/teacher/kernels_select.ts";
import { choiceArg, intArg, numArg, UsageError } from "./common.ts";

/** `--json`: one JSON summary on stdout (accuracies as fractions in [0, 1]). */
export const jsonOption = () => new Option("--json", "print one JSON summary on stdout");

/** `--quiet`: nothing on stderr but errors. */
export const quietOption = () => new Option("--quiet", "no progress or notes on stderr");

/** `--model PATH`: a trained tree's run directory or checkpoint file. */
export const modelOption = () =>
  new Option("--model <path>", "run directory or tree checkpoint file").makeOptionMandatory();

/** `--seed N`: the seed of everything random the command does. */
export const seedOption = (what: string) =>
  new Option("--seed <n>", what).argParser(intArg("--seed", 0)).default(0);

/** `--cache-dir DIR`: where teacher outputs are cached. */
export const cacheDirOption = () =>
  new Option("--cache-dir <dir>", "where teacher logits are cached").default(".cache/softtree");

/** `--teacher-kernels NAME`: which kernels the shipped ConvNet teacher runs on. */
export const teacherKernelsOption = () =>
  new Option(
    "--teacher-kernels <name>",
    "the ConvNet teacher's kernels: auto (native, else wasm), native, cuda or wasm (default: SOFTTREE_TEACHER_KERNELS, else auto)",
  ).argParser(choiceArg("--teacher-kernels", TEACHER_KERNEL_CHOICES));

/** `--kernels`: the old name of `--teacher-kernels`, kept as a hidden alias. */
export const kernelsAliasOption = () =>
  new Option("--kernels <name>", "the old name of --teacher-kernels")
    .argParser(choiceArg("--kernels", TEACHER_KERNEL_CHOICES)).hideHelp();

/** `--item N`: which sample (0-based) of a split or file. */
export const itemOption = (what: string) =>
  new Option("--item <n>", what).argParser(intArg("--item", 0));

/** `--index N`: the old name of `draw --item`, kept as a hidden alias. */
export const indexAliasOption = () =>
  new Option("--index <n>", "the old name of --item").argParser(intArg("--index", 0)).hideHelp();

/** `--class NAME`: a class of the tree, by name. */
export const classOption = (what: string) => new Option("--class <name>", what);

/** `draw --digit`: the old name of `--class`, kept as a hidden alias. */
export const digitAliasOption = () =>
  new Option("--digit <name>", "the old name of --class").hideHelp();

/** `explain --label`: the old name of `--class`, kept as a hidden alias. */
export const labelAliasOption = () =>
  new Option("--label <name>", "the old name of --class").hideHelp();

/** `--correlation`: on the path, input × filter instead of the filter. */
export const correlationOption = () =>
  new Option("--correlation", "on the path, show input × filter instead of the filter");

/** `--depth-limit N`: draw only the first N levels. */
export const depthLimitOption = () =>
  new Option("--depth-limit <n>", "draw only the first N levels of inner nodes")
    .argParser(intArg("--depth-limit", 1));

/** `--scale X`: PNG/GIF zoom. */
export const scaleOption = () =>
  new Option("--scale <x>", "PNG/GIF zoom factor (default 1)")
    .argParser(numArg("--scale", { min: 0, exclusiveMin: true, max: 16 }));

/** `--width PX`: PNG/GIF width. */
export const widthOption = () =>
  new Option("--width <px>", "PNG/GIF width in pixels").argParser(intArg("--width", 16, 20000));

/**
 * Options that plain `--help` leaves out so that it fits a screen; `--help-all` shows them, and
 * docs/cli.md lists every one.
 */
export const ADVANCED_OPTIONS: ReadonlySet<string> = new Set([
  "--image-size",
  "--channels",
  "--classes",
  "--penalty-decay",
  "--ema-window",
  "--learn-beta",
  "--beta-to",
  "--loss",
  "--schedule",
  "--restart-epochs",
  "--backend",
  "--no-pictures",
  "--animate",
  "--augment-rotate",
  "--augment-scale",
  "--augment-shift",
  "--augment-elastic",
  "--augment-recenter",
  "--refit-leaves",
  "--teacher-channels",
  "--teacher-layout",
  "--teacher-outputs",
  "--teacher-output",
  "--cross-fit",
  "--cross-fit-dir",
  "--hard-weight",
  "--cache-dir",
  "--teacher-kernels",
  "--teacher-epochs",
  "--depth-limit",
  "--scale",
  "--width",
]);

/**
 * The value of an option or of its old name, refusing both at once.
 *
 * @param value The value under the current name.
 * @param old The value under the old name.
 * @param names The two flags, for the message: `["--item", "--index"]`.
 * @returns Whichever was given, or `undefined`.
 * @throws {UsageError} When both were given.
 */
export function aliased<T>(value: T | undefined, old: T | undefined, names: [string, string]) {
  if (value !== undefined && old !== undefined) {
    throw new UsageError(`Give ${names[0]} or its old name ${names[1]}, not both`);
  }
  return value ?? old;
}
