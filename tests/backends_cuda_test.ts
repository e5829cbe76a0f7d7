/**
 * The CUDA library (ffi/sdt_cuda.cu) against the tfjs reference: the suite of
 * tests/_parity_suite.ts, ignored where no GPU is present. Where nvcc is installed the
 * library is built first (so the CUDA source is known to compile, GPU or not).
 *
 * `SOFTTREE_REQUIRE_CUDA=1` (set by a GPU check) turns "ignored" into failures that say why:
 * on a machine that should run the suite, a missing nvcc, driver or GPU must not pass.
 */
import assert from "node:assert/strict";
import { buildFfi } from "../ffi/build.ts";
import { loadNativeBackend } from "../lib/backends/native.ts";
import { BackendUnavailableError } from "../lib/errors.ts";
import { defineParitySuite } from "./_parity_suite.ts";

async function hasNvcc(): Promise<boolean> {
  try {
    const cmd = new Deno.Command(Deno.env.get("NVCC") || "nvcc", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    });
    return (await cmd.output()).success;
  } catch {
    return false;
  }
}

const nvcc = await hasNvcc();
const [cuda] = nvcc ? await buildFfi({ cpu: false }) : [null];

/** Why the CUDA backend cannot run here, or null when it can. */
function unavailable(): BackendUnavailableError | null {
  try {
    loadNativeBackend("cuda");
    return null;
  } catch (e) {
    if (e instanceof BackendUnavailableError) return e;
    throw e;
  }
}
const missing = unavailable();
const required = Deno.env.get("SOFTTREE_REQUIRE_CUDA") === "1";

Deno.test({
  name: "cuda: SOFTTREE_REQUIRE_CUDA=1 requires nvcc and a CUDA backend that runs here",
  ignore: !required,
  fn: () => {
    const compiler = Deno.env.get("NVCC") || "nvcc";
    const why = !nvcc
      ? `nvcc was not found ("${compiler}"): install the CUDA toolkit or set NVCC`
      : missing
      ? `${missing.message}; hint: ${missing.hint}`
      : null;
    if (why) {
      throw new Error(`SOFTTREE_REQUIRE_CUDA=1: the CUDA suite must run here and cannot. ${why}`);
    }
  },
});

Deno.test({
  name: "cuda: the CUDA source compiles with nvcc",
  ignore: !nvcc && !required,
  fn: () => {
    assert.ok(nvcc, "nvcc was not found");
    assert.ok(cuda && cuda.status !== "failed", `nvcc failed:\n${cuda?.detail}`);
  },
});

Deno.test({
  name: "cuda: without a GPU, loading is a BackendUnavailableError with a hint, not a crash",
  ignore: missing === null || !nvcc,
  fn: () => {
    assert.ok(missing instanceof BackendUnavailableError);
    assert.match(missing.message, /cuda backend/);
    assert.ok(missing.hint.length > 0);
  },
});

defineParitySuite("cuda", () => loadNativeBackend("cuda"), missing !== null && !required);
