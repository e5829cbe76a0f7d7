/**
 * augmentImages(): moved copies of MNIST digits that differ from the originals but are
 * still the same digits (the same labels, about the same ink, moved by at most what was
 * asked), reproducible from the seed.
 */
import assert from "node:assert/strict";
import { augmentImages, concatDatasets } from "../lib/data/augment.ts";
import { loadData } from "../lib/data/mod.ts";
import type { Dataset } from "../lib/data/types.ts";
import { separable } from "./_tiny.ts";

const { train } = await loadData("mnist", { limit: { train: 100, val: 1, test: 1 } });
const F = train.features;

const image = (ds: Dataset, i: number) => ds.x.subarray(i * F, (i + 1) * F);
const mass = (px: Float32Array) => px.reduce((a, b) => a + b, 0);
/** The centre of the ink, `[x, y]` in pixels. */
function centre(px: Float32Array): [number, number] {
  let sx = 0, sy = 0;
  for (let i = 0; i < px.length; i++) {
    [sx, sy] = [sx + px[i] * (i % 28), sy + px[i] * Math.floor(i / 28)];
  }
  return [sx / mass(px), sy / mass(px)];
}
const maxDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

Deno.test("augmentImages() makes N moved copies of every image, labels kept, row c*N+i from image i", () => {
  const more = augmentImages(train, { copies: 2, seed: 1 });
  assert.equal(more.n, 2 * train.n);
  assert.equal(more.x.length, 2 * train.n * F);
  assert.equal(more.features, F);
  assert.deepEqual(more.imageShape, [28, 28, 1]);
  assert.match(more.source, /augmented x2/);
  for (let row = 0; row < more.n; row++) {
    const i = row % train.n;
    assert.equal(more.y[row], train.y[i]);
    const copy = image(more, row), original = image(train, i);
    assert.ok(maxDiff(copy, original) > 0.2, `copy ${row} differs from image ${i}`);
    const ratio = mass(copy) / mass(original);
    // A scale change of up to 10% changes the area, so the ink, by up to about 21%.
    assert.ok(ratio > 0.78 && ratio < 1.23, `copy ${row} keeps its ink: ratio ${ratio}`);
    const lo = Math.min(...copy), hi = Math.max(...copy);
    assert.ok(lo >= 0 && hi <= 1 + 1e-6, `pixels stay in [0, 1]: ${lo}..${hi}`);
  }
  // The two copies of an image are moved differently.
  assert.ok(maxDiff(image(more, 0), image(more, train.n)) > 0.2);
});

Deno.test("augmentImages() is reproducible from its seed and differs between seeds", () => {
  const a = augmentImages(train, { copies: 1, seed: 5 });
  assert.deepEqual(augmentImages(train, { copies: 1, seed: 5 }).x, a.x);
  assert.notDeepEqual(augmentImages(train, { copies: 1, seed: 6 }).x, a.x);
});

Deno.test("augmentImages() with no movement copies the images exactly", () => {
  const same = augmentImages(train, { copies: 2, maxShift: 0, maxRotate: 0, maxScale: 0 });
  for (let row = 0; row < same.n; row++) {
    assert.ok(maxDiff(image(same, row), image(train, row % train.n)) < 1e-6, `row ${row}`);
  }
});

Deno.test("shifts move the ink by at most maxShift, rotations turn it about the centre; both keep it", () => {
  const shifted = augmentImages(train, { copies: 1, maxRotate: 0, maxScale: 0, maxShift: 2 });
  const turned = augmentImages(train, { copies: 1, maxShift: 0, maxScale: 0, maxRotate: 15 });
  let moved = 0, turnedVisibly = 0;
  for (let i = 0; i < train.n; i++) {
    const [x0, y0] = centre(image(train, i));
    const [x1, y1] = centre(image(shifted, i));
    assert.ok(Math.abs(x1 - x0) <= 2.05 && Math.abs(y1 - y0) <= 2.05, `image ${i} moved too far`);
    if (Math.hypot(x1 - x0, y1 - y0) > 0.5) moved++;
    // Ink can only be lost at the border, which MNIST's digits rarely reach.
    const shiftRatio = mass(image(shifted, i)) / mass(image(train, i));
    assert.ok(shiftRatio > 0.95 && shiftRatio < 1 + 1e-4, `image ${i}: ${shiftRatio}`);
    const turnRatio = mass(image(turned, i)) / mass(image(train, i));
    assert.ok(Math.abs(turnRatio - 1) < 0.03, `image ${i} turned: ${turnRatio}`);
    // A turn about the image's centre keeps the ink's distance from it, near enough.
    const r0 = Math.hypot(x0 - 13.5, y0 - 13.5);
    const [x2, y2] = centre(image(turned, i));
    assert.ok(
      Math.abs(Math.hypot(x2 - 13.5, y2 - 13.5) - r0) < 0.3,
      `image ${i} turned about the centre`,
    );
    if (maxDiff(image(turned, i), image(train, i)) > 0.2) turnedVisibly++;
  }
  assert.ok(moved > train.n / 2, `most images move visibly: ${moved} of ${train.n}`);
  assert.ok(turnedVisibly > train.n / 2, `most turn visibly: ${turnedVisibly} of ${train.n}`);
});

Deno.test("elastic distortions bend the strokes locally and keep the ink; alpha 0 is the plain warp", () => {
  const still = { copies: 1, maxShift: 0, maxRotate: 0, maxScale: 0, seed: 3 };
  const bent = augmentImages(train, { ...still, elastic: 16 });
  assert.deepEqual(augmentImages(train, { ...still, elastic: 0 }).x, augmentImages(train, still).x);
  let changed = 0;
  for (let i = 0; i < train.n; i++) {
    const a = image(bent, i), o = image(train, i);
    if (maxDiff(a, o) > 0.2) changed++;
    // Local stretching and squeezing change the ink, within limits.
    const ratio = mass(a) / mass(o);
    assert.ok(ratio > 0.75 && ratio < 1.25, `image ${i} keeps most of its ink: ${ratio}`);
    // A displacement field smoothed over 4 pixels moves the ink's centre a few pixels at most.
    const [x0, y0] = centre(o), [x1, y1] = centre(a);
    assert.ok(Math.hypot(x1 - x0, y1 - y0) < 3, `image ${i} stays in place`);
  }
  assert.ok(changed > 0.9 * train.n, `most images bend visibly: ${changed} of ${train.n}`);
  // The fields differ between images and between seeds.
  assert.notDeepEqual(augmentImages(train, { ...still, seed: 4, elastic: 16 }).x, bent.x);
  assert.throws(() => augmentImages(train, { elastic: -1 }), RangeError);
  assert.throws(() => augmentImages(train, { elastic: 5, elasticSigma: 0 }), RangeError);
});

Deno.test("recenter puts every copy's centre of mass on the original's", () => {
  const moved = augmentImages(train, {
    copies: 2,
    seed: 2,
    maxShift: 2,
    elastic: 16,
    recenter: true,
  });
  const loose = augmentImages(train, { copies: 2, seed: 2, maxShift: 2, elastic: 16 });
  let far = 0, sum = 0;
  for (let row = 0; row < moved.n; row++) {
    const [x0, y0] = centre(image(train, row % train.n));
    const [x1, y1] = centre(image(moved, row));
    // Ink crossing the border can leave a copy a fraction of a pixel off.
    const off = Math.hypot(x1 - x0, y1 - y0);
    assert.ok(off < 0.5, `row ${row}: ${x1 - x0}, ${y1 - y0}`);
    sum += off;
    const [x2, y2] = centre(image(loose, row));
    if (Math.hypot(x2 - x0, y2 - y0) > 0.5) far++;
  }
  assert.ok(sum / moved.n < 0.05, `mean distance ${sum / moved.n}`);
  assert.ok(far > moved.n / 2, `without recenter most copies move: ${far} of ${moved.n}`);
});

Deno.test("augmentImages() tells its progress every 1,000 images and at the end", () => {
  const seen: number[] = [];
  augmentImages(train, { copies: 25, onProgress: (done, total) => seen.push(done, total) });
  assert.deepEqual(seen, [1000, 2500, 2000, 2500, 2500, 2500]);
});

Deno.test("augmentImages() refuses data that is not images and a bad number of copies", () => {
  assert.throws(
    () => augmentImages(separable(10)),
    (e: unknown) => e instanceof TypeError && /"separable": it is not image data/.test(e.message),
  );
  for (const copies of [0, -1, 1.5]) {
    assert.throws(() => augmentImages(train, { copies }), RangeError, `copies ${copies}`);
  }
  assert.equal(augmentImages(train).n, train.n, "one copy by default");
});

Deno.test("concatDatasets() puts the rows of the second after those of the first", () => {
  const a = separable(6, { seed: 1 }), b = separable(4, { seed: 2 });
  const both = concatDatasets(a, b);
  assert.equal(both.n, 10);
  assert.deepEqual(both.x, Float32Array.from([...a.x, ...b.x]));
  assert.deepEqual(both.y, Int32Array.from([...a.y, ...b.y]));
  assert.throws(() => concatDatasets(a, separable(2, { features: 3 })), RangeError);
});
