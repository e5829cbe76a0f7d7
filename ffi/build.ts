/**
 * Builds softtree's native libraries, on demand or ahead of time.
 *
 * On demand ({@link findLibrary}): a library is looked for at the path in its environment
 * variable, then in the checkout's `ffi/build/` (when it is newer than its sources), then in a
 * per-user cache; when none is there it is compiled, once, into the cache. The cache
 * (`SOFTTREE_CACHE`, else `$XDG_CACHE_HOME/softtree`, else `~/.cache/softtree`) keeps each
 * build under a key made of the sources' hash, the compiler's version, the target and the
 * flags, so an edited source or another compiler never loads a stale library, and the CPU
 * level (`-march=x86-64-v4`, `-v3`, `-v2` or the `x86-64` baseline, from the CPU that
 * builds it) is part of the name: a machine with another CPU builds its own. Sources come
 * from beside this module, or are fetched relative to `import.meta.url` when softtree is
 * imported over http(s). A build writes a temporary file and renames it, so two processes
 * starting on a cold cache both end up with a whole library.
 *
 * Ahead of time (`deno task build:ffi`, this file as a script): every library this machine
 * can build goes into the git-ignored `ffi/build/`, incrementally; `--force` rebuilds.
 *
 * Environment: `CC` (default `gcc`), `NVCC` (default `nvcc`), `SOFTTREE_MARCH` (the CPU
 * level, e.g. `native` or `x86-64`; default: the best level this CPU supports),
 * `SOFTTREE_CUDA_ARCH` (nvcc architecture flags, e.g. `-arch=native`), `SOFTTREE_CACHE`.
 *
 * @module
 */

/** How one native library is built. */
export interface LibrarySpec {
  /** `"cc"` (a C compiler) or `"nvcc"`. */
  compiler: "cc" | "nvcc";
  /** The file compiled, in `ffi/`. */
  main: string;
  /** Every file the build reads (headers and `main`), in `ffi/`: the cache key hashes them. */
  sources: readonly string[];
  /** The environment variable that names a prebuilt library, which then wins. */
  envVar: string;
  /** What it is, for messages: e.g. `"the native tree library"`. */
  title: string;
}

/**
 * A library's name, e.g. `"sdt_cpu"`; its file is `lib<name>.so`: the tree's library and the
 * teacher's kernels, each for the CPU and for CUDA.
 */
export type LibraryName = "sdt_cpu" | "sdt_cuda" | "stk_cpu" | "stk_cuda";

/** The native libraries softtree builds. */
export const LIBRARIES = {
  sdt_cpu: {
    compiler: "cc",
    main: "sdt_cpu.c",
    sources: ["sdt.h", "sdt_common.h", "ffi_common.h", "cpu_pool.h", "sdt_cpu.c"],
    envVar: "SOFTTREE_NATIVE_LIB",
    title: "the native tree library",
  },
  sdt_cuda: {
    compiler: "nvcc",
    main: "sdt_cuda.cu",
    sources: ["sdt.h", "sdt_common.h", "ffi_common.h", "sdt_cuda.cu"],
    envVar: "SOFTTREE_CUDA_LIB",
    title: "the CUDA tree library",
  },
  stk_cpu: {
    compiler: "cc",
    main: "stk_cpu.c",
    sources: ["stk.h", "stk_common.h", "ffi_common.h", "cpu_pool.h", "stk_cpu.c"],
    envVar: "SOFTTREE_TEACHER_LIB",
    title: "the native teacher kernels",
  },
  stk_cuda: {
    compiler: "nvcc",
    main: "stk_cuda.cu",
    sources: ["stk.h", "stk_common.h", "ffi_common.h", "stk_cuda.cu"],
    envVar: "SOFTTREE_TEACHER_CUDA_LIB",
    title: "the CUDA teacher kernels",
  },
} as const satisfies Record<LibraryName, LibrarySpec>;

/** Where `deno task build:ffi` puts libraries (a path only when this module is on disk). */
export const BUILD_DIR: string = decodeURIComponent(new URL("./build/", import.meta.url).pathname);

const SRC_BASE = new URL("./", import.meta.url);
const ON_DISK = SRC_BASE.protocol === "file:";
const SUFFIX = Deno.build.os === "darwin" ? "dylib" : Deno.build.os === "windows" ? "dll" : "so";
const DEFAULT_CUDA_ARCH = [
  "-gencode=arch=compute_75,code=sm_75",
  "-gencode=arch=compute_80,code=sm_80",
  "-gencode=arch=compute_90,code=sm_90",
  "-gencode=arch=compute_90,code=compute_90",
];

/** The file name of a library, e.g. `libsdt_cpu.so`. */
export function libraryFile(name: LibraryName): string {
  return `lib${name}.${SUFFIX}`;
}

/** A compiler found on this machine. */
export interface Toolchain {
  /** The command, e.g. `gcc` or `/usr/local/cuda/bin/nvcc`. */
  command: string;
  /** Short name and version, e.g. `gcc 12.2`. */
  name: string;
  /** The first line of `--version` (part of the cache key). */
  version: string;
}

/** Why a library could not be found or built. */
export class BuildError extends Error {
  override name = "BuildError";
  /**
   * `"no-compiler"`: the compiler is not installed; `"failed"`: it rejected the sources;
   * `"sources"`: the sources could not be read or fetched; `"cache"`: the cache is not
   * writable.
   */
  readonly kind: "no-compiler" | "failed" | "sources" | "cache";
  /**
   * @param message What failed (for `"failed"`, with the compiler's first error line).
   * @param kind Why.
   * @param options Standard error options (`cause`).
   */
  constructor(
    message: string,
    kind: "no-compiler" | "failed" | "sources" | "cache",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.kind = kind;
  }
}

/** A build that starts, ends or fails; told to {@link FindOptions.onBuild}. */
export interface BuildEvent {
  /** The library. */
  library: LibraryName;
  /** `"start"`, `"done"` or `"failed"`. */
  phase: "start" | "done" | "failed";
  /** The compiler, e.g. `gcc 12.2`. */
  compiler: string;
  /** The target, e.g. `x86-64-v4` or `sm_75 sm_80 sm_90`. */
  target: string;
  /** Where the library goes. */
  path: string;
  /** Seconds the build took (`done` and `failed`). */
  seconds?: number;
  /** Why it failed (`failed`). */
  error?: string;
}

/** Where a library was found. */
export interface FoundLibrary {
  /** Its path. */
  path: string;
  /** `"env"` (its environment variable), `"checkout"` (`ffi/build/`) or `"cache"`. */
  origin: "env" | "checkout" | "cache";
  /** Whether this call compiled it. */
  built: boolean;
}

/** Options of {@link findLibrary} and {@link buildCached}. */
export interface FindOptions {
  /** Told when a build starts and ends (the CLI shows a progress line). */
  onBuild?: (event: BuildEvent) => void;
  /** The CPU level (`-march`) of a C build. @default `SOFTTREE_MARCH`, else this CPU's best */
  march?: string;
  /** The cache folder. @default {@link cacheDir}() */
  cache?: string;
  /** Where the sources are (a folder URL). @default this module's folder */
  sources?: URL;
  /** Skip the environment variable and the checkout's `ffi/build/`. @default false */
  cacheOnly?: boolean;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env: use the defaults
  }
}

/**
 * The per-user cache folder: `SOFTTREE_CACHE`, else `$XDG_CACHE_HOME/softtree`, else
 * `~/.cache/softtree`.
 * @throws {BuildError} When none of them is set (no home folder).
 */
export function cacheDir(): string {
  const own = env("SOFTTREE_CACHE");
  if (own) return own.replace(/\/+$/, "");
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg.replace(/\/+$/, "")}/softtree`;
  const home = env("HOME") ?? env("USERPROFILE");
  if (home) return `${home.replace(/\/+$/, "")}/.cache/softtree`;
  throw new BuildError(
    "No cache folder for native libraries: set SOFTTREE_CACHE (or HOME)",
    "cache",
  );
}

async function run(cmd: string, args: string[], cwd?: string) {
  try {
    const r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(r.stderr) + new TextDecoder().decode(r.stdout);
    return { ok: r.success, found: true, output: text.trim() };
  } catch (e) {
    const found = !(e instanceof Deno.errors.NotFound);
    return { ok: false, found, output: e instanceof Error ? e.message : String(e) };
  }
}

const toolchains = new Map<string, Promise<Toolchain | null>>();

/**
 * The compiler of a kind (`CC` or `NVCC`, else `gcc` / `nvcc`), or `null` when it is not
 * installed. Asked once per process and command.
 */
export function findToolchain(kind: "cc" | "nvcc"): Promise<Toolchain | null> {
  const command = kind === "cc" ? env("CC") ?? "gcc" : env("NVCC") ?? "nvcc";
  const key = `${kind}:${command}`;
  let found = toolchains.get(key);
  if (!found) {
    found = run(command, ["--version"]).then((r) => {
      if (!r.ok) return null;
      const lines = r.output.split("\n").map((l) => l.trim()).filter(Boolean);
      // nvcc prints its version on the line "Cuda compilation tools, release 13.0, V13.0.88".
      const line = kind === "nvcc"
        ? lines.find((l) => /release \d+/.test(l)) ?? lines[0]
        : lines[0];
      const v = line.match(/(\d+)\.(\d+)(?:\.\d+)?(?!.*\d+\.\d+)/) ??
        line.match(/(\d+)\.(\d+)/);
      const base = command.split("/").pop()!.replace(/\.exe$/, "");
      const label = /clang/.test(line) && !/clang/.test(base) ? `${base} (clang)` : base;
      return { command, name: v ? `${label} ${v[1]}.${v[2]}` : label, version: line };
    });
    toolchains.set(key, found);
  }
  return found;
}

let level: string | null = null;

/**
 * The best x86-64 micro-architecture level this CPU supports (`x86-64-v4`: AVX-512,
 * `x86-64-v3`: AVX2 and FMA, `x86-64-v2`: SSE4.2, else `x86-64`), read from
 * `/proc/cpuinfo`; `native` on other architectures or where it cannot be read.
 */
export function cpuLevel(): string {
  if (level) return level;
  level = "native";
  if (Deno.build.arch !== "x86_64") return level;
  let flags: Set<string>;
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    const line = info.split("\n").find((l) => l.startsWith("flags")) ?? "";
    flags = new Set(line.split(":")[1]?.trim().split(/\s+/) ?? []);
  } catch {
    level = "x86-64"; // nothing known: the baseline runs everywhere
    return level;
  }
  const has = (...f: string[]) => f.every((x) => flags.has(x));
  const v2 = has("cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3");
  // LZCNT (x86-64-v3 too) is left out: some hypervisors hide its flag ("abm"), and every CPU
  // with AVX2 and BMI has it.
  const v3 = v2 && has("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave");
  const v4 = v3 && has("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl");
  level = v4 ? "x86-64-v4" : v3 ? "x86-64-v3" : v2 ? "x86-64-v2" : "x86-64";
  return level;
}

/**
 * The compiler flag sets of a library, tried in order (a C build without OpenMP is slower
 * but correct), and the target they name.
 */
export function buildFlags(
  name: LibraryName,
  options: { march?: string } = {},
): { target: string; flagSets: string[][] } {
  const spec: LibrarySpec = LIBRARIES[name];
  if (spec.compiler === "nvcc") {
    const archEnv = env("SOFTTREE_CUDA_ARCH");
    const arch = archEnv ? archEnv.split(/\s+/).filter(Boolean) : DEFAULT_CUDA_ARCH;
    const target = arch.map((a) => a.match(/code=(\w+)|arch=(\w+)/)?.slice(1).find(Boolean) ?? a)
      .join(" ");
    return {
      target,
      flagSets: [["-O3", "-std=c++17", "-shared", "-Xcompiler=-fPIC", ...arch, spec.main, "-ldl"]],
    };
  }
  const march = options.march ?? env("SOFTTREE_MARCH") ?? cpuLevel();
  // -z nodelete: never unmap the library (or its OpenMP runtime) under live worker threads.
  const base = [
    "-std=c11",
    "-O3",
    "-fno-math-errno",
    "-fPIC",
    "-shared",
    "-Wall",
    "-Wno-psabi",
    "-Wl,-z,nodelete",
    `-march=${march}`,
    `-DSOFTTREE_TARGET="${march}"`,
  ];
  return {
    target: march,
    flagSets: [[...base, "-fopenmp", spec.main, "-lm"], [...base, spec.main, "-lm"]],
  };
}

/** The text of every source of a library, read beside this module or fetched over http(s). */
async function readSources(name: LibraryName, base: URL): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const file of LIBRARIES[name].sources) {
    const url = new URL(file, base);
    try {
      if (url.protocol === "file:") {
        out.set(file, await Deno.readTextFile(url));
      } else {
        const res = await fetch(url);
        if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
        out.set(file, await res.text());
      }
    } catch (cause) {
      throw new BuildError(
        `Cannot read the source "${url.href}" of ${LIBRARIES[name].title}: ${
          (cause as Error).message
        }`,
        "sources",
        { cause },
      );
    }
  }
  return out;
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The cache key of a build: a hash of the sources, the compiler's version, the platform
 * and the flags.
 */
export async function cacheKey(
  sources: Map<string, string>,
  toolchain: Toolchain,
  flags: string[],
): Promise<string> {
  const parts = [
    "softtree-native-1",
    Deno.build.target,
    toolchain.version,
    flags.join(" "),
    ...[...sources].map(([file, text]) => `${file}\n${text.length}\n${text}`),
  ];
  return (await sha256(parts.join("\n\0"))).slice(0, 16);
}

/** The first line of a compiler's output that reports an error (else its first line). */
export function firstErrorLine(output: string): string {
  const lines = output.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /\berror\b/i.test(l)) ?? lines[0] ?? "no output";
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Compile `main` (already written to `dir` with its headers) with each flag set in turn, to a
 * temporary file that is renamed to `out` when one works.
 */
async function compileInto(
  toolchain: Toolchain,
  flagSets: string[][],
  dir: string,
  out: string,
): Promise<{ ok: true; command: string } | { ok: false; output: string }> {
  const tmp = `${out}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  let output = "";
  for (const flags of flagSets) {
    const r = await run(toolchain.command, [...flags, "-o", tmp], dir);
    if (r.ok) {
      await Deno.rename(tmp, out);
      return { ok: true, command: `${toolchain.command} ${flags.join(" ")}` };
    }
    output = r.output;
  }
  await Deno.remove(tmp).catch(() => {});
  return { ok: false, output };
}

/**
 * The library in the cache, compiled there first when it is missing.
 *
 * @param name The library.
 * @param options Progress callback, CPU level, cache folder, sources.
 * @returns Its path, and whether this call built it.
 * @throws {BuildError} When there is no compiler, the build fails, the sources cannot be
 *   read, or the cache cannot be written.
 * @example
 * ```ts
 * const { path } = await buildCached("sdt_cpu", { onBuild: (e) => console.error(e.phase) });
 * ```
 */
export async function buildCached(
  name: LibraryName,
  options: FindOptions = {},
): Promise<FoundLibrary> {
  const spec: LibrarySpec = LIBRARIES[name];
  const toolchain = await findToolchain(spec.compiler);
  if (!toolchain) {
    const command = spec.compiler === "cc" ? env("CC") ?? "gcc" : env("NVCC") ?? "nvcc";
    throw new BuildError(
      spec.compiler === "cc"
        ? `no C compiler ("${command}" not found) to build ${spec.title}`
        : `no CUDA compiler ("${command}" not found) to build ${spec.title}`,
      "no-compiler",
    );
  }
  const { target, flagSets } = buildFlags(name, options);
  const sources = await readSources(name, options.sources ?? SRC_BASE);
  const key = await cacheKey(sources, toolchain, flagSets[0]);
  const dir = `${options.cache ?? cacheDir()}/native`;
  const tag = spec.compiler === "cc" ? `-${target}` : "";
  const path = `${dir}/lib${name}${tag}-${key}.${SUFFIX}`;
  if (exists(path)) return { path, origin: "cache", built: false };

  const work = `${dir}/build-${key}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.mkdir(work, { recursive: true });
    for (const [file, text] of sources) await Deno.writeTextFile(`${work}/${file}`, text);
  } catch (cause) {
    await Deno.remove(work, { recursive: true }).catch(() => {});
    throw new BuildError(
      `Cannot write to the cache folder "${dir}": ${(cause as Error).message}`,
      "cache",
      { cause },
    );
  }
  const event = { library: name, compiler: toolchain.name, target, path };
  options.onBuild?.({ ...event, phase: "start" });
  const t0 = performance.now();
  try {
    const r = await compileInto(toolchain, flagSets, work, path);
    const seconds = (performance.now() - t0) / 1000;
    if (!r.ok) {
      const error = firstErrorLine(r.output);
      options.onBuild?.({ ...event, phase: "failed", seconds, error });
      throw new BuildError(`${toolchain.name} could not build ${spec.title}: ${error}`, "failed");
    }
    options.onBuild?.({ ...event, phase: "done", seconds });
    return { path, origin: "cache", built: true };
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** `ffi/build/lib<name>.so` when this module is on disk and the library is newer than its sources. */
export function checkoutLibrary(name: LibraryName): string | null {
  if (!ON_DISK) return null;
  const path = `${BUILD_DIR}${libraryFile(name)}`;
  return upToDate(path, LIBRARIES[name].sources.map((f) => `${srcDir()}${f}`)) ? path : null;
}

function srcDir(): string {
  return decodeURIComponent(SRC_BASE.pathname);
}

function mtime(path: string): number | null {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return null;
  }
}

function upToDate(out: string, sources: string[]): boolean {
  const t = mtime(out);
  if (t === null) return false;
  return sources.every((s) => (mtime(s) ?? Infinity) <= t);
}

/**
 * Find a library, building it into the cache when needed: its environment variable's path
 * first, then the checkout's `ffi/build/` when up to date, then the cache.
 *
 * @param name The library.
 * @param options Progress callback, CPU level, cache folder, sources.
 * @returns Where it is, and whether this call built it.
 * @throws {BuildError} When it is nowhere and cannot be built.
 * @example
 * ```ts
 * const { path, origin } = await findLibrary("sdt_cpu");
 * ```
 */
export function findLibrary(name: LibraryName, options: FindOptions = {}): Promise<FoundLibrary> {
  // Once per process and setting: a failed build is reported (and attempted) once.
  const key = JSON.stringify([
    name,
    options.march,
    options.cache,
    options.sources?.href,
    options.cacheOnly,
    ...["CC", "NVCC", "SOFTTREE_MARCH", "SOFTTREE_CUDA_ARCH", "SOFTTREE_CACHE"].map(env),
    env(LIBRARIES[name].envVar),
  ]);
  let found = searches.get(key);
  if (!found) {
    found = search(name, options);
    searches.set(key, found);
  }
  return found;
}

const searches = new Map<string, Promise<FoundLibrary>>();

async function search(name: LibraryName, options: FindOptions): Promise<FoundLibrary> {
  if (!options.cacheOnly) {
    const fromEnv = env(LIBRARIES[name].envVar);
    if (fromEnv) return { path: fromEnv, origin: "env", built: false };
    const local = checkoutLibrary(name);
    if (local) return { path: local, origin: "checkout", built: false };
  }
  return await buildCached(name, options);
}

/* ---------------------------------------------------------------- ffi/build/ (build:ffi) */

/** What happened to one library in `ffi/build/`. */
export interface BuildOutcome {
  /** `"cpu"` or `"cuda"`. */
  variant: "cpu" | "cuda";
  /** `"built"`, `"up to date"`, `"skipped"` (no compiler) or `"failed"`. */
  status: "built" | "up to date" | "skipped" | "failed";
  /** The library's path. */
  path: string;
  /** Why it was skipped or failed, or the command that built it. */
  detail: string;
}

/** Options of {@link buildFfi}. */
export interface BuildOptions {
  /** Rebuild even when up to date. @default false */
  force?: boolean;
  /** Build the CPU libraries. @default true */
  cpu?: boolean;
  /** Also try the CUDA libraries. @default true */
  cuda?: boolean;
}

async function buildLocal(name: LibraryName, force: boolean): Promise<BuildOutcome> {
  const spec: LibrarySpec = LIBRARIES[name];
  const variant = spec.compiler === "cc" ? "cpu" : "cuda";
  const path = `${BUILD_DIR}${libraryFile(name)}`;
  const dir = srcDir();
  if (!force && upToDate(path, spec.sources.map((f) => `${dir}${f}`))) {
    return { variant, status: "up to date", path, detail: "" };
  }
  const toolchain = await findToolchain(spec.compiler);
  if (!toolchain) {
    const what = spec.compiler === "cc" ? "no C compiler" : "nvcc not found";
    return { variant, status: variant === "cpu" ? "failed" : "skipped", path, detail: what };
  }
  const { flagSets } = buildFlags(name);
  const r = await compileInto(toolchain, flagSets, dir, path);
  return r.ok ? { variant, status: "built", path, detail: r.command } : {
    variant,
    status: "failed",
    path,
    detail: r.output.split("\n").slice(0, 20).join("\n"),
  };
}

/**
 * Build every library this machine can build into `ffi/build/` (incremental).
 * @param options `force` rebuilds; `cuda: false` skips the CUDA libraries.
 * @returns One outcome per library asked for (CPU ones first).
 * @example
 * ```ts
 * const [cpu] = await buildFfi({ cuda: false });
 * if (cpu.status === "failed") throw new Error(cpu.detail);
 * ```
 */
export async function buildFfi(options: BuildOptions = {}): Promise<BuildOutcome[]> {
  if (!ON_DISK) throw new BuildError("buildFfi() needs softtree on disk", "sources");
  await Deno.mkdir(BUILD_DIR, { recursive: true });
  const out: BuildOutcome[] = [];
  const names = Object.keys(LIBRARIES) as LibraryName[];
  for (const cuda of [false, true]) {
    if (cuda ? !(options.cuda ?? true) : !(options.cpu ?? true)) continue;
    for (const name of names) {
      if ((LIBRARIES[name].compiler === "nvcc") !== cuda) continue;
      out.push(await buildLocal(name, options.force ?? false));
    }
  }
  return out;
}

if (import.meta.main) {
  const force = Deno.args.includes("--force");
  const cuda = !Deno.args.includes("--no-cuda");
  const outcomes = await buildFfi({ force, cuda });
  // On stderr: a task that prints JSON on stdout may run this first.
  for (const o of outcomes) {
    const why = o.detail ? `: ${o.detail}` : "";
    console.error(`${o.variant}: ${o.status} ${o.path}${o.status === "built" ? "" : why}`);
    if (o.status === "built") console.error(`  ${o.detail}`);
  }
  if (outcomes.some((o) => o.variant === "cpu" && o.status === "failed")) Deno.exit(1);
}
