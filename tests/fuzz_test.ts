/**
 * Property-based tests (fast-check, seeded): valid IDX files, CSV files, tree checkpoints,
 * training states and teachers, mutated at random (truncated, bytes flipped or inserted,
 * header numbers changed, JSON header values replaced), are either read with consistent shapes
 * or refused with softtree's own error (`DatasetError`, `CheckpointError`) naming the file:
 * never another exception, and quickly.
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { gzipSync } from "node:zlib";
import { CheckpointError, DatasetError } from "../lib/errors.ts";
import { IDX_TYPES, loadIdxDir, parseCsvDataset, parseIdx } from "../lib/data/mod.ts";
import type { Splits } from "../lib/data/types.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../lib/io/checkpoint.ts";
import { decodeTreeState, encodeTreeState } from "../lib/train/state.ts";
import type { FitState } from "../lib/train/fit.ts";
import { adamSize } from "../lib/backends/types.ts";
import { initParams } from "../lib/tree/params.ts";
import { DEFAULT_TREE_CONFIG, type TreeConfig, treeSizes } from "../lib/tree/types.ts";
import { ensureTf } from "../lib/backends/tf_setup.ts";
import { createTeacher, loadTeacher, saveTeacher, teacherLogits } from "../lib/teacher/mod.ts";
import { Rng } from "../lib/util/random.ts";

/** The values an arbitrary generates. */
type Infer<A> = A extends fc.Arbitrary<infer T> ? T : never;

/** Few runs, a fixed seed: each property takes a few seconds at most. */
const RUNS = { seed: 20261129, numRuns: 150 };

// ------------------------------------------------------------------ mutations

/** One change to a file's bytes. */
type Mutation =
  | { kind: "truncate"; at: number }
  | { kind: "flip"; at: number; bits: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; n: number }
  | { kind: "u32"; at: number; value: number; big: boolean };

/** Header numbers worth trying: edges, powers of two, and any. */
const headerNumber = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 255, 256, 0x7fffffff, 0x80000000, 0xffffffff, 60000, 784),
  fc.nat({ max: 0xffffffff }),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    bits: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    n: fc.integer({ min: 1, max: 16 }),
  }),
  // A number of the header (the first 32 bytes), big- or little-endian.
  fc.record({
    kind: fc.constant("u32" as const),
    at: fc.nat({ max: 7 }),
    value: headerNumber,
    big: fc.boolean(),
  }),
);

function mutate(bytes: Uint8Array, changes: Mutation[]): Uint8Array {
  let b = bytes.slice();
  for (const m of changes) {
    const at = b.length ? m.at % (b.length + 1) : 0;
    if (m.kind === "truncate") b = b.slice(0, at);
    else if (m.kind === "flip" && b.length) b[at % b.length] ^= m.bits;
    else if (m.kind === "insert") {
      b = new Uint8Array([...b.slice(0, at), ...m.bytes, ...b.slice(at)]);
    } else if (m.kind === "delete") b = new Uint8Array([...b.slice(0, at), ...b.slice(at + m.n)]);
    else if (m.kind === "u32" && b.length >= 4 * m.at + 4) {
      new DataView(b.buffer).setUint32(4 * m.at, m.value, !m.big);
    }
  }
  return b;
}

const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

/** A value to put into a JSON header in place of another. */
const jsonValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(-1, 0, 0.5, 1, 2 ** 31, 2 ** 53, 1e300, -1e300, "", null, [], {}),
);

/** Every path to a value inside a JSON value (objects' keys and arrays' indices). */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(at);
  if (Array.isArray(v)) v.slice(0, 20).forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  }
  return out;
}

/** `value` with the thing at `path` replaced (or deleted when `replacement` is undefined). */
function replaceAt(value: unknown, path: (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const copy = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  const [k, ...rest] = path;
  const c = copy as Record<string | number, unknown>;
  if (rest.length === 0 && replacement === undefined) delete c[k];
  else c[k] = replaceAt(c[k], rest, replacement);
  return copy;
}

/** A JSON change: which path (an index into `paths`) and what goes there. */
const jsonChange = fc.record({
  path: fc.nat(),
  value: fc.option(jsonValue, { nil: undefined, freq: 5 }),
});

function changeJson(v: unknown, change: { path: number; value: unknown }): unknown {
  const all = paths(v);
  return replaceAt(v, all[change.path % all.length], change.value);
}

/** Softtree's own error, of the right kind, naming the file. */
function isOwnError(
  error: unknown,
  kind: typeof DatasetError | typeof CheckpointError,
  name: string,
) {
  if (!(error instanceof kind)) {
    throw new assert.AssertionError({
      message: `expected a ${kind.name} naming "${name}", got ${
        error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error)
      }`,
    });
  }
  assert.ok(error.message.includes(name), `the message names "${name}": ${error.message}`);
  return true;
}

// ------------------------------------------------------------------ IDX

/** A valid IDX file: `dims` big-endian, uint8 data. */
function idxBytes(type: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

const BYTES_OF: Record<string, number> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  int32: 4,
  float32: 4,
  float64: 8,
};

const images = idxBytes(0x08, [6, 4, 4], Uint8Array.from({ length: 96 }, (_, i) => (i * 37) % 256));
const labels = idxBytes(0x08, [6], new Uint8Array([0, 1, 2, 1, 0, 2]));
const floats = idxBytes(0x0d, [3, 2], new Uint8Array(24).fill(0x3f));

Deno.test("fuzz: a mutated IDX file (raw or gzipped) is read with consistent shapes or refused naming it", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(images, labels, floats),
      mutations,
      fc.boolean(),
      (valid, changes, gz) => {
        const raw = mutate(valid, changes);
        // Gzipped: mutate the compressed bytes too, half of the time.
        const bytes = gz ? mutate(new Uint8Array(gzipSync(raw)), changes.slice(0, 1)) : raw;
        const name = "fuzz/train-images-idx3-ubyte";
        try {
          const r = parseIdx(bytes, name);
          assert.ok(Object.values(IDX_TYPES).includes(r.type));
          assert.equal(r.data.length, r.shape.reduce((a, b) => a * b, 1));
          assert.equal(r.data.BYTES_PER_ELEMENT, BYTES_OF[r.type]);
        } catch (error) {
          return isOwnError(error, DatasetError, name);
        }
        return true;
      },
    ),
    { ...RUNS, numRuns: 400 },
  );
});

/** Checks the splits a loader returned: shapes, labels within the classes. */
function checkSplits(s: Splits): void {
  for (const ds of [s.train, s.val, s.test]) {
    assert.equal(ds.x.length, ds.n * ds.features);
    assert.equal(ds.y.length, ds.n);
    assert.ok(ds.classes >= 1);
    for (const y of ds.y) assert.ok(y >= 0 && y < ds.classes, `label ${y} of ${ds.classes}`);
    assert.equal(ds.classNames?.length ?? ds.classes, ds.classes);
  }
}

Deno.test("fuzz: an IDX folder with one mutated file loads consistent splits or names the file", async () => {
  const dir = await Deno.makeTempDir();
  const valid: Record<string, Uint8Array> = {
    "train-images-idx3-ubyte": images,
    "train-labels-idx1-ubyte": labels,
    "t10k-images-idx3-ubyte": idxBytes(0x08, [2, 4, 4], new Uint8Array(32).fill(9)),
    "t10k-labels-idx1-ubyte": idxBytes(0x08, [2], new Uint8Array([2, 0])),
  };
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...Object.keys(valid)),
      mutations,
      fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
      async (file, changes, classes) => {
        for (const [name, bytes] of Object.entries(valid)) {
          await Deno.writeFile(`${dir}/${name}`, name === file ? mutate(bytes, changes) : bytes);
        }
        try {
          checkSplits(await loadIdxDir(dir, { classes }));
        } catch (error) {
          if (error instanceof RangeError && /validation size/.test(error.message)) return true;
          return isOwnError(error, DatasetError, dir);
        }
        return true;
      },
    ),
    { ...RUNS, numRuns: 120 },
  );
  await Deno.remove(dir, { recursive: true });
});

// ------------------------------------------------------------------ CSV

const CSV = [
  "sepal,petal,width,label",
  ...Array.from(
    { length: 24 },
    (_, i) => `${(i * 0.37).toFixed(2)},${i % 7},${-i},${["a", "b", "c"][i % 3]}`,
  ),
].join("\n") + "\n";
const CSV_NUMERIC = CSV.replace(/,a$/gm, ",0").replace(/,b$/gm, ",1").replace(/,c$/gm, ",2");

/** One change to CSV text, made of the characters that matter to a CSV reader. */
const textChange = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.string({
      unit: fc.constantFrom(
        ",",
        '"',
        "\n",
        "\r",
        "\t",
        " ",
        "a",
        "1",
        ".",
        "-",
        "e",
        "9",
        "\ufeff",
      ),
      maxLength: 6,
    }),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    n: fc.integer({ min: 1, max: 12 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("cell" as const),
    at: fc.nat(),
    text: fc.constantFrom(
      "1e400",
      "-1e999",
      "NaN",
      "Infinity",
      "99999999999",
      "4294967296",
      '""',
      "-0",
    ),
  }),
);

function changeText(text: string, changes: Infer<typeof textChange>[]): string {
  for (const c of changes) {
    const at = c.at % (text.length + 1);
    if (c.kind === "insert") text = text.slice(0, at) + c.text + text.slice(at);
    else if (c.kind === "delete") text = text.slice(0, at) + text.slice(at + c.n);
    else if (c.kind === "truncate") text = text.slice(0, at);
    else {
      // Replace the cell around `at` (up to the next comma or line end).
      const end = text.slice(at).search(/[,\n]/);
      text = text.slice(0, at) + c.text + (end < 0 ? "" : text.slice(at + end));
    }
  }
  return text;
}

Deno.test("fuzz: a mutated CSV file is read into consistent splits or refused naming it", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(CSV, CSV_NUMERIC),
      fc.array(textChange, { minLength: 1, maxLength: 5 }),
      fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
      fc.constantFrom<string | number | undefined>(undefined, "label", 0, -1),
      (valid, changes, classes, labelColumn) => {
        const name = "fuzz/iris.csv";
        try {
          const s = parseCsvDataset(changeText(valid, changes), name, { classes, labelColumn });
          checkSplits(s);
          for (const ds of [s.train, s.val, s.test]) {
            assert.ok(ds.x.every(Number.isFinite), "every feature is a finite number");
          }
        } catch (error) {
          return isOwnError(error, DatasetError, name);
        }
        return true;
      },
    ),
    { ...RUNS, numRuns: 500 },
  );
});

// ------------------------------------------------------------------ tree checkpoints and states

const cfg: TreeConfig = { ...DEFAULT_TREE_CONFIG, depth: 2, features: 5, classes: 3 };
const data = { source: "fuzz", imageShape: null, featureNames: null, classNames: ["a", "b", "c"] };
const checkpoint = encodeCheckpoint(cfg, initParams(cfg, 1), data, { seed: 1 });

/** The JSON header and float tail of a container (checkpoint or state). */
function split(bytes: Uint8Array): { header: unknown; tail: Uint8Array } {
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len)));
  return { header, tail: bytes.subarray(Math.ceil((12 + len) / 4) * 4) };
}

/** A container with `header` and the float tail, lengths and padding recomputed. */
function join(magic: Uint8Array, header: unknown, tail: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((12 + json.length) / 4) * 4;
  const out = new Uint8Array(start + tail.length);
  out.set(magic.subarray(0, 8));
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(tail, start);
  return out;
}

/** Bytes mutated as bytes, or through their JSON header. */
const containerChange = fc.oneof(
  fc.record({ bytes: mutations }),
  fc.record({ json: fc.array(jsonChange, { minLength: 1, maxLength: 3 }) }),
);

function changeContainer(valid: Uint8Array, change: Infer<typeof containerChange>): Uint8Array {
  if ("bytes" in change) return mutate(valid, change.bytes);
  const { header, tail } = split(valid);
  return join(valid, change.json.reduce(changeJson, header), tail);
}

Deno.test("fuzz: a mutated tree checkpoint is loaded with consistent shapes or refused naming it", () => {
  fc.assert(
    fc.property(containerChange, (change) => {
      const name = "fuzz/tree.sdt";
      try {
        const c = decodeCheckpoint(changeContainer(checkpoint, change), name);
        const { inner, leaves } = treeSizes(c.config.depth);
        assert.equal(c.params.w.length, inner * c.config.features);
        assert.equal(c.params.b.length, inner);
        assert.equal(c.params.phi.length, leaves * c.config.classes);
        assert.ok(Number.isFinite(c.params.beta));
        assert.equal(c.data.classNames.length, c.config.classes);
        assert.equal(typeof c.meta, "object");
      } catch (error) {
        return isOwnError(error, CheckpointError, name);
      }
      return true;
    }),
    { ...RUNS, numRuns: 400 },
  );
});

/** A small valid training state. */
function validState(): Uint8Array {
  const { inner } = treeSizes(cfg.depth);
  const params = initParams(cfg, 1);
  const penalty = { num: new Float32Array(inner), den: new Float32Array(inner), steps: 3 };
  const record = {
    epoch: 1,
    trainLoss: 1,
    penalty: 0.5,
    trainAccuracy: 0.5,
    valAccuracy: 0.5,
    valAccuracyMixture: 0.5,
    learningRate: 0.005,
    seconds: 1,
    samplesPerSecond: 10,
  };
  const fit: FitState = {
    plan: {
      epochs: 4,
      batchSize: 2,
      patience: 0,
      seed: 0,
      schedule: "constant",
      betaTo: null,
      restarts: 2,
      restartEpochs: 1,
      chunk: 4,
      trainEvalSamples: 10,
      trainSamples: 10,
      valSamples: 5,
    },
    reason: "interrupted",
    candidate: 1,
    epoch: 2,
    done: 4,
    rng: 12345,
    partial: { lossSum: 1, penaltySum: 1, penaltyBatches: 2, seconds: 0.1 },
    samplesSeen: 14,
    trainSeconds: 1,
    sinceBest: 0,
    seconds: 2,
    history: [record],
    best: { acc: 0.5, epoch: 1, params, penalty },
    engine: {
      params,
      adam: { m: new Float32Array(adamSize(cfg)), v: new Float32Array(adamSize(cfg)), step: 7 },
      penalty,
    },
    candidates: [0.4],
    winner: {
      index: 0,
      best: { acc: 0.4, epoch: 1, params, penalty },
      last: { params, penalty },
      history: [record],
      rng: 99,
      samplesSeen: 10,
      trainSeconds: 1,
    },
    fresh: penalty,
  };
  return encodeTreeState({ config: cfg, data, meta: { command: "train" }, fit });
}

Deno.test("fuzz: a mutated training state is read whole or refused naming it", () => {
  const valid = validState();
  decodeTreeState(valid, "ok"); // the unmutated state reads
  fc.assert(
    fc.property(containerChange, (change) => {
      const name = "fuzz/training-state.bin";
      try {
        const s = decodeTreeState(changeContainer(valid, change), name);
        const { inner } = treeSizes(s.config.depth);
        assert.equal(s.fit.engine?.penalty.num.length ?? inner, inner);
        assert.equal(s.fit.engine?.adam.m.length ?? adamSize(s.config), adamSize(s.config));
        assert.equal(s.fit.history.length, s.fit.epoch - 1);
      } catch (error) {
        return isOwnError(error, CheckpointError, name);
      }
      return true;
    }),
    { ...RUNS, numRuns: 300 },
  );
});

// ------------------------------------------------------------------ teachers

Deno.test("fuzz: a mutated teacher (model.json or weights.bin) loads and runs, or is refused naming the file", async () => {
  await ensureTf();
  const dir = await Deno.makeTempDir();
  const t = createTeacher([8, 8, 1], 3, { filters: [2, 3], dense: 4, seed: 1 });
  await saveTeacher(t, dir);
  t.dispose();
  const model = await Deno.readTextFile(`${dir}/model.json`);
  const weights = await Deno.readFile(`${dir}/weights.bin`);
  const x = Float32Array.from({ length: 2 * 64 }, (_, i) => new Rng(i).next());
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.record({ json: fc.array(jsonChange, { minLength: 1, maxLength: 3 }) }),
        fc.record({ text: fc.array(textChange, { minLength: 1, maxLength: 3 }) }),
        fc.record({ weights: mutations }),
      ),
      async (change) => {
        let file = `${dir}/model.json`;
        if ("json" in change) {
          const changed = change.json.reduce(changeJson, JSON.parse(model) as unknown);
          await Deno.writeTextFile(file, JSON.stringify(changed) ?? "");
          await Deno.writeFile(`${dir}/weights.bin`, weights);
        } else if ("text" in change) {
          await Deno.writeTextFile(file, changeText(model, change.text));
          await Deno.writeFile(`${dir}/weights.bin`, weights);
        } else {
          file = `${dir}/weights.bin`;
          await Deno.writeTextFile(`${dir}/model.json`, model);
          await Deno.writeFile(file, mutate(weights, change.weights));
        }
        try {
          const loaded = await loadTeacher(dir);
          try {
            const logits = await teacherLogits(loaded, x);
            assert.equal(logits.length, 2 * loaded.config.classes);
          } finally {
            loaded.dispose();
          }
        } catch (error) {
          // A problem in a file the model.json points to is named by that file.
          if (error instanceof CheckpointError && error.message.includes(dir)) return true;
          return isOwnError(error, CheckpointError, file);
        }
        return true;
      },
    ),
    { ...RUNS, numRuns: 150 },
  );
  await Deno.remove(dir, { recursive: true });
});
