/**
 * Mutation testing: `deno task mutants [PATH...]` changes the code on purpose, one small
 * change (a mutant) at a time, runs the tests that could notice, and reports the changes no
 * test noticed (survivors). The mutants come from StrykerJS (`@stryker-mutator/core` from
 * npm, run by Node through `npx`), whose command runner calls `deno test` on the test files
 * chosen for each source file.
 *
 * Everything happens in a scratch copy of the working tree (its tracked and new files, with
 * `node_modules` linked), or of a commit with `--rev REV`: the working tree itself is never
 * changed.
 *
 * Tests per source file: its own test files, those named after its folder (`lib/io/x.ts`:
 * `tests/io_*`, `lib/train/x.ts`: `tests/train_*`, `cli/x.ts`: `tests/cli_*`, as the test
 * layout mirrors `lib/`), importing it directly, or for a private helper (`_name.ts`)
 * importing a module that imports it, if their module graph reaches it (a test
 * that runs the command line through `tests/_cli.ts` reaches what `cli.ts` imports). Each
 * such test file runs once, unmutated, with coverage (subprocesses included); a source file
 * then gets those under which one of its functions ran, fastest first, and
 * `deno test --fail-fast` stops at the first failure. `--tests GLOB` replaces the choice for
 * every file. A mutant that none of them notices may still be caught by other tests: the
 * score is a lower bound.
 *
 * ```sh
 * deno task mutants                        # lib/train/ lib/run/ lib/io/ lib/data/ cli/ (hours on 2 cores)
 * deno task mutants lib/io/ lib/train/fit.ts --concurrency 2
 * deno task mutants lib/io/atomic.ts --tests 'tests/io_atomic_test.ts' --strings
 * deno task mutants --plan                 # which tests each file gets (the coverage run only)
 * ```
 *
 * Options: `--concurrency N` (test runs at once; default: half the cores), `--strings` (also
 * mutate string literals, mostly messages and help text; off by default), `--report FILE`
 * (write the summary and survivors there too), `--rev REV` (copy that commit instead of the
 * working tree), `--keep` (keep the scratch copy).
 *
 * Output: per file the mutants killed, timed out, survived and not covered, and the score
 * `(killed + timed out) / (killed + timed out + survived + not covered)`; then every
 * survivor as `file:line:column mutator: original -> replacement`.
 *
 * @module
 */

const STRYKER = "@stryker-mutator/core@9.6.1"; // 10.x needs Node 22
const DEFAULT_TARGETS = ["lib/train/", "lib/run/", "lib/io/", "lib/data/", "cli/"];
const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

interface Options {
  targets: string[];
  tests?: string;
  concurrency: number;
  strings: boolean;
  report?: string;
  keep: boolean;
  plan: boolean;
  /** Copy this commit instead of the working tree. */
  rev?: string;
}

function usage(message: string): never {
  console.error(`error: ${message}\nsee the header of tools/mutants.ts for usage`);
  Deno.exit(2);
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    targets: [],
    concurrency: Math.max(1, Math.floor(navigator.hardwareConcurrency / 2)),
    strings: false,
    keep: false,
    plan: false,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => args[++i] ?? usage(`${a} needs a value`);
    if (a === "--tests") o.tests = value();
    else if (a === "--concurrency") {
      o.concurrency = Number(value());
      if (!Number.isInteger(o.concurrency) || o.concurrency < 1) {
        usage(`--concurrency must be a whole number of at least 1, got "${args[i]}"`);
      }
    } else if (a === "--strings") o.strings = true;
    else if (a === "--report") o.report = value();
    else if (a === "--keep") o.keep = true;
    else if (a === "--rev") o.rev = value();
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

/**
 * Fill `sandbox` with the working tree's files (or those of commit `rev`) and a link to
 * `node_modules`; returns the files' paths.
 */
async function fillSandbox(sandbox: string, rev?: string): Promise<string[]> {
  let files: string[];
  if (rev) {
    files = (await run("git", ["ls-tree", "-r", "-z", "--name-only", rev])).split("\0")
      .filter(Boolean);
    const tar = `${sandbox}.tar`;
    await run("git", ["archive", "--format=tar", "-o", tar, rev]);
    await run("tar", ["-xf", tar, "-C", sandbox]);
    await Deno.remove(tar);
  } else {
    files = await repoFiles();
    for (const f of files) {
      const slash = f.lastIndexOf("/");
      if (slash > 0) await Deno.mkdir(`${sandbox}/${f.slice(0, slash)}`, { recursive: true });
      await Deno.copyFile(`${root}/${f}`, `${sandbox}/${f}`);
    }
  }
  await Deno.symlink(`${root}/node_modules`, `${sandbox}/node_modules`);
  return files;
}

/** The repository's own modules that a file imports: directly, and directly or not. */
interface Graph {
  direct: Set<string>;
  all: Set<string>;
}

const graphs = new Map<string, Promise<Graph>>();
function moduleGraph(sandbox: string, file: string): Promise<Graph> {
  let g = graphs.get(file);
  if (!g) {
    g = (async () => {
      const info = JSON.parse(await run(Deno.execPath(), ["info", "--json", file], sandbox));
      const prefix = `file://${sandbox}/`;
      const local = (specifier?: string) =>
        specifier?.startsWith(prefix) ? decodeURIComponent(specifier.slice(prefix.length)) : null;
      type Module = { specifier: string; dependencies?: { code?: { specifier?: string } }[] };
      const modules = info.modules as Module[];
      const all = new Set(modules.map((m) => local(m.specifier)).filter((m) => m !== null));
      const self = modules.find((m) => local(m.specifier) === file);
      const direct = new Set(
        (self?.dependencies ?? []).map((d) => local(d.code?.specifier)).filter((m) => m !== null),
      );
      // Tests that run the command line as a subprocess reach what cli.ts imports.
      if (all.has("tests/_cli.ts")) {
        for (const m of (await moduleGraph(sandbox, "cli.ts")).all) all.add(m);
      }
      return { direct, all };
    })();
    graphs.set(file, g);
  }
  return g;
}

/** The test-file prefix of a source's folder: `lib/io/x.ts` -> `io_`, `cli/x.ts` -> `cli_`. */
function testPrefix(source: string): string {
  const parts = source.split("/");
  if (parts[0] === "lib" && parts.length > 2) return `${parts[1]}_`;
  if (parts[0] === "cli" || source === "cli.ts") return "cli_";
  return `${parts[0].replace(/\.ts$/, "")}_`;
}

/**
 * Whether test file `t` is one of `source`'s own: named after its folder, importing it, or,
 * for a private helper (`_name.ts`), importing a module that imports it.
 */
async function owns(sandbox: string, t: string, source: string): Promise<boolean> {
  const g = await moduleGraph(sandbox, t);
  if (!g.all.has(source)) return false;
  if (t.startsWith(`tests/${testPrefix(source)}`) || g.direct.has(source)) return true;
  if (!source.split("/").pop()!.startsWith("_")) return false;
  for (const m of g.direct) {
    if ((await moduleGraph(sandbox, m)).direct.has(source)) return true;
  }
  return false;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*\*/g, "\0")
    .replace(/\*/g, "[^/]*").replace(/\0/g, ".*").replace(/\?/g, "[^/]");
  return new RegExp(`^${escaped}$`);
}

/** What one test file ran: per source file, whether a function of it ran; and its time. */
interface Coverage {
  test: string;
  seconds: number;
  passed: boolean;
  /** Source files (relative) with at least one function that ran, or any line for files without functions. */
  ran: Set<string>;
}

/** Run `test` once in the scratch copy with coverage, and read which sources it ran. */
async function coverageOf(sandbox: string, test: string, index: number): Promise<Coverage> {
  const dir = `${sandbox}/.mutants/coverage/${index}`;
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-check", `--coverage=${dir}`, test],
    cwd: sandbox,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  const lcov = await run(Deno.execPath(), ["coverage", dir, "--lcov"], sandbox).catch(() => "");
  const ran = new Set<string>();
  let file = "", functions = 0, functionsHit = 0, linesHit = 0;
  for (const line of lcov.split("\n")) {
    if (line.startsWith("SF:")) {
      file = line.slice(3).startsWith(`${sandbox}/`) ? line.slice(sandbox.length + 4) : "";
      functions = functionsHit = linesHit = 0;
    } else if (line.startsWith("FNDA:")) {
      functions++;
      if (Number(line.slice(5).split(",")[0]) > 0) functionsHit++;
    } else if (line.startsWith("DA:")) {
      if (Number(line.slice(3).split(",")[1]) > 0) linesHit++;
    } else if (line === "end_of_record" && file) {
      if (functionsHit > 0 || (functions === 0 && linesHit > 0)) ran.add(file);
    }
  }
  return { test, seconds, passed: out.success, ran };
}

/**
 * The test files for each source file: those whose coverage run ran one of its functions,
 * fastest first (or those matching `--tests`).
 */
async function choose(
  sandbox: string,
  sources: string[],
  testFiles: string[],
  o: Options,
): Promise<Map<string, string[]>> {
  const chosen = new Map<string, string[]>();
  if (o.tests) {
    const re = globToRegExp(o.tests.replace(/^\.\//, ""));
    for (const s of sources) chosen.set(s, testFiles.filter((t) => re.test(t)));
    return chosen;
  }
  const reaching: string[] = [];
  for (const t of testFiles) {
    for (const s of sources) {
      if (await owns(sandbox, t, s)) {
        reaching.push(t);
        break;
      }
    }
  }
  console.error(`mutants: coverage of ${reaching.length} test files (unmutated)...`);
  const runs: Coverage[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: o.concurrency }, async () => {
    while (next < reaching.length) {
      const i = next++;
      const c = await coverageOf(sandbox, reaching[i], i);
      console.error(
        `  ${c.test}: ${c.seconds.toFixed(1)}s${c.passed ? "" : " FAILED unmutated: not used"}`,
      );
      if (c.passed) runs.push(c);
    }
  }));
  runs.sort((a, b) => a.seconds - b.seconds);
  for (const s of sources) {
    const mine: string[] = [];
    for (const c of runs) if (c.ran.has(s) && await owns(sandbox, c.test, s)) mine.push(c.test);
    chosen.set(s, mine);
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
    // Generous: on a shared machine a normal run may be slow; a timeout counts as caught.
    timeoutMS: 30000,
    timeoutFactor: 2.5,
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
  const sandbox = await Deno.makeTempDir({ prefix: "softtree-mutants-" });
  const cleanUp = () => {
    if (o.keep) console.error(`mutants: kept ${sandbox}`);
    else Deno.removeSync(sandbox, { recursive: true });
  };
  const onInterrupt = () => {
    cleanUp();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  Deno.addSignalListener("SIGTERM", onInterrupt);
  console.error(`mutants: scratch copy of ${o.rev ?? "the working tree"} in ${sandbox}`);
  try {
    const files = await fillSandbox(sandbox, o.rev);
    const sources = files.filter((f) =>
      f.endsWith(".ts") && !f.endsWith(".d.ts") &&
      o.targets.some((t) => f === t || f.startsWith(t.endsWith("/") ? t : `${t}/`))
    ).sort();
    if (!sources.length) {
      cleanUp();
      usage(`no TypeScript files under ${o.targets.join(", ")}`);
    }
    const testFiles = files.filter((f) => /^tests\/[^/]+_test\.ts$/.test(f)).sort();
    const plan = await choose(sandbox, sources, testFiles, o);
    console.error(`mutants: ${sources.length} files; tests per file, fastest first:`);
    for (const [s, t] of plan) {
      console.error(`  ${s}: ${t.map((x) => x.slice(6)).join(" ") || "none"}`);
    }
    if (o.plan) return;

    const results: FileResult[] = [];
    for (const [source, tests] of plan) {
      if (!tests.length) {
        console.error(`mutants: ${source}: no test runs it, skipped`);
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
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onInterrupt);
    cleanUp();
  }
}

if (import.meta.main) await main();
