/**
 * The tree bench's command line: the defaults, every option, and a clear error that names the
 * option for an unknown one, a missing value or a bad value (never a full run by mistake).
 */
import assert from "node:assert/strict";
import { parseTreeBenchArgs } from "../bench/tree_bench.ts";

Deno.test("tree bench options: defaults, every option, --help", () => {
  assert.deepEqual(parseTreeBenchArgs([]), {
    backend: "native",
    seconds: 2,
    full: false,
    tfjs: true,
  });
  assert.deepEqual(
    parseTreeBenchArgs([
      "--backend",
      "cuda",
      "--seconds",
      "0.5",
      "--full",
      "--no-tfjs",
      "--only",
      "depth 8",
    ]),
    { backend: "cuda", seconds: 0.5, full: true, tfjs: false, only: "depth 8" },
  );
  assert.equal(parseTreeBenchArgs(["--no-tfjs", "--help"]), "help");
  assert.equal(parseTreeBenchArgs(["-h"]), "help");
});

Deno.test("tree bench options: unknown options and bad values name the option", () => {
  assert.throws(() => parseTreeBenchArgs(["--sec", "3"]), /unknown option "--sec"/);
  assert.throws(() => parseTreeBenchArgs(["--seconds", "x"]), /--seconds must be a positive/);
  assert.throws(() => parseTreeBenchArgs(["--seconds", "0"]), /--seconds must be a positive/);
  assert.throws(() => parseTreeBenchArgs(["--backend", "gpu"]), /--backend must be native or/);
  assert.throws(() => parseTreeBenchArgs(["--only"]), /--only needs a value/);
});
