/**
 * `deno task bench`: every benchmark of softtree in one run — the tree backends (native, and
 * cuda where it loads, against tfjs, with ratios and the seed's full 40-epoch recipe) and the
 * teacher (training and inference on the native kernels against the wasm path, FLOP rates,
 * the machine's SGEMM rate). Never part of `deno task test`.
 *
 * @module
 */
import { runTreeBench } from "./tree_bench.ts";

console.log("== tree: training and evaluation samples/s, native against tfjs");
await runTreeBench({ backend: "native", seconds: 2, full: true });

console.log("\n== teacher: training samples/s and inference images/s, native kernels against wasm");
const teacher = await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", new URL("./teacher_bench.ts", import.meta.url).pathname],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!teacher.success) Deno.exit(teacher.code);
