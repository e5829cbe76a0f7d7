/**
 * The named experiments of `deno task accuracy` (bench/accuracy.ts): each is a `distill`
 * command line run for several seeds with `--compare`. The README's accuracy table lists
 * their results.
 *
 * @module
 */
import { recipeArgs } from "../cli/augment.ts";

/** One experiment. */
export interface Experiment {
  /** What it tries, in a line. */
  about: string;
  /** The `distill` options (without seed, output and reporting flags). */
  args: string[];
  /**
   * Another experiment whose hard-label twins are this one's too: the same images, settings and
   * seeds, only options that hard labels ignore (the temperature) differ. Its seeds must have
   * run; this experiment then trains only the distilled trees.
   */
  twinFrom?: string;
}

/** The depth-8 settings every experiment shares (those of `--recipe deep`). */
const DEPTH8 = recipeArgs("deep", ["depth", "batchSize", "invTemp", "penaltyStrength"]);

/** The five cross-fitted teachers of `d8-cross-fit` (trained there when missing). */
const FOLDS = Array.from(
  { length: 5 },
  (_, k) => `.cache/softtree/cross-fit/mnist-k5/fold-${k + 1}-of-5`,
);

/** The distortions of `--recipe deep`'s copies. */
const DISTORTED = recipeArgs("deep", [
  "augmentElastic",
  "augmentRotate",
  "augmentScale",
  "augmentShift",
  "augmentRecenter",
]);

/** Every experiment, by name. */
export const EXPERIMENTS: Record<string, Experiment> = {
  "d8-previous": {
    about: "softtree's earlier depth-8 recipe: T 2, 2 teacher-labelled moved copies, 4 restarts",
    args: [...DEPTH8, "--temperature", "2", "--augment", "2"],
  },
  "d8-t1": {
    about: "the depth-8 recipe on the teacher's labels (T 1) of the training split only, one start",
    args: [...DEPTH8, "--restarts", "1"],
  },
  "d8-t1-refit": {
    about: "d8-t1, then each leaf refitted to the targets of the images it wins (max-leaf)",
    args: [...DEPTH8, "--restarts", "1", "--refit-leaves"],
  },
  "d8-cross-fit": {
    about: "d8-t1 with out-of-fold soft labels: 5 teachers, each labels the fold it never saw",
    args: [...DEPTH8, "--restarts", "1", "--cross-fit", "5"],
  },
  "d8-cross-fit-t2": {
    about: "d8-cross-fit at temperature 2",
    args: [...DEPTH8, "--restarts", "1", "--cross-fit", "5", "--temperature", "2"],
  },
  "d8-ensemble": {
    about: "d8-t1 labelled by an ensemble: the shipped teacher and the 5 cross-fitted ones",
    args: [...DEPTH8, "--restarts", "1", "--teacher", ["assets/teacher", ...FOLDS].join(",")],
  },
  "deep": {
    about: "--recipe deep: 10 elastically distorted copies of each image (550,000), 20 epochs",
    args: ["--recipe", "deep"],
  },
  "deep-t2": {
    about: "--recipe deep at temperature 2 (the twins are deep's: hard labels ignore T)",
    args: ["--recipe", "deep", "--temperature", "2"],
    twinFrom: "deep",
  },
  "deep-refit": {
    about: "--recipe deep, then the leaves refitted",
    args: ["--recipe", "deep", "--refit-leaves"],
  },
  "d8-1m": {
    about: "a transfer set of 1,000,000 images: 19 distorted copies of each, 12 epochs",
    args: [...DEPTH8, "--restarts", "1", "--epochs", "12", "--augment", "19", ...DISTORTED],
  },
};
