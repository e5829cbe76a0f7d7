/**
 * The Deno-free GPU check (ffi/check/gpu_parity.c for the tree, ffi/check/stk_parity.c for the
 * teacher's kernels, run by bench/gpu_check.sh on a machine with a GPU): their CPU halves run
 * here on every test run, so that the harnesses cannot rot while no GPU is at hand. Each
 * harness is built with gcc into a temporary folder and pointed at the CPU library that the
 * tests use; the CUDA libraries' SOFTTREE_CUBLAS switch is checked where nvcc can build them
 * (their cuBLAS choice is made before any GPU is asked for).
 */
import assert from "node:assert/strict";
import { BuildError, findLibrary } from "../ffi/build.ts";
import { TOL } from "./_reference.ts";

const ROOT = new URL("../", import.meta.url);
const SOURCE = decodeURIComponent(new URL("ffi/check/gpu_parity.c", ROOT).pathname);
const STK_SOURCE = decodeURIComponent(new URL("ffi/check/stk_parity.c", ROOT).pathname);
const SCRIPT = decodeURIComponent(new URL("bench/gpu_check.sh", ROOT).pathname);

const dir = await Deno.makeTempDir({ prefix: "softtree-gpu-check-" });
const harness = `${dir}/gpu_parity`;
const stkHarness = `${dir}/stk_parity`;

/** Compiles a harness with gcc -Wall -Wextra; whether it built, and what gcc printed. */
async function compile(source: string, out: string): Promise<{ success: boolean; text: string }> {
  const r = await new Deno.Command(Deno.env.get("CC") || "gcc", {
    args: ["-std=c11", "-O2", "-Wall", "-Wextra", source, "-ldl", "-lm", "-o", out],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(r.stderr) + new TextDecoder().decode(r.stdout);
  return { success: r.success, text };
}
// Both at once (two cores, a second or two each).
const [built, stkBuilt] = await Promise.all([
  compile(SOURCE, harness),
  compile(STK_SOURCE, stkHarness),
]);
const buildOutput = built.text;
const stkBuildOutput = stkBuilt.text;
const cpuLib = (await findLibrary("sdt_cpu")).path;
const stkCpuLib = (await findLibrary("stk_cpu")).path;

/** A CUDA library's path, or null where nvcc is missing (nothing to check then). */
async function cudaLibrary(name: "sdt_cuda" | "stk_cuda"): Promise<string | null> {
  try {
    return (await findLibrary(name)).path;
  } catch (e) {
    if (e instanceof BuildError && e.kind === "no-compiler") return null;
    throw e;
  }
}
const cudaLib = await cudaLibrary("sdt_cuda");
const stkCudaLib = await cudaLibrary("stk_cuda");

/** Run a harness with extra environment variables; its exit code and output. */
async function harnessRun(
  args: string[],
  env: Record<string, string> = {},
  program = harness,
): Promise<{ code: number; out: string; last: string }> {
  const r = await new Deno.Command(program, {
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
  assert.match(r.out, /gradients vs finite differences, depth 3, squared mixture \(regression\)/);
  // depths x batches x the four losses (two of classification, two of regression) x beta
  const cases = r.out.split("\n").filter((l) => /^ {2}depth \d+, batch \d+, /.test(l));
  assert.equal(cases.length, 4 * 3 * 4 * 2, r.out);
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

/* ---------------------------------------------------------------- the teacher's kernels */

Deno.test("gpu check: the teacher kernels' harness builds with gcc -Wall -Wextra and no warning", () => {
  assert.ok(stkBuilt.success, `gcc failed:\n${stkBuildOutput}`);
  assert.equal(stkBuildOutput.trim(), "", `gcc warned:\n${stkBuildOutput}`);
});

// The CPU half once (about 3 s), with the CUDA build and a SOFTTREE_CUBLAS it must refuse where
// nvcc could build it: then its argument checks and the refusal of every entry point run too,
// with or without a GPU.
const refusedPath = `${dir}/nowhere/libcublas.so.13`;
const stkHalf = await harnessRun(
  ["--cpu", stkCpuLib, "--quick", ...(stkCudaLib ? ["--cuda", stkCudaLib] : [])],
  stkCudaLib ? { SOFTTREE_CUBLAS: refusedPath } : {},
  stkHarness,
);

Deno.test("gpu check: the teacher kernels' CPU half passes against the CPU library the tests use", () => {
  assert.equal(stkHalf.code, 0, stkHalf.out);
  assert.match(stkHalf.last, /^result: PASS \(CPU half only; CUDA not run: /);
  assert.match(
    stkHalf.out,
    /^== the harness's mulberry32 against lib\/util\/random.ts's Rng: ok$/m,
  );
  assert.match(stkHalf.out, /^== argument checks: 17 bad calls, status 1 .*: ok$/m);
  // Every entry point ran, on the teacher's shapes and odd ones, against the references.
  const cases = stkHalf.out.split("\n").filter((l) => /^ {2}\S.* ref \S+ +threads /.test(l));
  // stk_sgemm_blas runs only where a system BLAS is installed; the harness says when not.
  const blas = /has no system BLAS here/.test(stkHalf.out) ? [] : [/^ {2}sgemm_blas /];
  for (
    const kind of [
      /^ {2}sgemm \d+x\d+x\d+ TT/,
      ...blas,
      /^ {2}matmul dense 1 \[1\] 17x128x9216 NN bias relu /,
      /^ {2}conv 2: 26x26x32 -> 24x24x64 3x3 s1x1 pad 0,0, batch 17, bias, relu /,
      /^ {2}conv 28x28x3 -> 14x14x32 3x3 s2x2 /,
      /^ {2}max pool 24x24x64 -> 12x12, 2x2 s2x2 pad 0,0, batch 17 /,
      /^ {2}max pool .*, NaN and -inf /,
      /^ {2}sum_rows and relu_bias_grad \[9792, 64\] /,
      /^ {2}softmax_xent \[17, 10\]/,
      /^ {2}dropout_mask n 156672 rate 0.25 /,
      /^ {2}adam n 1179648, 3 steps /,
      /^ {2}teacher net, 3 training steps, batch 17 +ref - +threads \d/,
    ]
  ) assert.ok(cases.some((l) => kind.test(l)), `no case matches ${kind}:\n${stkHalf.out}`);
  assert.ok(cases.length > 100, `${cases.length} cases:\n${stkHalf.out}`);
  const parity = stkHalf.out.match(/^parity: PASS \((\d+) comparisons, 0 failed, (\d+) cases/m);
  assert.ok(parity && Number(parity[1]) > 700 && Number(parity[2]) === cases.length, stkHalf.out);
});

Deno.test({
  name:
    "gpu check: a refused SOFTTREE_CUBLAS makes all 14 teacher-kernel entry points fail, naming it",
  ignore: stkCudaLib === null,
  fn: () => {
    assert.ok(
      stkHalf.out.includes(
        `cuda: the CUDA library cannot run here (status 5): SOFTTREE_CUBLAS="${refusedPath}" ` +
          "cannot be used",
      ),
      stkHalf.out,
    );
    assert.match(
      stkHalf.out,
      /^== argument checks: 17 bad calls, .*, the same from cuda as from cpu: ok$/m,
    );
    assert.match(
      stkHalf.out,
      /^== cuda cannot run here: 14 entry points fail with stk_probe's status 5 and message: ok$/m,
    );
  },
});

Deno.test("gpu check: SOFTTREE_REQUIRE_CUDA=1 makes a teacher-kernel CUDA library that cannot load a failure", async () => {
  const missing = `${dir}/no-such/libstk_cuda.so`;
  const r = await harnessRun(["--cpu", stkCpuLib, "--cuda", missing], {
    SOFTTREE_REQUIRE_CUDA: "1",
  }, stkHarness);
  assert.equal(r.code, 1, r.out);
  assert.ok(r.last.startsWith("result: FAIL (SOFTTREE_REQUIRE_CUDA=1 but CUDA cannot run"), r.out);
  assert.ok(r.last.includes(missing), r.out);
});

Deno.test("gpu check: the teacher kernels' harness exits 2 on a usage error and says what is wrong", async () => {
  const r = await harnessRun(["--threads", "1", "--cpu", stkCpuLib], {}, stkHarness);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /--threads must be in \[2, 64\]\nusage: stk_parity --cpu LIB/);
});

Deno.test({
  name:
    "gpu check: SOFTTREE_CUBLAS=none gives the teacher kernels the own GEMM kernel, and stk_build_info says so",
  ignore: stkCudaLib === null,
  fn: async () => {
    const r = await harnessRun(["--cpu", stkCpuLib, "--cuda", stkCudaLib!, "--probe"], {
      SOFTTREE_CUBLAS: "none",
    }, stkHarness);
    assert.match(
      r.out,
      /^cuda: cuda \(nvcc [\d.]+, GEMM: own GEMM kernel \(SOFTTREE_CUBLAS=none\)\)/m,
    );
  },
});

Deno.test("gpu check: bench/gpu_check.sh is valid bash", async () => {
  const r = await new Deno.Command("bash", { args: ["-n", SCRIPT], stderr: "piped" }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
});

Deno.test("gpu check: the harness's tolerances are tests/_reference.ts's TOL", async () => {
  const source = await Deno.readTextFile(new URL("../ffi/check/gpu_parity.c", import.meta.url));
  for (
    const [name, key] of [["FORWARD", "forward"], ["GRADIENT", "gradient"], ["PARAMS", "params"]]
  ) {
    const m = new RegExp(`static const tol_t TOL_${name} = \\{([^,]+), ([^}]+)\\};`).exec(source);
    assert.ok(m, `TOL_${name} not found in ffi/check/gpu_parity.c`);
    const ts = TOL[key as keyof typeof TOL];
    assert.deepEqual(
      { atol: Number(m[1]), rtol: Number(m[2]) },
      { atol: ts.atol, rtol: ts.rtol },
      `TOL_${name} of gpu_parity.c differs from TOL.${key} of tests/_reference.ts`,
    );
  }
});
