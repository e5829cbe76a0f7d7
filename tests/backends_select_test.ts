/**
 * Which backend a user gets, and the environment variables that steer it, through the
 * command line: `--backend auto` tries cuda, then native, then tfjs and says in its backend
 * line why it passed one over; `SOFTTREE_NATIVE_LIB` / `SOFTTREE_CUDA_LIB` name the library
 * to load (a bad one is an error for an explicit backend, never a silent fallback);
 * `SOFTTREE_THREADS` sets the native threads; `SOFTTREE_TF_BACKEND=cpu` the tfjs backend.
 */
import assert from "node:assert/strict";
import { findLibrary } from "../ffi/build.ts";
import { runCli } from "./_cli.ts";
import { separableCsv } from "./_tiny.ts";

const dir = await Deno.makeTempDir();
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const csv = `${dir}/two-blobs.csv`;
await Deno.writeTextFile(csv, separableCsv(200));
/** A working CPU library (built into the cache if need be), and a file that is not one. */
const cpuLib = `${dir}/libsdt_cpu-copy.so`;
await Deno.copyFile((await findLibrary("sdt_cpu")).path, cpuLib);
const notALib = `${dir}/not-a-library.so`;
await Deno.writeTextFile(notALib, "not a shared library\n");

/** `train` on tiny data with `env`: exit status, backend (from --json) and backend line. */
async function train(env: Record<string, string>, ...args: string[]) {
  const r = await runCli(
    [
      ...["train", "--data", `csv:${csv}`, "--depth", "2", "--epochs", "1", "--restarts", "1"],
      ...["--out", `${dir}/run`, "--retrain", "--no-pictures", "--json", ...args],
    ],
    undefined,
    { SOFTTREE_NATIVE_LIB: "", SOFTTREE_CUDA_LIB: "", ...env },
  );
  const line = r.stderr.split("\n").find((l) => l.startsWith("backend:")) ?? "";
  return { ...r, backend: r.code === 0 ? r.json().backend : null, line };
}

Deno.test("auto takes a CUDA library that runs, before the native one", async () => {
  // The CPU build stands in for a working CUDA library: auto must try it first.
  const r = await train({ SOFTTREE_CUDA_LIB: cpuLib });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.backend, "cuda", r.line);
  assert.match(r.line, /^backend: cuda /);
});

Deno.test("auto passes over a CUDA library that cannot load, to native, and says why", async () => {
  const r = await train({ SOFTTREE_CUDA_LIB: notALib });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.backend, "native", r.line);
  assert.match(r.line, /^backend: native \(.*\) \(cuda unavailable: /);
});

Deno.test("auto falls back to tfjs when neither native library loads, naming both", async () => {
  const r = await train({ SOFTTREE_CUDA_LIB: notALib, SOFTTREE_NATIVE_LIB: notALib });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.backend, "tfjs", r.line);
  assert.match(r.line, /^backend: tfjs \(\w+\) \(cuda unavailable: .*; native unavailable: /);
});

Deno.test("SOFTTREE_NATIVE_LIB is what --backend native loads; a bad one is an error naming it", async () => {
  const good = await train({ SOFTTREE_NATIVE_LIB: cpuLib }, "--backend", "native");
  assert.equal(good.code, 0, good.stderr);
  assert.equal(good.backend, "native");
  const bad = await train({ SOFTTREE_NATIVE_LIB: notALib }, "--backend", "native");
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /^error: The native backend cannot load: .*not-a-library\.so/m);
  assert.match(bad.stderr, /^hint: .*SOFTTREE_NATIVE_LIB/m);
  assert.equal(bad.stdout, "", "no run on another backend instead");
  const cuda = await train({ SOFTTREE_CUDA_LIB: notALib }, "--backend", "cuda");
  assert.equal(cuda.code, 1, cuda.stderr);
  assert.match(cuda.stderr, /^error: The cuda backend cannot (load|run here): /m);
});

Deno.test("SOFTTREE_THREADS sets the native backend's threads", async () => {
  for (const threads of ["1", "3"]) {
    const r = await train(
      { SOFTTREE_NATIVE_LIB: cpuLib, SOFTTREE_THREADS: threads },
      "--backend",
      "native",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.line, new RegExp(`^backend: native \\(.*, ${threads} threads\\)$`));
  }
});

Deno.test("SOFTTREE_TF_BACKEND=cpu runs tfjs on its plain CPU backend instead of wasm", async () => {
  const wasm = await train({}, "--backend", "tfjs");
  const cpu = await train({ SOFTTREE_TF_BACKEND: "cpu" }, "--backend", "tfjs");
  assert.equal(wasm.code, 0, wasm.stderr);
  assert.equal(cpu.code, 0, cpu.stderr);
  assert.equal(wasm.line, "backend: tfjs (wasm)");
  assert.equal(cpu.line, "backend: tfjs (cpu)");
});
