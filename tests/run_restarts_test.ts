/**
 * Candidate starts (lib/run/restarts.ts): every candidate trains, the first of the best goes on,
 * the events say when each starts and how it ended, and a resumed tally goes on where it was.
 */
import assert from "node:assert/strict";
import { type CandidateEvent, type CandidateResult, Restarts } from "../lib/run/restarts.ts";
import { driveStepsSync, type StepLoop } from "../lib/run/steps.ts";

/** Candidate `k` trains one batch and reaches accuracy `accs[k]`; it keeps its name. */
function candidates(accs: number[], trained: number[]) {
  return function* (k: number): StepLoop<string, CandidateResult<string>> {
    trained.push(k);
    yield null;
    yield `state of ${k}`;
    return { acc: accs[k], keep: () => `candidate ${k}` };
  };
}

Deno.test("Restarts.run() trains every candidate and keeps the first of the best", () => {
  const restarts = new Restarts<string>(4);
  const events: CandidateEvent[] = [];
  const trained: number[] = [];
  const states: string[] = [];
  const winner = driveStepsSync(
    restarts.run(0, candidates([0.5, 0.8, 0.8, 0.7], trained), (e) => events.push(e)),
    { onState: (s) => void states.push(s) },
  );
  assert.equal(winner, "candidate 1");
  assert.deepEqual(trained, [0, 1, 2, 3]);
  assert.deepEqual(restarts.candidates, [0.5, 0.8, 0.8, 0.7]);
  assert.equal(restarts.bestAcc, 0.8);
  assert.deepEqual(states, ["state of 0", "state of 1", "state of 2", "state of 3"]);
  assert.deepEqual(events.slice(0, 2), [
    { index: 0, count: 4 },
    { index: 0, count: 4, valAccuracy: 0.5 },
  ]);
  assert.equal(events.length, 8);
});

Deno.test("Restarts resumed in the middle goes on from the saved tally and winner", () => {
  const restarts = new Restarts<string>(3, { candidates: [0.6, 0.9], winner: "candidate 1" });
  const trained: number[] = [];
  const winner = driveStepsSync(restarts.run(2, candidates([0, 0, 0.85], trained)));
  assert.deepEqual(trained, [2]);
  assert.equal(winner, "candidate 1", "0.85 does not beat the saved 0.9");
  assert.deepEqual(restarts.candidates, [0.6, 0.9, 0.85]);
  assert.equal(new Restarts<string>(2).bestAcc, null);
});
