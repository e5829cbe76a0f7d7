/**
 * Mutation testing: `deno task mutants [PATH...]` changes the code on purpose, one small
 * change (a mutant) at a time, runs the tests that could notice, and reports the changes no
 * test noticed (survivors). The mutants come from StrykerJS (`@stryker-mutator/core` from
 * npm, run by Node through `npx`), whose command runner calls `deno test` on the test files
 * chosen for each source file.
 *
 * Everything happens in a scratch copy of the working tree (its tracked and new files, with
 * `node_modules` linked): the working tree itself is never changed.
 *
 * Tests per source file: the `tests/*_test.ts` files named after its folder (`lib/io/x.ts`:
 * `tests/io_*`, `lib/train/x.ts`: `tests/train_*`, `cli/x.ts`: `tests/cli_*`, as the test
 * layout mirrors `lib/`) whose module graph reaches the file; a test that runs the command
 * line (`tests/_cli.ts`) reaches what `cli.ts` imports. `--tests GLOB` replaces the choice,
 * `--all-tests` takes every test file that reaches the file. A mutant that no chosen test
 * notices may still be caught by another file's tests: the score is a lower bound.
 *
 * ```sh
 * deno task mutants                        # lib/train/ lib/io/ lib/data/ cli/ (hours on 2 cores)
 * deno task mutants lib/io/ lib/train/fit.ts --concurrency 2
 * deno task mutants lib/io/atomic.ts --tests 'tests/io_atomic_test.ts' --strings
 * deno task mutants --plan                 # which tests each file gets, without running
 * ```
 *
 * Options: `--concurrency N` (test runs at once; default: half the cores), `--strings` (also
 * mutate string literals, mostly messages and help text; off by default), `--report FILE`
 * (write the summary and survivors there too), `--keep` (keep the scratch copy).
 *
 * Output: per file the mutants killed, timed out, survived and not covered, and the score
 * `(killed + timed out) / (killed + timed out + survived + not covered)`; then every
 * survivor as `file:line:column mutator: original -> replacement`.
 *
 * @module
 */

const STRYKER = "@stryker-mutator/core@9.6.1"; // 10.x needs Node 22
const DEFAULT_TARGETS = ["lib/train/", "lib/io/", "lib/data/", "cli/"];
const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

interface Options {
  targets: string[];
  tests?: string;
  allTests: boolean;
  concurrency: number;
  strings: boolean;
  report?: string;
  keep: boolean;
  plan: boolean;
}

function usage(message: string): never {
  console.error(`error: ${message}\nsee the header of tools/mutants.ts for usage`);
  Deno.exit(2);
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    targets: [],
    allTests: false,
    concurrency: Math.max(1, Math.floor(navigator.hardwareConcurrency / 2)),
    strings: false,
    keep: false,
    plan: false,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => args[++i] ?? usage(`${a} needs a value`);
    if (a === "--tests") o.tests = value();
    else if (a === "--all-tests") o.allTests = true;
    else if (a === "--concurrency") {
      o.concurrency = Number(value());
      if (!Number.isInteger(o.concurrency) || o.concurrency < 1) {
        usage(`--concurrency must be a whole number of at least 1, got "${args[i]}"`);
      }
    } else if (a === "--strings") o.strings = true;
    else if (a === "--report") o.report = value();
    else if (a === "--keep") o.keep = true;
    else if (a === "--plan") o.plan = true;
    else if (a.startsWith("-")) usage(`unknown option "${a}"`);
    else o.targets.push(a.replace(/^\.\//, ""));
  }
  if (!o.targets.length) o.targets = DEFAULT_TARGETS;
  return o;
}

async function run(cmd: string, args: string[], cwd = root): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr).slice(-2000)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** The working tree's files: tracked and new, not ignored, still present. */
async function repoFiles(): Promise<string[]> {
  const out = await run("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"]);
  const files = out.split("\0").filter(Boolean);
  return files.filter((f) => {
    try {
      return Deno.statSync(`${root}/${f}`).isFile;
    } catch {
      return false; // deleted, not yet committed
    }
  });
}

/** The repository's own modules that `file` imports, directly or not (itself included). */
const graphs = new Map<string, Promise<Set<string>>>();
function moduleGraph(file: string): Promise<Set<string>> {
  let g = graphs.get(file);
  if (!g) {
    g = (async () => {
      const info = JSON.parse(await run(Deno.execPath(), ["info", "--json", file]));
      const prefix = `file://${root}/`;
      const local = new Set<string>();
      for (const m of info.modules as { specifier: string }[]) {
        if (m.specifier.startsWith(prefix)) {
          local.add(decodeURIComponent(m.specifier.slice(prefix.length)));
        }
      }
      // Tests that run the command line as a subprocess reach what cli.ts imports.
      if (local.has("tests/_cli.ts")) { for (const m of await moduleGraph("cli.ts")) local.add(m); }
      return local;
    })();
    graphs.set(file, g);
  }
  return g;
}

/** The test-file prefix of a source file's folder: `lib/io/x.ts` -> `io_`, `cli/x.ts` -> `cli_`. */
function testPrefix(source: string): string {
  const parts = source.split("/");
  if (parts[0] === "lib" && parts.length > 2) return `${parts[1]}_`;
  if (parts[0] === "cli" || source === "cli.ts") return "cli_";
  return `${parts[0].replace(/\.ts$/, "")}_`;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*\*/g, "\0")
    .replace(/\*/g, "[^/]*").replace(/\0/g, ".*").replace(/\?/g, "[^/]");
  return new RegExp(`^${escaped}$`);
}

/** The test files to run for `source`. */
async function testsFor(source: string, testFiles: string[], o: Options): Promise<string[]> {
  if (o.tests) {
    const re = globToRegExp(o.tests.replace(/^\.\//, ""));
    return testFiles.filter((t) => re.test(t));
  }
  const prefix = `tests/${testPrefix(source)}`;
  const chosen: string[] = [];
  for (const t of testFiles) {
    if (!o.allTests && !t.startsWith(prefix)) continue;
    if ((await moduleGraph(t)).has(source)) chosen.push(t);
  }
  return chosen;
}

interface MutantReport {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}

interface FileResult {
  file: string;
  tests: string[];
  counts: Record<string, number>;
  score: number | null;
  survivors: string[];
  seconds: number;
}

/** `start..end` (1-based lines, 1-based columns as Stryker reports them) of `text`. */
function slice(text: string, loc: MutantReport["location"]): string {
  const lines = text.split("\n");
  const { start, end } = loc;
  if (start.line === end.line) return lines[start.line - 1].slice(start.column - 1, end.column - 1);
  return [
    lines[start.line - 1].slice(start.column - 1),
    ...lines.slice(start.line, end.line - 1),
    lines[end.line - 1].slice(0, end.column - 1),
  ].join("\n");
}

const oneLine = (s: string, max = 70) => {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/** Run Stryker on one source file in the scratch copy and read its JSON report. */
async function mutateFile(
  sandbox: string,
  source: string,
  tests: string[],
  o: Options,
): Promise<FileResult> {
  const t0 = performance.now();
  const name = source.replace(/[/.]/g, "_");
  const config = {
    $schema: "./node_modules/@stryker-mutator/core/schema/stryker-schema.json",
    testRunner: "command",
    commandRunner: {
      command: `"${Deno.execPath()}" test -A --no-check --fail-fast ${tests.join(" ")}`,
    },
    mutate: [source],
    inPlace: true,
    coverageAnalysis: "off",
    concurrency: o.concurrency,
    timeoutMS: 10000,
    reporters: ["json", "progress-append-only"],
    jsonReporter: { fileName: `.mutants/${name}.json` },
    mutator: { excludedMutations: o.strings ? [] : ["StringLiteral"] },
    tempDirName: ".mutants/stryker-tmp",
    cleanTempDir: true,
    logLevel: "warn",
  };
  await Deno.mkdir(`${sandbox}/.mutants`, { recursive: true });
  await Deno.writeTextFile(`${sandbox}/.mutants/${name}.config.json`, JSON.stringify(config));
  const child = new Deno.Command("npx", {
    args: ["-y", "-p", STRYKER, "stryker", "run", `.mutants/${name}.config.json`],
    cwd: sandbox,
    env: { NO_COLOR: "1", FORCE_COLOR: "0" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const echo = async (stream: ReadableStream<Uint8Array>, to: typeof console.error) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const l of lines) if (l.trim()) to(`  ${source}: ${l}`);
    }
  };
  const [status] = await Promise.all([
    child.status,
    echo(child.stdout, console.error),
    echo(child.stderr, console.error),
  ]);
  const seconds = (performance.now() - t0) / 1000;
  let report: { files: Record<string, { source: string; mutants: MutantReport[] }> };
  try {
    report = JSON.parse(await Deno.readTextFile(`${sandbox}/.mutants/${name}.json`));
  } catch {
    throw new Error(`Stryker ended with status ${status.code} and wrote no report for ${source}`);
  }
  const entry = report.files[source] ?? Object.values(report.files)[0];
  const counts: Record<string, number> = {};
  const survivors: string[] = [];
  for (const m of entry?.mutants ?? []) {
    counts[m.status] = (counts[m.status] ?? 0) + 1;
    if (m.status === "Survived" || m.status === "NoCoverage") {
      const { line, column } = m.location.start;
      const was = oneLine(slice(entry.source, m.location));
      survivors.push(
        `${source}:${line}:${column} ${m.mutatorName}: ${was} -> ${oneLine(m.replacement ?? "")}`,
      );
    }
  }
  const detected = (counts.Killed ?? 0) + (counts.Timeout ?? 0);
  const valid = detected + (counts.Survived ?? 0) + (counts.NoCoverage ?? 0);
  return {
    file: source,
    tests,
    counts,
    score: valid ? detected / valid : null,
    survivors,
    seconds,
  };
}

function summary(results: FileResult[], o: Options): string {
  const rows = results.map((r) => {
    const c = (k: string) => r.counts[k] ?? 0;
    return [
      r.file,
      r.score === null ? "-" : `${(100 * r.score).toFixed(1)}%`,
      String(c("Killed")),
      String(c("Timeout")),
      String(c("Survived")),
      String(c("NoCoverage")),
      String(c("CompileError") + c("RuntimeError")),
      `${Math.round(r.seconds)}s`,
    ];
  });
  const all = (k: string) => results.reduce((n, r) => n + (r.counts[k] ?? 0), 0);
  const detected = all("Killed") + all("Timeout");
  const valid = detected + all("Survived") + all("NoCoverage");
  rows.push([
    "all",
    valid ? `${(100 * detected / valid).toFixed(1)}%` : "-",
    ...["Killed", "Timeout", "Survived", "NoCoverage"].map((k) => String(all(k))),
    String(all("CompileError") + all("RuntimeError")),
    `${Math.round(results.reduce((s, r) => s + r.seconds, 0))}s`,
  ]);
  const head = ["file", "score", "killed", "timeout", "survived", "no cover", "errors", "time"];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i ? c.padStart(width[i]) : c.padEnd(width[i])));
  const lines = [
    `mutation score (${o.strings ? "string literals included" : "string literals not mutated"})`,
    fmt(head).join("  "),
    ...rows.map((r) => fmt(r).join("  ")),
    "",
    "tests per file:",
    ...results.map((r) => `  ${r.file}: ${r.tests.map((t) => t.slice(6)).join(" ") || "none"}`),
    "",
    `surviving mutants (${results.reduce((n, r) => n + r.survivors.length, 0)}):`,
    ...results.flatMap((r) => r.survivors.map((s) => `  ${s}`)),
  ];
  return lines.join("\n");
}

async function main(): Promise<void> {
  const o = parseArgs(Deno.args);
  const files = await repoFiles();
  const sources = files.filter((f) =>
    f.endsWith(".ts") && !f.endsWith(".d.ts") &&
    o.targets.some((t) => f === t || f.startsWith(t.endsWith("/") ? t : `${t}/`))
  ).sort();
  if (!sources.length) usage(`no TypeScript files under ${o.targets.join(", ")}`);
  const testFiles = files.filter((f) => /^tests\/[^/]+_test\.ts$/.test(f)).sort();
  const plan: [string, string[]][] = [];
  for (const s of sources) plan.push([s, await testsFor(s, testFiles, o)]);
  console.error(`mutants: ${sources.length} files; tests per file:`);
  for (const [s, t] of plan) {
    console.error(`  ${s}: ${t.map((x) => x.slice(6)).join(" ") || "none"}`);
  }
  if (o.plan) return;

  const sandbox = await Deno.makeTempDir({ prefix: "softtree-mutants-" });
  console.error(`mutants: scratch copy in ${sandbox}`);
  try {
    for (const f of files) {
      const slash = f.lastIndexOf("/");
      if (slash > 0) await Deno.mkdir(`${sandbox}/${f.slice(0, slash)}`, { recursive: true });
      await Deno.copyFile(`${root}/${f}`, `${sandbox}/${f}`);
    }
    await Deno.symlink(`${root}/node_modules`, `${sandbox}/node_modules`);
    const results: FileResult[] = [];
    for (const [source, tests] of plan) {
      if (!tests.length) {
        console.error(`mutants: ${source}: no test reaches it, skipped`);
        continue;
      }
      console.error(`mutants: ${source} with ${tests.length} test file(s)`);
      const r = await mutateFile(sandbox, source, tests, o);
      results.push(r);
      const score = r.score === null ? "no mutants" : `${(100 * r.score).toFixed(1)}%`;
      console.error(`mutants: ${source}: ${score}, ${r.survivors.length} surviving`);
    }
    const text = summary(results, o);
    console.log(text);
    if (o.report) await Deno.writeTextFile(o.report, text + "\n");
  } finally {
    if (o.keep) console.error(`mutants: kept ${sandbox}`);
    else await Deno.remove(sandbox, { recursive: true });
  }
}

if (import.meta.main) await main();
