import assert from "node:assert/strict";
import { snapshotSchedule, TrainingAnimation } from "../lib/render/animation.ts";
import { MNIST_INFO, randomTree } from "./_render_fixtures.ts";
import { decisionPathGif } from "../lib/render/gif.ts";
import { Rng } from "../lib/util/random.ts";
import { gifFrames } from "./_images.ts";

Deno.test("TrainingAnimation writes one captioned frame per snapshot", async () => {
  const tree = randomTree(5, MNIST_INFO, 1);
  const anim = new TrainingAnimation(tree.config, MNIST_INFO, { width: 320 });
  const params = tree.params;
  for (const seen of [0, 2000, 4000]) {
    anim.addFrame(params, seen);
    params.w.fill(seen); // addFrame keeps a copy: training on does not change the snapshot
  }
  assert.equal(anim.frameCount, 3);
  assert.deepEqual(anim.samplesSeen, [0, 2000, 4000]);
  const gif = gifFrames(await anim.toGif());
  assert.equal(gif.frames, 3);
  assert.equal(gif.width, 320);
});

Deno.test("TrainingAnimation refuses parameters of another shape and an empty GIF", async () => {
  const anim = new TrainingAnimation({ depth: 2, features: 784, classes: 10 }, MNIST_INFO);
  assert.throws(() => anim.addFrame(randomTree(3).params, 0), RangeError);
  await assert.rejects(() => anim.toGif(), RangeError);
});

Deno.test("decisionPathGif() writes two frames: plain, then correlation", async () => {
  const rng = new Rng(3);
  const x = Float32Array.from({ length: 784 }, () => rng.next());
  const gif = gifFrames(await decisionPathGif(randomTree(3), { input: x, label: 1, width: 400 }));
  assert.equal(gif.frames, 2);
  assert.equal(gif.width, 400);
});

Deno.test("snapshotSchedule() snapshots every N samples early on and after each epoch", () => {
  const s = snapshotSchedule({ every: 1000, until: 3000 });
  const due = [640, 1280, 1920, 2560, 3200, 3840, 4480].filter((n) => s.atBatch(n));
  assert.deepEqual(due, [1280, 2560, 3200]);
  assert.equal(s.atEpoch(5000), true);
  assert.equal(s.atEpoch(5000), false, "never twice at the same count");
  const t = snapshotSchedule({ every: 500, until: 1000 });
  assert.equal(t.atBatch(1000), true);
  assert.equal(t.atEpoch(1000), false, "an epoch ending on a batch snapshot adds no frame");
  assert.throws(() => snapshotSchedule({ every: 0 }), RangeError);
});
