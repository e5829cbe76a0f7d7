/**
 * The Deno-free GPU check (ffi/check/gpu_parity.c, run by bench/gpu_check.sh on a machine with
 * a GPU): its CPU half runs here on every test run, so that the harness cannot rot while no
 * GPU is at hand. The harness is built with gcc into a temporary folder and pointed at the CPU
 * library that the tests use; the CUDA library's SOFTTREE_CUBLAS switch is checked where nvcc
 * can build it (its cuBLAS choice is made before any GPU is asked for).
 */
import assert from "node:assert/strict";
import { BuildError, findLibrary } from "../ffi/build.ts";

const ROOT = new URL("../", import.meta.url);
const SOURCE = decodeURIComponent(new URL("ffi/check/gpu_parity.c", ROOT).pathname);
const SCRIPT = decodeURIComponent(new URL("bench/gpu_check.sh", ROOT).pathname);

const dir = await Deno.makeTempDir({ prefix: "softtree-gpu-check-" });
const harness = `${dir}/gpu_parity`;
const built = await new Deno.Command(Deno.env.get("CC") || "gcc", {
  args: ["-std=c11", "-O2", "-Wall", "-Wextra", SOURCE, "-ldl", "-lm", "-o", harness],
  stdout: "piped",
  stderr: "piped",
}).output();
const buildOutput = new TextDecoder().decode(built.stderr) +
  new TextDecoder().decode(built.stdout);
const cpuLib = (await findLibrary("sdt_cpu")).path;

/** The CUDA library's path, or null where nvcc is missing (nothing to check then). */
async function cudaLibrary(): Promise<string | null> {
  try {
    return (await findLibrary("sdt_cuda")).path;
  } catch (e) {
    if (e instanceof BuildError && e.kind === "no-compiler") return null;
    throw e;
  }
}
const cudaLib = await cudaLibrary();

/** Run the harness with extra environment variables; its exit code and output. */
async function harnessRun(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; last: string }> {
  const r = await new Deno.Command(harness, {
    args,
    env: { SOFTTREE_REQUIRE_CUDA: "0", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  const lines = out.trimEnd().split("\n");
  return { code: r.code, out, last: lines[lines.length - 1] };
}

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

Deno.test("gpu check: the harness builds with gcc -Wall -Wextra and no warning", () => {
  assert.ok(built.success, `gcc failed:\n${buildOutput}`);
  assert.equal(buildOutput.trim(), "", `gcc warned:\n${buildOutput}`);
});

Deno.test("gpu check: the CPU half passes against the CPU library the tests use", async () => {
  const r = await harnessRun(["--cpu", cpuLib, "--quick"]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.last, /^result: PASS \(CPU half only; CUDA not run: no --cuda library given\)$/);
  // The launch arithmetic, the float64 reference, and every case of the matrix ran.
  assert.match(r.out, /GEMM shapes up to 2147483647 x 2147483647, \d+ one-dimensional .*: ok/);
  assert.match(r.out, /gradients vs finite differences, depth 3, mixture loss/);
  const cases = r.out.split("\n").filter((l) => /^ {2}depth \d+, batch \d+, /.test(l));
  assert.equal(cases.length, 4 * 3 * 2 * 2, r.out);
  const parity = r.out.match(/^parity: PASS \((\d+) comparisons, 0 failed/m);
  assert.ok(parity && Number(parity[1]) > 2000, r.out);
});

Deno.test("gpu check: SOFTTREE_REQUIRE_CUDA=1 makes a CUDA library that cannot load a failure", async () => {
  const missing = `${dir}/no-such/libsdt_cuda.so`;
  const r = await harnessRun(["--cpu", cpuLib, "--cuda", missing], {
    SOFTTREE_REQUIRE_CUDA: "1",
  });
  assert.equal(r.code, 1, r.out);
  assert.ok(r.last.startsWith("result: FAIL (SOFTTREE_REQUIRE_CUDA=1 but CUDA cannot run"), r.out);
  assert.ok(r.last.includes(missing), r.out);
});

Deno.test("gpu check: a usage error exits 2 and says what is wrong", async () => {
  const r = await harnessRun(["--cuda"]);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /usage: gpu_parity --cpu LIB/);
});

Deno.test({
  name: "gpu check: SOFTTREE_CUBLAS=none selects the own GEMM kernel, and sdt_build_info says so",
  ignore: cudaLib === null,
  fn: async () => {
    const r = await harnessRun(["--cpu", cpuLib, "--cuda", cudaLib!, "--probe"], {
      SOFTTREE_CUBLAS: "none",
    });
    assert.match(
      r.out,
      /^cuda: cuda \(nvcc [\d.]+, GEMM: own GEMM kernel \(SOFTTREE_CUBLAS=none\)\)/m,
    );
  },
});

Deno.test({
  name: "gpu check: a SOFTTREE_CUBLAS path that cannot load is refused, naming it, not replaced",
  ignore: cudaLib === null,
  fn: async () => {
    const bad = `${dir}/nowhere/libcublas.so.13`;
    const r = await harnessRun(["--cpu", cpuLib, "--cuda", cudaLib!, "--probe"], {
      SOFTTREE_CUBLAS: bad,
    });
    assert.equal(r.code, 1, r.out);
    assert.ok(
      r.out.includes(
        `cuda: the CUDA library cannot run here (status 5): SOFTTREE_CUBLAS="${bad}" cannot be used`,
      ),
      r.out,
    );
    assert.equal(r.last, "result: FAIL (probe)");
  },
});

Deno.test("gpu check: bench/gpu_check.sh is valid bash", async () => {
  const r = await new Deno.Command("bash", { args: ["-n", SCRIPT], stderr: "piped" }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
});
