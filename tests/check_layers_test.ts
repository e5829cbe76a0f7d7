/**
 * The layer check (`deno task check:layers`): it must catch an import that runs upward and two
 * files or folders that import each other, must not be fooled by comments, and must pass on
 * the repository itself, so that docs/architecture.md stays true.
 */
import assert from "node:assert/strict";
import { checkLayers, importsOf, layerOf, readCheckedFiles } from "../tools/check_layers.ts";

const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const check = (files: Record<string, string>) => checkLayers(new Map(Object.entries(files)));

Deno.test("importsOf() finds static, type, re-export, side-effect and dynamic imports with their lines", () => {
  const src = [
    'import { a } from "./a.ts";',
    "import type {",
    "  B,",
    '} from "../b/b.ts";',
    'export * from "./c.ts";',
    'import "./d.ts";',
    'const e = await import("./e.js", { with: { type: "text" } });',
    'import { tf } from "npm:@tensorflow/tfjs-core@4.22.0";',
  ].join("\n");
  assert.deepEqual(importsOf(src), [
    { specifier: "./a.ts", line: 1 },
    { specifier: "../b/b.ts", line: 4 },
    { specifier: "./c.ts", line: 5 },
    { specifier: "./d.ts", line: 6 },
    { specifier: "./e.js", line: 7 },
  ]);
});

Deno.test("importsOf() skips imports inside comments and keeps URLs in strings", () => {
  const src = [
    "/**",
    ' * import { x } from "../train/fit.ts";',
    " */",
    '// import "../cli/x.ts";',
    'const url = "https://example.com/a"; import { y } from "./y.ts";',
  ].join("\n");
  assert.deepEqual(importsOf(src), [{ specifier: "./y.ts", line: 5 }]);
});

Deno.test("layerOf() places the folders in the documented order", () => {
  const rank = (p: string) => layerOf(p)?.rank;
  assert.ok(rank("cli.ts")! > rank("cli/train.ts")!);
  assert.ok(rank("cli/train.ts")! > rank("lib/train/fit.ts")!);
  assert.ok(rank("lib/train/fit.ts")! > rank("lib/backends/native.ts")!);
  assert.ok(rank("lib/backends/native.ts")! > rank("ffi/bindings.ts")!);
  for (const bottom of ["lib/tree/types.ts", "lib/util/random.ts", "lib/errors.ts"]) {
    assert.equal(rank(bottom), 0, bottom);
  }
  assert.equal(layerOf("tests/x_test.ts"), undefined);
});

Deno.test("checkLayers() flags an import that runs upward, with its file and line", () => {
  const problems = check({
    "lib/tree/types.ts": '\nimport type { EpochRecord } from "../train/types.ts";',
    "lib/train/types.ts": "export interface EpochRecord {}",
  });
  assert.equal(problems.length, 1);
  assert.match(problems[0], /^lib\/tree\/types\.ts:2 imports lib\/train\/types\.ts: lib\/tree/);
});

Deno.test("checkLayers() flags the native layer importing the library and any entry point import", () => {
  const files = {
    "ffi/bindings.ts": 'import { NativeError } from "../lib/errors.ts";',
    "lib/errors.ts": "",
    "cli/x.ts": 'import "../cli.ts";',
    "cli.ts": "",
  };
  assert.deepEqual(check(files), [
    "cli/x.ts:1 imports cli.ts: nothing in the code imports an entry point",
    "ffi/bindings.ts:1 imports lib/errors.ts: the native layer stands alone and imports only ffi/",
  ]);
});

Deno.test("checkLayers() flags two files that import each other, even inside one folder", () => {
  const problems = check({
    "lib/data/labels.ts": 'import type { Dataset } from "./types.ts";',
    "lib/data/types.ts": 'import { label } from "./labels.ts";',
  });
  assert.deepEqual(problems, [
    "files import each other: lib/data/labels.ts, lib/data/types.ts",
  ]);
});

Deno.test("checkLayers() flags two feature folders that import each other through other files", () => {
  const problems = check({
    "lib/train/a.ts": 'import "../teacher/b.ts";',
    "lib/teacher/b.ts": "",
    "lib/teacher/c.ts": 'import "../train/d.ts";',
    "lib/train/d.ts": "",
  });
  assert.equal(problems.length, 1, problems.join("\n"));
  assert.match(
    problems[0],
    /^folders import each other: lib\/teacher -> lib\/train -> lib\/teacher/,
  );
  assert.match(problems[0], /lib\/teacher\/c\.ts:1 -> lib\/train\/d\.ts/);
});

Deno.test("checkLayers() accepts imports that run downward or sideways without a loop", () => {
  assert.deepEqual(
    check({
      "cli.ts": 'import "./cli/train.ts"; import "./lib/errors.ts";',
      "cli/train.ts": 'import "../lib/train/fit.ts";',
      "lib/train/fit.ts": 'import "../backends/mod.ts"; import "../data/types.ts";',
      "lib/data/types.ts": 'import "../tree/types.ts";',
      "lib/backends/mod.ts": 'import "../../ffi/bindings.ts"; import "../tree/types.ts";',
      "ffi/bindings.ts": 'import "./build.ts";',
      "ffi/build.ts": "",
      "lib/tree/types.ts": 'import "../util/random.ts";',
      "lib/util/random.ts": "",
      "lib/errors.ts": "",
    }),
    [],
  );
});

Deno.test("the repository's own imports follow the layer picture", async () => {
  const problems = checkLayers(await readCheckedFiles(root));
  assert.deepEqual(problems, [], problems.join("\n"));
});
