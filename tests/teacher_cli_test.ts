import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";

const quick = [
  "--limit",
  "300",
  "--epochs",
  "2",
  "--learning-rate",
  "0.01",
  "--filters",
  "4,8",
  "--dense",
  "16",
  "--quiet",
];

Deno.test("teacher train --json reports fractions, and teacher eval agrees", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/teacher`;
  const r = await runCli(["teacher", "train", ...quick, "--seed", "3", "--out", out, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const s = r.json();
  for (const k of ["test_accuracy", "val_accuracy"]) {
    const v = s[k] as number;
    assert.ok(typeof v === "number" && v >= 0 && v <= 1, `${k} = ${v}`);
  }
  assert.ok((s.test_accuracy as number) > 0.3, "beats chance");
  assert.equal(s.epochs, 2);
  assert.equal(s.seed, 3);
  assert.ok((s.samples_per_second as number) > 0);
  const json = JSON.parse(await Deno.readTextFile(`${out}/model.json`));
  const meta = json.userDefinedMetadata.softtree.meta;
  assert.equal(meta.seed, 3);
  assert.equal(meta.testAccuracy, s.test_accuracy);
  assert.match(meta.command, /^teacher train .*--seed 3/);

  const e = await runCli([
    "teacher",
    "eval",
    "--model",
    out,
    "--limit",
    "300",
    "--json",
    "--quiet",
  ]);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.json().test_accuracy, s.test_accuracy);
  assert.equal(e.json().accuracy, s.test_accuracy);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("teacher commands turn bad option values into usage errors (exit 2)", async () => {
  for (
    const args of [
      ["teacher", "train", "--filters", "32"],
      ["teacher", "train", "--filters", "32,x"],
      ["teacher", "train", "--epochs", "0"],
      ["teacher", "train", "--batch-size", "1.5"],
      ["teacher", "train", "--learning-rate", "-1"],
      ["teacher", "eval", "--split", "dev"],
      ["teacher", "fly"],
    ]
  ) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /--help/);
  }
  const help = await runCli(["teacher", "train", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--filters/);
});

Deno.test("teacher eval on a missing or corrupt teacher: message, hint, exit 1", async () => {
  const dir = await Deno.makeTempDir();
  const missing = await runCli(["teacher", "eval", "--model", `${dir}/nope`, "--quiet"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /error: Cannot load teacher ".*nope\/model\.json": no such file/);
  assert.match(missing.stderr, /hint: /);
  await Deno.writeTextFile(`${dir}/model.json`, "{ not json");
  const corrupt = await runCli(["teacher", "eval", "--model", dir, "--quiet"]);
  assert.equal(corrupt.code, 1);
  assert.match(corrupt.stderr, /error: Cannot load teacher ".*model\.json": it is not valid JSON/);
  assert.doesNotMatch(corrupt.stderr, / {4}at /); // no stack trace without --verbose
  await Deno.remove(dir, { recursive: true });
});
