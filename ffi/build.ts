/**
 * Builds the native libraries into the git-ignored `ffi/build/`: `libsdt_cpu.so` with gcc
 * (or `$CC`), and `libsdt_cuda.so` with nvcc when it is installed. Incremental: a library
 * newer than its sources is kept. Run it as `deno task build:ffi`; it prints what it built
 * and what it skipped and why, and exits non-zero only when the CPU build fails.
 *
 * Environment: `CC` (default `gcc`), `NVCC` (default `nvcc`), `SOFTTREE_MARCH` (default
 * `native`: the library is built on the machine that runs it), `SOFTTREE_CUDA_ARCH`
 * (nvcc architecture flags, e.g. `-arch=native` on a machine with a GPU).
 *
 * @module
 */

/** Where the built libraries go. */
export const BUILD_DIR: string = new URL("./build/", import.meta.url).pathname;

/** What happened to one library. */
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
  /** Build the CPU library. @default true */
  cpu?: boolean;
  /** Also try the CUDA library. @default true */
  cuda?: boolean;
}

const SRC_DIR = new URL("./", import.meta.url).pathname;
const DEFAULT_CUDA_ARCH = [
  "-gencode=arch=compute_75,code=sm_75",
  "-gencode=arch=compute_80,code=sm_80",
  "-gencode=arch=compute_90,code=sm_90",
  "-gencode=arch=compute_90,code=compute_90",
];

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

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(r.stderr) + new TextDecoder().decode(r.stdout);
    return { ok: r.success, output: text.trim() };
  } catch (e) {
    return { ok: false, output: e instanceof Error ? e.message : String(e) };
  }
}

async function hasCommand(cmd: string): Promise<boolean> {
  return (await run(cmd, ["--version"])).ok;
}

/** Compile to a temporary file and rename, so that a half-written library is never loaded. */
async function compile(
  cmd: string,
  argSets: string[][],
  out: string,
): Promise<{ ok: boolean; detail: string }> {
  const tmp = `${out}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  let last = "";
  for (const args of argSets) {
    const full = [...args, "-o", tmp];
    const r = await run(cmd, full);
    if (r.ok) {
      await Deno.rename(tmp, out);
      return { ok: true, detail: `${cmd} ${full.slice(0, -2).join(" ")}` };
    }
    last = r.output;
  }
  try {
    await Deno.remove(tmp);
  } catch {
    // nothing was written
  }
  return { ok: false, detail: last.split("\n").slice(0, 20).join("\n") };
}

async function buildCpu(force: boolean): Promise<BuildOutcome> {
  const path = `${BUILD_DIR}libsdt_cpu.so`;
  const sources = [`${SRC_DIR}sdt.h`, `${SRC_DIR}sdt_common.h`, `${SRC_DIR}sdt_cpu.c`];
  if (!force && upToDate(path, sources)) {
    return { variant: "cpu", status: "up to date", path, detail: "" };
  }
  const cc = Deno.env.get("CC") || "gcc";
  if (!(await hasCommand(cc))) {
    return { variant: "cpu", status: "failed", path, detail: `no C compiler: "${cc}" not found` };
  }
  const march = Deno.env.get("SOFTTREE_MARCH") || "native";
  // -z nodelete: never unmap the library (or its OpenMP runtime) under live worker threads.
  const base = [
    "-std=c11",
    "-O3",
    "-fno-math-errno",
    "-fPIC",
    "-shared",
    "-Wall",
    "-Wl,-z,nodelete",
  ];
  const src = [`${SRC_DIR}sdt_cpu.c`, "-lm"];
  // Without OpenMP or without -march the library is slower but still correct.
  const r = await compile(cc, [
    [...base, `-march=${march}`, "-fopenmp", ...src],
    [...base, "-fopenmp", ...src],
    [...base, ...src],
  ], path);
  return { variant: "cpu", status: r.ok ? "built" : "failed", path, detail: r.detail };
}

async function buildCuda(force: boolean): Promise<BuildOutcome> {
  const path = `${BUILD_DIR}libsdt_cuda.so`;
  const sources = [`${SRC_DIR}sdt.h`, `${SRC_DIR}sdt_common.h`, `${SRC_DIR}sdt_cuda.cu`];
  if (!force && upToDate(path, sources)) {
    return { variant: "cuda", status: "up to date", path, detail: "" };
  }
  const nvcc = Deno.env.get("NVCC") || "nvcc";
  if (!(await hasCommand(nvcc))) {
    return { variant: "cuda", status: "skipped", path, detail: `nvcc not found ("${nvcc}")` };
  }
  const archEnv = Deno.env.get("SOFTTREE_CUDA_ARCH");
  const arch = archEnv ? archEnv.split(/\s+/).filter(Boolean) : DEFAULT_CUDA_ARCH;
  const r = await compile(nvcc, [[
    "-O3",
    "-std=c++17",
    "-shared",
    "-Xcompiler=-fPIC",
    ...arch,
    `${SRC_DIR}sdt_cuda.cu`,
    "-ldl",
  ]], path);
  return { variant: "cuda", status: r.ok ? "built" : "failed", path, detail: r.detail };
}

/**
 * Build every native library this machine can build.
 * @param options `force` rebuilds; `cuda: false` skips the CUDA library.
 * @returns One outcome per variant asked for (cpu first).
 * @example
 * ```ts
 * const [cpu] = await buildFfi({ cuda: false });
 * if (cpu.status === "failed") throw new Error(cpu.detail);
 * ```
 */
export async function buildFfi(options: BuildOptions = {}): Promise<BuildOutcome[]> {
  await Deno.mkdir(BUILD_DIR, { recursive: true });
  const out: BuildOutcome[] = [];
  if (options.cpu ?? true) out.push(await buildCpu(options.force ?? false));
  if (options.cuda ?? true) out.push(await buildCuda(options.force ?? false));
  return out;
}

if (import.meta.main) {
  const force = Deno.args.includes("--force");
  const cuda = !Deno.args.includes("--no-cuda");
  const outcomes = await buildFfi({ force, cuda });
  // On stderr: `deno task distill --json` runs this first and keeps stdout for the JSON.
  for (const o of outcomes) {
    const why = o.detail ? `: ${o.detail}` : "";
    console.error(`${o.variant}: ${o.status} ${o.path}${o.status === "built" ? "" : why}`);
    if (o.status === "built") console.error(`  ${o.detail}`);
  }
  if (outcomes.some((o) => o.variant === "cpu" && o.status === "failed")) Deno.exit(1);
}
