/**
 * The native libraries' argument checks (ffi/sdt_common.h, shared by the CPU and CUDA builds):
 * bad sizes, counts and null pointers passed straight through the bindings' symbols, below
 * the TypeScript engine's own checks, come back as SDT_ERR_ARGUMENT (or SDT_ERR_STATE) with a
 * message naming the argument, and the process and the tree survive. The CUDA library is
 * checked where nvcc builds it: its checks come before any GPU is asked for, so without a GPU
 * the creation and null-context checks still run; the ones that need a tree need a GPU.
 */
import assert from "node:assert/strict";
import { BuildError, findLibrary } from "../ffi/build.ts";
import { loadLibrary, type NativeLibrary, probe, Status, unwrap } from "../ffi/bindings.ts";
import { NativeError } from "../ffi/errors.ts";

/** The checks need the argument names, hence positional arguments of sdt_create. */
interface CreateArgs {
  depth: number;
  features: number;
  classes: number;
  loss: number;
  learnBeta: number;
  invTemp: number;
  strength: number;
  decay: number;
  window: number;
  lr: number;
  threads: number;
}
const GOOD: CreateArgs = {
  depth: 3,
  features: 6,
  classes: 4,
  loss: 0,
  learnBeta: 1,
  invTemp: 1,
  strength: 10,
  decay: 0.25,
  window: 10,
  lr: 0.01,
  threads: 1,
};
const I = 7, L = 8, F = 6, K = 4, P = I * F + I + L * K + 1;

function create(lib: NativeLibrary, out: BigUint64Array | null, a: Partial<CreateArgs>): number {
  const c = { ...GOOD, ...a };
  return lib.symbols.sdt_create(
    out,
    c.depth,
    c.features,
    c.classes,
    c.loss,
    c.learnBeta,
    c.invTemp,
    c.strength,
    c.decay,
    c.window,
    c.lr,
    c.threads,
  );
}

/** `status` must be refused with `code` and a message matching `message`. */
function refused(
  lib: NativeLibrary,
  status: number,
  message: RegExp,
  code: number = Status.ARGUMENT,
): void {
  assert.throws(() => unwrap(lib, status, "The call"), (e: unknown) => {
    assert.ok(e instanceof NativeError, `expected a NativeError, got ${e}`);
    assert.equal(e.status, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

/** Checks that need no tree: sdt_probe, sdt_create, and every entry point with a null tree. */
function checkWithoutTree(lib: NativeLibrary): void {
  const s = lib.symbols;
  refused(lib, s.sdt_probe(new Uint8Array(8), -1), /sdt_probe: cap must be >= 0, got -1/);
  refused(lib, s.sdt_probe(null, 16), /sdt_probe: argument info is null but cap is 16/);

  const out = new BigUint64Array(1);
  refused(lib, create(lib, null, {}), /sdt_create: argument out is null/);
  refused(lib, create(lib, out, { depth: 0 }), /Tree depth must be in \[1, 20\], got 0/);
  refused(lib, create(lib, out, { depth: 21 }), /Tree depth must be in \[1, 20\], got 21/);
  refused(lib, create(lib, out, { features: 0 }), /sdt_create: features must be >= 1, got 0/);
  refused(lib, create(lib, out, { classes: -3 }), /sdt_create: classes must be >= 1, got -3/);
  // Sizes whose parameter arrays would not fit are refused before anything is allocated.
  refused(
    lib,
    create(lib, out, { depth: 20, features: 4096 }),
    /depth 20 with 4096 features needs 4294963200 filter weights, more than 2147483647/,
  );
  refused(
    lib,
    create(lib, out, { depth: 20, classes: 2048 }),
    /depth 20 with 2048 classes needs 2147483648 leaf logits, more than 2147483647/,
  );
  refused(lib, create(lib, out, { loss: 7 }), /sdt_create: unknown loss_kind 7/);
  refused(lib, create(lib, out, { learnBeta: 2 }), /sdt_create: learn_beta must be 0 or 1/);
  refused(lib, create(lib, out, { invTemp: NaN }), /sdt_create: inv_temp must be finite/);
  refused(lib, create(lib, out, { strength: -1 }), /penalty_strength must be >= 0, got -1/);
  refused(lib, create(lib, out, { decay: Infinity }), /penalty_decay must be finite, got inf/);
  refused(lib, create(lib, out, { window: 0 }), /The penalty's window must be > 0/);
  refused(lib, create(lib, out, { lr: -0.5 }), /learning_rate must be >= 0, got -0.5/);
  refused(lib, create(lib, out, { lr: NaN }), /learning_rate must be finite, got nan/);
  refused(lib, create(lib, out, { threads: 5000 }), /threads must be <= 1024 .* got 5000/);
  assert.equal(out[0], 0n, "a refused sdt_create leaves its output null");

  const f = (n: number) => new Float32Array(n);
  const d = () => new Float64Array(1);
  const ctx = /argument ctx is null/;
  refused(lib, s.sdt_set_params(null, f(I * F), f(I), f(L * K), 1), ctx);
  refused(lib, s.sdt_get_params(f(I * F), f(I), f(L * K), f(1), null), ctx);
  refused(lib, s.sdt_set_penalty(null, f(I), f(I), 0n), ctx);
  refused(lib, s.sdt_get_penalty(f(I), f(I), new BigInt64Array(1), null), ctx);
  refused(lib, s.sdt_set_learning_rate(null, 0.1), ctx);
  refused(lib, s.sdt_set_beta(null, 1), ctx);
  refused(lib, s.sdt_get_adam(f(P), f(P), new BigInt64Array(1), null), ctx);
  refused(lib, s.sdt_set_adam(null, f(P), f(P), 0n), ctx);
  refused(lib, s.sdt_set_train_data(null, f(F), f(K), 1), ctx);
  refused(
    lib,
    s.sdt_train_samples(d(), d(), new Int32Array(1), null, new Int32Array(1), 1, 1),
    ctx,
  );
  refused(lib, s.sdt_train_step(d(), d(), null, f(F), f(K), 1), ctx);
  refused(lib, s.sdt_gradients(f(I * F), f(I), f(L * K), d(), d(), d(), null, f(F), f(K), 1), ctx);
  refused(lib, s.sdt_forward(null, null, null, null, null, null, null, f(F), 1), ctx);
  refused(lib, s.sdt_evaluate(d(), d(), null, null, null, f(F), new Int32Array(1), 1), ctx);
}

/** Checks on a real tree; afterwards the tree must still train. */
function checkWithTree(lib: NativeLibrary): void {
  const s = lib.symbols;
  const out = new BigUint64Array(1);
  unwrap(lib, create(lib, out, {}), "sdt_create");
  const c = Deno.UnsafePointer.create(out[0]);
  assert.ok(c !== null);
  try {
    const f = (n: number) => new Float32Array(n).fill(0.25);
    const d = () => new Float64Array(1);
    const x = f(5 * F), t = f(5 * K), labels = new Int32Array(5);
    refused(
      lib,
      s.sdt_set_params(c, null, f(I), f(L * K), 1),
      /sdt_set_params: argument w is null/,
    );
    refused(lib, s.sdt_set_params(c, f(I * F), f(I), f(L * K), NaN), /beta must be finite/);
    unwrap(lib, s.sdt_set_params(c, f(I * F), f(I), f(L * K), 1), "sdt_set_params");
    refused(lib, s.sdt_get_params(f(I * F), f(I), f(L * K), null, c), /argument beta is null/);
    refused(lib, s.sdt_set_penalty(c, f(I), null, 0n), /sdt_set_penalty: argument den is null/);
    refused(lib, s.sdt_set_penalty(c, f(I), f(I), -1n), /steps must be >= 0, got -1/);
    refused(lib, s.sdt_get_penalty(f(I), f(I), null, c), /argument steps is null/);
    refused(lib, s.sdt_set_learning_rate(c, Infinity), /learning_rate must be finite, got inf/);
    refused(lib, s.sdt_set_learning_rate(c, -1), /learning_rate must be >= 0, got -1/);
    refused(lib, s.sdt_set_beta(c, NaN), /sdt_set_beta: beta must be finite, got nan/);
    refused(lib, s.sdt_get_adam(f(P), null, new BigInt64Array(1), c), /argument v is null/);
    refused(lib, s.sdt_set_adam(c, f(P), f(P), -2n), /sdt_set_adam: t must be >= 0, got -2/);

    const order = new Int32Array([0, 1, 2]);
    refused(
      lib,
      s.sdt_train_samples(d(), d(), new Int32Array(1), c, order, 3, 2),
      /No training set is resident/,
      Status.STATE,
    );
    refused(lib, s.sdt_set_train_data(c, x, t, 0), /sdt_set_train_data: n must be >= 1, got 0/);
    refused(lib, s.sdt_set_train_data(c, x, t, -5), /n must be >= 1, got -5/);
    refused(lib, s.sdt_set_train_data(c, null, t, 5), /sdt_set_train_data: argument x is null/);
    unwrap(lib, s.sdt_set_train_data(c, x, t, 5), "sdt_set_train_data");
    const samples = (o: Int32Array | null, n: number, batch: number) =>
      s.sdt_train_samples(d(), d(), new Int32Array(1), c, o, n, batch);
    refused(lib, samples(order, -1, 2), /n \(the order's length\) must be >= 0, got -1/);
    refused(lib, samples(order, 3, 0), /sdt_train_samples: batch_size must be >= 1, got 0/);
    refused(lib, samples(null, 3, 2), /sdt_train_samples: argument order is null/);
    refused(lib, samples(new Int32Array([0, 5]), 2, 2), /Row index 5 at position 1 .* 5 resident/);
    refused(lib, samples(new Int32Array([-1]), 1, 2), /Row index -1 at position 0/);
    refused(
      lib,
      s.sdt_train_samples(null, d(), new Int32Array(1), c, order, 3, 2),
      /argument loss_sum is null/,
    );
    unwrap(lib, samples(null, 0, 2), "an empty order"); // nothing to do, and no order needed

    refused(lib, s.sdt_train_step(d(), d(), c, x, t, 0), /sdt_train_step: batch must be >= 1/);
    refused(lib, s.sdt_train_step(d(), d(), c, x, null, 5), /argument targets is null/);
    refused(lib, s.sdt_train_step(null, d(), c, x, t, 5), /sdt_train_step: argument loss is null/);
    const grads = (dbeta: Float64Array | null, batch: number) =>
      s.sdt_gradients(f(I * F), f(I), f(L * K), dbeta, d(), d(), c, x, t, batch);
    refused(lib, grads(null, 5), /sdt_gradients: argument dbeta is null/);
    refused(lib, grads(d(), -4), /sdt_gradients: batch must be >= 1, got -4/);
    refused(lib, s.sdt_forward(null, null, null, null, null, null, c, x, -1), /n must be >= 0/);
    refused(
      lib,
      s.sdt_forward(null, null, null, null, null, null, c, null, 5),
      /sdt_forward: argument x is null/,
    );
    unwrap(lib, s.sdt_forward(null, null, null, null, null, null, c, null, 0), "zero rows");
    refused(lib, s.sdt_evaluate(d(), d(), null, null, c, x, labels, 0), /n must be >= 1, got 0/);
    refused(lib, s.sdt_evaluate(d(), d(), null, null, c, x, null, 5), /argument labels is null/);

    // The tree is intact: it trains, and its step count says exactly one step was taken.
    const loss = d(), penalty = d();
    unwrap(lib, s.sdt_train_step(loss, penalty, c, x, t, 5), "sdt_train_step");
    assert.ok(Number.isFinite(loss[0]) && Number.isFinite(penalty[0]));
    const steps = new BigInt64Array(1);
    unwrap(lib, s.sdt_get_penalty(f(I), f(I), steps, c), "sdt_get_penalty");
    assert.equal(steps[0], 1n);
  } finally {
    s.sdt_destroy(c);
  }
}

const cpu = loadLibrary("cpu", (await findLibrary("sdt_cpu")).path);

Deno.test("native arguments: the CPU library refuses bad sizes and null pointers without a tree", () => {
  checkWithoutTree(cpu);
});

Deno.test("native arguments: the CPU library refuses bad arguments to a tree, which still trains", () => {
  checkWithTree(cpu);
});

async function cudaLibrary(): Promise<NativeLibrary | null> {
  try {
    return loadLibrary("cuda", (await findLibrary("sdt_cuda")).path);
  } catch (e) {
    if (e instanceof BuildError && e.kind === "no-compiler") return null;
    throw e;
  }
}
const cuda = await cudaLibrary();
const gpu = cuda !== null && probe(cuda).ok;

Deno.test({
  name: "native arguments: the CUDA library makes the same checks before it asks for a GPU",
  ignore: cuda === null,
  fn: () => checkWithoutTree(cuda!),
});

Deno.test({
  name: "native arguments: the CUDA library refuses bad arguments to a tree, which still trains",
  ignore: !gpu,
  fn: () => checkWithTree(cuda!),
});
