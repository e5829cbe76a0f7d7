/**
 * The driver of training loops (lib/run/steps.ts): states reach `onState` in order and are
 * awaited, a stop request is answered at batch boundaries only, a timer gets to run between
 * batches of a loop that never awaits, and the synchronous driver refuses an asynchronous save.
 */
import assert from "node:assert/strict";
import { driveSteps, driveStepsSync, type StepLoop } from "../lib/run/steps.ts";

/** A loop of `batches` busy batches that saves a state after each, stopping when told to. */
function* busyLoop(batches: number, log: string[]): StepLoop<string, string> {
  for (let b = 1; b <= batches; b++) {
    const until = performance.now() + 20;
    while (performance.now() < until) {
      // a batch's work, never reaching the event loop
    }
    if (yield null) {
      yield `stopped after ${b}`;
      return "stopped";
    }
    yield `state ${b}`;
    log.push(`batch ${b}`);
  }
  return "done";
}

Deno.test("driveSteps() hands every state to onState in order, awaiting each, and returns the result", async () => {
  const log: string[] = [];
  const result = await driveSteps(busyLoop(3, log), {
    onState: async (s) => {
      await new Promise((r) => setTimeout(r, 1));
      log.push(s);
    },
  });
  assert.equal(result, "done");
  assert.deepEqual(log, ["state 1", "batch 1", "state 2", "batch 2", "state 3", "batch 3"]);
});

Deno.test("driveSteps() lets a timer abort the signal between batches, and the loop is told at the next boundary", async () => {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort("SIGINT"), 50);
  const saved: string[] = [];
  const result = await driveSteps(busyLoop(100, []), {
    signal: stop.signal,
    onState: (s) => void saved.push(s),
  });
  clearTimeout(timer);
  assert.equal(result, "stopped");
  const last = saved[saved.length - 1];
  assert.match(last, /^stopped after \d+$/);
  const batches = Number(last.split(" ").pop());
  assert.ok(batches >= 2 && batches < 100, `stopped after ${batches} batches`);
  assert.equal(saved.length, batches, "one state per finished batch, then the stop's");
});

Deno.test("driveStepsSync() runs a loop to its end and answers an aborted signal at the first boundary", () => {
  const saved: string[] = [];
  assert.equal(driveStepsSync(busyLoop(2, []), { onState: (s) => void saved.push(s) }), "done");
  assert.deepEqual(saved, ["state 1", "state 2"]);
  const stop = new AbortController();
  stop.abort("SIGTERM");
  const stopped: string[] = [];
  const r = driveStepsSync(busyLoop(5, []), {
    signal: stop.signal,
    onState: (s) => void stopped.push(s),
  });
  assert.equal(r, "stopped");
  assert.deepEqual(stopped, ["stopped after 1"]);
});

Deno.test("driveStepsSync() refuses an onState that returns a promise, naming the asynchronous twin", () => {
  assert.throws(
    () => driveStepsSync(busyLoop(1, []), { onState: async () => {} }, ["fit()", "fitAsync()"]),
    (e: unknown) =>
      e instanceof TypeError &&
      /^fit\(\) got a promise from onState: use fitAsync\(\)/.test(e.message),
  );
});
