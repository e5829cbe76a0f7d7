import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";

const quick = [
  "--limit",
  "400",
  "--epochs",
  "2",
  "--batch-size",
  "32",
  "--inv-temp",
  "1",
  "--backend",
  "tfjs",
  "--quiet",
];

Deno.test("train --json reports accuracies as fractions, eval agrees, and a second train loads the tree", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/run`;
  const r = await runCli(["train", ...quick, "--restarts", "3", "--out", out, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const s = r.json();
  const candidates = s.candidates_val_accuracy as number[];
  assert.equal(candidates.length, 3);
  assert.equal(s.val_accuracy, Math.max(...candidates), "the best candidate is kept");
  for (const k of ["val_accuracy", "test_accuracy", "test_accuracy_mixture"]) {
    const v = s[k] as number;
    assert.ok(typeof v === "number" && v >= 0 && v <= 1, `${k} = ${v}`);
  }
  assert.ok((s.test_accuracy as number) > 0.2, "beats chance");
  assert.equal(s.epochs_run, 2);
  assert.equal(s.backend, "tfjs");
  assert.ok((s.samples_per_second as number) > 0 && (s.seconds as number) > 0);
  const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
  assert.equal(metrics.history.length, 2);

  const e = await runCli([
    "eval",
    "--model",
    out,
    "--limit",
    "400",
    "--backend",
    "tfjs",
    "--json",
    "--quiet",
  ]);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.json().test_accuracy, s.test_accuracy);
  assert.equal(e.json().accuracy_mixture, s.test_accuracy_mixture);

  const again = await runCli(["train", ...quick, "--out", out, "--json"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.json().loaded, true);
  assert.equal(again.json().test_accuracy, s.test_accuracy);

  // A corrupted checkpoint is a runtime error: message, hint, exit 1, no stack trace.
  const file = `${out}/tree.sdt`;
  const bytes = await Deno.readFile(file);
  await Deno.writeFile(file, bytes.subarray(0, bytes.length - 100));
  const bad = await runCli(["eval", "--model", out, "--limit", "100", "--quiet"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /error: Cannot read tree checkpoint ".*tree\.sdt": it should hold/);
  assert.match(bad.stderr, /hint: /);
  assert.doesNotMatch(bad.stderr, /\bat .*\.ts:\d+/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bad option values are usage errors with exit status 2", async () => {
  for (
    const args of [
      ["train", "--depth", "0"],
      ["train", "--learning-rate", "-1"],
      ["train", "--batch-size", "0"],
      ["train", "--restarts", "0"],
      ["train", "--backend", "gpu"],
      ["train", "--loss", "hinge"],
      ["eval"],
      ["frobnicate"],
    ]
  ) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /error/);
  }
});

Deno.test("every command answers --help with exit status 0", async () => {
  for (const cmd of [[], ["train"], ["eval"]]) {
    const r = await runCli([...cmd, "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: softtree/);
  }
});

Deno.test("bad data is a runtime error naming the file, exit status 1", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/bad.csv`, "a,b,label\n1,2,0\n3,x,1\n");
  const r = await runCli(["train", "--data", `csv:${dir}/bad.csv`, "--quiet"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.csv/);
  assert.match(r.stderr, /hint: /);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("eval and export --format rules read a CSV tree's data with its own split seed, label column and test set", async () => {
  const { cliInProcess } = await import("./_cli.ts");
  const out = await Deno.makeTempDir({ prefix: "softtree-seed-" });
  const csv = new URL("./fixtures/breast_cancer.csv", import.meta.url).pathname;
  try {
    // Seed 3 carves other validation and test rows than seed 0 would.
    const t = await cliInProcess([
      "train",
      "--data",
      `csv:${csv}`,
      "--label-column",
      "diagnosis",
      "--seed",
      "3",
      "--depth",
      "2",
      "--epochs",
      "2",
      "--inv-temp",
      "1",
      "--no-pictures",
      "--quiet",
      "--json",
      "--out",
      out,
    ]);
    assert.equal(t.code, 0, t.err);
    const trained = t.json();
    const e = await cliInProcess(["eval", "--model", out, "--json", "--quiet"]);
    assert.equal(e.code, 0, e.err);
    assert.equal(e.json().test_accuracy, trained.test_accuracy, "the same test rows as training's");
    assert.equal(e.json().samples, 85);
    const r = await cliInProcess([
      "export",
      "--model",
      out,
      "--format",
      "rules",
      "--out",
      `${out}/rules`,
      "--json",
      "--quiet",
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.json().test_samples, 85);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
