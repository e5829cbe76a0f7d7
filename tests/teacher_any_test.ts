import assert from "node:assert/strict";
import {
  looksLikeProbabilities,
  preprocessRows,
  resolveInput,
  resolvePreprocessing,
  type TeacherInputOptions,
} from "../lib/teacher/any.ts";

const rgb = { imageShape: [1, 2, 3] as [number, number, number], features: 6 };
// Two pixels, channels last: (0.1, 0.2, 0.3) and (0.4, 0.5, 0.6).
const px = new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);

function prep(shape: number[], options: TeacherInputOptions, data = rgb) {
  const input = resolveInput("m.onnx", shape, data, options.layout, options.channels);
  const p = resolvePreprocessing(options, input, data, "out");
  return Array.from(preprocessRows(px.subarray(0, data.features), data, p, input.modelChannels))
    .map((v) => Math.round(v * 1e5) / 1e5);
}

Deno.test("images are laid out NCHW or NHWC from the model's input shape", () => {
  assert.deepEqual(prep([3, 1, 2], {}), [0.1, 0.4, 0.2, 0.5, 0.3, 0.6]);
  assert.deepEqual(prep([1, 2, 3], {}), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
  assert.deepEqual(prep([6], {}), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
  assert.deepEqual(resolveInput("m", [-1, -1, 3], rgb).layout, "nhwc");
  assert.deepEqual(resolveInput("m", [3, -1, -1], rgb).layout, "nchw");
});

Deno.test("per-channel mean and std follow torchvision's Normalize after the scale", () => {
  assert.deepEqual(
    prep([3, 1, 2], { scale: 10, mean: [1, 2, 3], std: [1, 2, 0.5] }),
    [0, 3, 0, 1.5, 0, 6],
  );
  assert.throws(
    () => prep([3, 1, 2], { mean: [1, 2] }),
    /--teacher-mean "1,2": expected one value or 3 \(one per channel/,
  );
  assert.throws(() => prep([3, 1, 2], { std: [0] }), /--teacher-std "0": expected positive/);
});

Deno.test("--teacher-channels bgr reverses the colours; a gray model gets the luma of RGB data", () => {
  assert.deepEqual(prep([1, 2, 3], { channels: "bgr" }), [0.3, 0.2, 0.1, 0.6, 0.5, 0.4]);
  const luma = (r: number, g: number, b: number) =>
    Math.round((0.299 * r + 0.587 * g + 0.114 * b) * 1e5) / 1e5;
  assert.deepEqual(prep([1, 1, 2], {}), [luma(0.1, 0.2, 0.3), luma(0.4, 0.5, 0.6)]);
  assert.deepEqual(prep([2], { channels: "gray" }), [luma(0.1, 0.2, 0.3), luma(0.4, 0.5, 0.6)]);
});

Deno.test("gray data is copied into every channel of an RGB model", () => {
  const gray = { imageShape: [1, 2, 1] as [number, number, number], features: 2 };
  assert.deepEqual(prep([3, 1, 2], {}, gray), [0.1, 0.2, 0.1, 0.2, 0.1, 0.2]);
});

Deno.test("a model input that fits neither layout names both shapes", () => {
  assert.throws(
    () => resolveInput("m.onnx", [3, 32, 32], rgb),
    /the teacher takes 3×32×32, the data has 1×2×3 images \(H×W×C, 6 features\)/,
  );
  assert.throws(
    () => resolveInput("m.onnx", [5], { imageShape: null, features: 4 }),
    /the teacher takes 5, the data has 4 features/,
  );
});

Deno.test("auto recognises rows that are non-negative and sum to 1 as probabilities", () => {
  assert.equal(looksLikeProbabilities(new Float32Array([0.2, 0.8, 1, 0]), 2), true);
  assert.equal(looksLikeProbabilities(new Float32Array([0.2, 0.8, 1, 0.1]), 2), false);
  assert.equal(looksLikeProbabilities(new Float32Array([-0.2, 1.2]), 2), false);
});
