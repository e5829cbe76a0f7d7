import assert from "node:assert/strict";
import { loadMnist } from "../lib/data/mnist.ts";
import { runCli } from "./_cli.ts";
import { inTempDir, npy, npz } from "./_data_files.ts";

const FIX = new URL("./fixtures/", import.meta.url).pathname;
const BC = `${FIX}breast-cancer-teacher/`;

Deno.test("distill an image folder with its own ONNX teacher: its accuracy as ONNX Runtime computes it, the folder's class names", async () => {
  await inTempDir(async (dir) => {
    const r = await runCli([
      "distill",
      "--data",
      `folder:${FIX}digits-folder`,
      "--teacher",
      `${FIX}onnx/digits_teacher.onnx`,
      "--depth",
      "4",
      "--epochs",
      "20",
      "--no-pictures",
      "--json",
      "--out",
      `${dir}/run`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const s = r.json();
    // tools/fixtures/digits_teacher.py printed 98.03% (348 of the 355 test images) from torch.
    assert.equal(s.teacher_test_accuracy, 348 / 355);
    const labels = s.labels as { names: string[]; counts: { test: number[] } };
    assert.deepEqual(labels.names, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    assert.equal(labels.counts.test.reduce((a, b) => a + b, 0), 355);
    assert.ok((s.fidelity as number) > 0.3, `fidelity ${s.fidelity}`);
  });
});

Deno.test("distill a CSV whose teacher is only a probabilities file, with --test-data: class names kept, fidelity unknown", async () => {
  await inTempDir(async (dir) => {
    const r = await runCli([
      "distill",
      "--data",
      `csv:${BC}train.csv`,
      "--soft-labels",
      `${BC}probs.csv`,
      "--test-data",
      `csv:${BC}test.csv`,
      ...["--depth", "4", "--inv-temp", "1", "--learning-rate", "0.05", "--penalty-strength", "1"],
      ...["--batch-size", "16", "--epochs", "40", "--patience", "30", "--restarts", "1"],
      "--no-pictures",
      "--json",
      "--out",
      `${dir}/run`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const s = r.json();
    const labels = s.labels as { names: string[]; counts: { test: number[] } };
    assert.deepEqual(labels.names, ["benign", "malignant"]);
    // The test set is test.csv's 113 rows; the probabilities cover train.csv's 456 only.
    assert.equal(labels.counts.test.reduce((a, b) => a + b, 0), 113);
    assert.equal(s.fidelity, null);
    assert.equal(s.teacher_test_accuracy, null);
    assert.ok((s.test_accuracy as number) > 0.8, `test accuracy ${s.test_accuracy}`);
  });
});

Deno.test("distill a Keras-layout npz (x_train, y_train, x_test, y_test) with an ONNX teacher", async () => {
  await inTempDir(async (dir) => {
    const { test } = await loadMnist();
    const n = 400;
    const x = new Uint8Array(n * 784);
    for (let i = 0; i < x.length; i++) x[i] = Math.round(test.x[i] * 255);
    const y = Uint8Array.from(test.y.slice(0, n));
    await Deno.writeFile(
      `${dir}/mnist.npz`,
      npz({
        x_train: npy(x.slice(0, 300 * 784), [300, 28, 28]),
        y_train: npy(y.slice(0, 300), [300]),
        x_test: npy(x.slice(300 * 784), [100, 28, 28]),
        y_test: npy(y.slice(300), [100]),
      }),
    );
    const r = await runCli([
      "distill",
      "--data",
      `npz:${dir}/mnist.npz`,
      ...[
        "--teacher",
        `${FIX}onnx/mnist_convnet.onnx`,
        "--teacher-mean",
        "0.5",
        "--teacher-std",
        "0.5",
      ],
      ...["--depth", "3", "--epochs", "2", "--batch-size", "32", "--restarts", "1"],
      "--no-pictures",
      "--json",
      "--out",
      `${dir}/run`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const s = r.json();
    const labels = s.labels as { counts: { test: number[] } };
    assert.equal(labels.counts.test.reduce((a, b) => a + b, 0), 100);
    assert.ok((s.teacher_test_accuracy as number) > 0.7, `teacher ${s.teacher_test_accuracy}`);
    assert.equal(typeof s.fidelity, "number");
  });
});
