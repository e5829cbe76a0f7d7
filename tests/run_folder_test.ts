/**
 * The run folder and the state file (lib/run/folder.ts, lib/run/state_file.ts): one writer at a
 * time, an interrupted training refused unless resumed, dropped on retrain, a state file written
 * whole and read back validated, the resume line, and errors pointed at what the folder keeps.
 */
import assert from "node:assert/strict";
import {
  CheckpointError,
  RunDirectoryError,
  TrainingDivergedError,
  TrainingInterruptedError,
} from "../lib/errors.ts";
import {
  openRunFolder,
  resumeNote,
  type RunKind,
  type SavedProgress,
  stoppedIn,
} from "../lib/run/folder.ts";
import {
  checkSamePlan,
  loadState,
  removeState,
  saveState,
  type StateFile,
} from "../lib/run/state_file.ts";
import { divergedError, interruptedError } from "../lib/run/stop.ts";

interface Toy {
  epoch: number;
  done: number;
}

/** A state file of JSON, refusing anything but `{ epoch, done }`. */
const TOY: StateFile<Toy> = {
  name: "toy-state.json",
  what: "toy state",
  encode: (s) => new TextEncoder().encode(JSON.stringify(s)),
  decode: (bytes, path) => {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof v.epoch !== "number") throw new CheckpointError(`Cannot read toy state "${path}"`);
    return v;
  },
};

const progress = (s: Toy): SavedProgress => ({
  epoch: s.epoch,
  epochs: 10,
  done: s.done,
  batchSize: 4,
  trainSamples: 100,
});

const TOY_RUN: RunKind<Toy> = { names: ["toy folder", "toy run"], state: TOY, progress };
const open = (out: string, more: { resume?: boolean; retrain?: boolean } = {}) =>
  openRunFolder(out, TOY_RUN, { command: "toy", ...more });

Deno.test("saveState() writes a state that loadState() reads back; removeState() clears it, twice is fine", async () => {
  const dir = await Deno.makeTempDir();
  assert.equal(await loadState(dir, TOY), null);
  const file = await saveState(`${dir}/run`, TOY, { epoch: 3, done: 8 });
  assert.equal(file, `${dir}/run/toy-state.json`);
  assert.deepEqual(await loadState(`${dir}/run`, TOY), { epoch: 3, done: 8 });
  assert.deepEqual([...Deno.readDirSync(`${dir}/run`)].map((e) => e.name), ["toy-state.json"]);
  await removeState(`${dir}/run`, TOY);
  await removeState(`${dir}/run`, TOY);
  assert.equal(await loadState(`${dir}/run`, TOY), null);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadState() names the file when it is unreadable or invalid", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/toy-state.json`, "{}");
  await assert.rejects(() => loadState(dir, TOY), CheckpointError);
  await Deno.remove(`${dir}/toy-state.json`);
  await Deno.mkdir(`${dir}/toy-state.json`);
  await assert.rejects(
    () => loadState(dir, TOY),
    (e: unknown) => e instanceof CheckpointError && e.message.includes(`"${dir}/toy-state.json"`),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkSamePlan() names the first option a resume changes", () => {
  checkSamePlan({ epochs: 3, seed: 1 }, { epochs: 3, seed: 1 }, "run");
  assert.throws(
    () => checkSamePlan({ epochs: 3, seed: 1 }, { epochs: 3, seed: 2 }, "teacher training"),
    /^RangeError: Cannot resume: the saved teacher training has seed 1, this one asks for 2$/,
  );
});

Deno.test("openRunFolder() locks the folder: a second opener is refused until the first closes", async () => {
  const dir = await Deno.makeTempDir();
  const first = await open(dir);
  assert.equal(first.saved, null);
  await assert.rejects(() => open(dir), RunDirectoryError);
  await first.close();
  const again = await open(dir);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("openRunFolder() refuses an interrupted run unless resumed, and drops it on retrain", async () => {
  const dir = await Deno.makeTempDir();
  await saveState(dir, TOY, { epoch: 3, done: 8 });
  await assert.rejects(() => open(dir), (e: unknown) => {
    assert.ok(e instanceof RunDirectoryError);
    assert.equal(
      e.message,
      `The toy folder "${dir}" holds an interrupted toy run (at epoch 3 of 10, state saved in "${dir}/toy-state.json")`,
    );
    assert.match(e.hint, /--resume.*--retrain/);
    return true;
  });
  const resumed = await open(dir, { resume: true });
  assert.deepEqual(resumed.saved, { epoch: 3, done: 8 });
  await resumed.close();
  const fresh = await open(dir, { retrain: true });
  assert.equal(fresh.saved, null);
  assert.equal(await loadState(dir, TOY), null, "the dropped state is removed");
  await fresh.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("resumeNote() says where a resumed run goes on", () => {
  assert.equal(
    resumeNote("runs/x", progress({ epoch: 3, done: 8 })),
    "resuming runs/x in epoch 3 after batch 2 of 25",
  );
  assert.equal(
    resumeNote("runs/x", progress({ epoch: 4, done: 0 })),
    "resuming runs/x at the start of epoch 4",
  );
});

Deno.test("stoppedIn() points an interruption at its folder and a divergence at the kept weights", () => {
  const at = { epoch: 2, batch: 5, batches: 25 };
  const stop = interruptedError("Toy training", at, 0.5, "SIGINT");
  assert.equal(stop.message, "Toy training was interrupted at epoch 2 (batch 5 of 25)");
  assert.equal(stoppedIn(stop, "runs/x", "runs/x/tree.sdt"), stop);
  assert.equal(stop.out, "runs/x");
  const kept = stoppedIn(divergedError(at, NaN, 0.5, 0.1), "runs/x", "runs/x/tree.sdt");
  assert.ok(kept instanceof TrainingDivergedError);
  assert.equal(kept.details.keptIn, "runs/x/tree.sdt");
  assert.match(
    kept.message,
    /became NaN; the best weights so far \(val 50\.00%\) are kept in "runs\/x\/tree\.sdt"/,
  );
  const nothing = divergedError(at, Infinity, null, 0.1);
  assert.equal(stoppedIn(nothing, "runs/x", "runs/x/tree.sdt"), nothing, "no weights to keep");
  assert.equal(nothing.details.loss, "infinite");
  const other = new Error("disk full");
  assert.equal(stoppedIn(other, "runs/x", "f"), other);
  assert.ok(!(other instanceof TrainingInterruptedError));
});
