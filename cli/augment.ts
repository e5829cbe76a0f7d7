/**
 * What `train` and `distill` share beyond the tree's options: augmented copies of the
 * training images (`--augment` and its shape), and named recipes (`--recipe`) that set
 * several options' defaults at once. The options themselves are declared with the tree's
 * (`withTreeOptions` in cli/train.ts).
 *
 * @module
 */
import type { OptionValues } from "@commander-js/extra-typings";
import { InvalidArgumentError } from "@commander-js/extra-typings";
import type { AugmentOptions } from "../lib/data/augment.ts";
import { augmentImages, concatDatasets } from "../lib/data/augment.ts";
import type { Splits } from "../lib/data/types.ts";

/** The parsed augmentation options (see `withTreeOptions` in cli/train.ts). */
export interface AugmentCliOptions {
  augment: number;
  augmentRotate: number;
  augmentScale: number;
  augmentShift: number;
  augmentElastic: number;
  augmentRecenter?: boolean;
}

/** The library's augmentation options from the command line's. */
export function augmentOptionsFrom(o: AugmentCliOptions, seed: number): AugmentOptions {
  return {
    copies: o.augment,
    maxRotate: o.augmentRotate,
    maxScale: o.augmentScale,
    maxShift: o.augmentShift,
    elastic: o.augmentElastic,
    recenter: Boolean(o.augmentRecenter),
    seed,
  };
}

/** `splits` with `o.augment` augmented copies of each training image added (labels kept). */
export function withAugmentedTraining<S extends Splits>(
  splits: S,
  o: AugmentCliOptions,
  seed: number,
  onProgress?: (done: number, total: number) => void,
): S {
  if (!(o.augment > 0)) return splits;
  const copies = augmentImages(splits.train, { ...augmentOptionsFrom(o, seed), onProgress });
  return { ...splits, train: concatDatasets(splits.train, copies) };
}

/** A named set of option defaults. */
export interface Recipe {
  /** What it is, for `--help` and the README. */
  about: string;
  /** Option values by their attribute name (`batchSize`), as the parsers would give them. */
  options: Record<string, unknown>;
}

/**
 * The recipes of `--recipe`. `deep` is softtree's best depth-8 recipe (README, "Results"):
 * the depth-8 tree on the training images and 10 elastically distorted, rotated and scaled
 * copies of each, centred by mass like MNIST's digits (550,000 images; with `distill` the
 * teacher labels them), 20 epochs, one start.
 */
export const RECIPES: Record<string, Recipe> = {
  deep: {
    about: "depth 8 on the training images and 10 distorted copies of each, 20 epochs",
    options: {
      depth: 8,
      batchSize: 64,
      invTemp: 0.1,
      penaltyStrength: 30,
      epochs: 20,
      restarts: 1,
      augment: 10,
      augmentElastic: 16,
      augmentRotate: 10,
      augmentScale: 0.1,
      augmentShift: 0,
      augmentRecenter: true,
    },
  },
};

/**
 * Some options of a recipe as command-line arguments, in the order of `keys`: `batchSize: 64`
 * gives `--batch-size 64`, `true` the flag alone (for scripts that run the commands, such as
 * the accuracy experiments).
 *
 * @example
 * ```ts
 * recipeArgs("deep", ["depth", "batchSize"]); // ["--depth", "8", "--batch-size", "64"]
 * ```
 */
export function recipeArgs(name: string, keys: string[]): string[] {
  const options = RECIPES[name].options;
  return keys.flatMap((key) => {
    if (!(key in options)) throw new RangeError(`The recipe "${name}" sets no option "${key}"`);
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    const value = options[key];
    return value === true ? [flag] : [flag, String(value)];
  });
}

/** The help of `--recipe`. */
export const RECIPE_HELP = `set the defaults of several options at once: ${
  Object.entries(RECIPES).map(([k, r]) => `"${k}" (${r.about})`).join("; ")
}; options given explicitly still win`;

/** `--recipe`: one of {@link RECIPES}. */
export function recipeArg(value: string): string {
  if (value in RECIPES) return value;
  throw new InvalidArgumentError(
    `--recipe must be one of ${
      Object.keys(RECIPES).map((r) => `"${r}"`).join(", ")
    }, got "${value}".`,
  );
}

/**
 * The options with the recipe's values in place of every option left at its default (an
 * option given on the command line keeps its value). Without `--recipe`, `o` itself.
 */
export function applyRecipe<T extends OptionValues>(
  cmd: { getOptionValueSource(key: string): string | undefined },
  o: T,
): T {
  const name = o.recipe as string | undefined;
  if (!name) return o;
  const out: Record<string, unknown> = { ...o };
  for (const [key, value] of Object.entries(RECIPES[name].options)) {
    if (cmd.getOptionValueSource(key) !== "cli") out[key] = value;
  }
  return out as T;
}
