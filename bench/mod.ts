/**
 * `deno task bench`: every benchmark of softtree in one run — the tree backends (native
 * and cuda against tfjs, with ratios and the seed's full 40-epoch recipe) and the teacher
 * (wasm against plain CPU). Never part of `deno task test`.
 *
 * @module
 */
import { runTreeBench } from "./tree_bench.ts";

await runTreeBench({ backend: "native", seconds: 2, full: true });
