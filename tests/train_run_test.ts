/**
 * A run directory as the command line uses it (lib/train/run.ts through `softtree train`):
 * `--patience` stops a run and says so in `--json` and `metrics.json`; a run directory that
 * holds a tree is loaded, unless `--retrain`, and one holding a tree of another shape is an
 * error that leaves it untouched.
 */
import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";
import { separableCsv } from "./_tiny.ts";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";

const dir = await Deno.makeTempDir();
const csv = `${dir}/two-blobs.csv`;
await Deno.writeTextFile(csv, separableCsv(300));
/** Full validation accuracy after two or three epochs (see tests/_tiny.ts). */
const quick = [
  ...["--data", `csv:${csv}`, "--depth", "2", "--inv-temp", "1", "--learning-rate", "0.05"],
  ...["--restarts", "1", "--backend", "tfjs", "--quiet", "--no-pictures", "--json"],
];

Deno.test("train --patience stops that many epochs after the best one and reports it", async () => {
  const out = `${dir}/patience`;
  const r = await runCli(["train", ...quick, "--epochs", "12", "--patience", "2", "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  const s = r.json();
  const best = s.best_epoch as number;
  assert.ok(best >= 1 && best <= 8, `the data peaks early: best epoch ${best}`);
  assert.equal(s.epochs_run, best + 2);
  assert.equal(s.stopped_early, true);
  const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
  assert.equal(metrics.stoppedEarly, true);
  assert.equal(metrics.epochsRun, best + 2);
  assert.equal(metrics.history.length, best + 2);

  const all = await runCli([
    ...["train", ...quick, "--epochs", "12", "--patience", "0", "--out", `${dir}/all`],
  ]);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(all.json().epochs_run, 12, "--patience 0 never stops early");
  assert.equal(all.json().stopped_early, false);
  assert.equal(all.json().best_epoch, best);
  const allMetrics = JSON.parse(await Deno.readTextFile(`${dir}/all/metrics.json`));
  assert.equal(allMetrics.stoppedEarly, false);
});

Deno.test("a run directory's tree is loaded unless --retrain, which trains and replaces it", async () => {
  const out = `${dir}/retrain`;
  const first = await runCli(["train", ...quick, "--epochs", "2", "--seed", "1", "--out", out]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.json().loaded, false);
  const saved = await Deno.readFile(`${out}/tree.sdt`);

  const again = await runCli(["train", ...quick, "--epochs", "2", "--seed", "2", "--out", out]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.json().loaded, true, "the saved tree is used, the new seed ignored");
  assert.equal(again.json().epochs_run, 0);
  assert.deepEqual(await Deno.readFile(`${out}/tree.sdt`), saved, "and left as it was");

  const re = await runCli([
    ...["train", ...quick, "--epochs", "2", "--seed", "2", "--out", out, "--retrain"],
  ]);
  assert.equal(re.code, 0, re.stderr);
  assert.equal(re.json().loaded, false);
  assert.equal(re.json().epochs_run, 2);
  assert.notDeepEqual(await Deno.readFile(`${out}/tree.sdt`), saved, "a new tree replaced it");
  assert.equal((await loadTreeCheckpoint(out)).meta.seed, 2);
});

Deno.test("a run directory holding a tree of another shape is an error and stays untouched", async () => {
  const out = `${dir}/shape`;
  const first = await runCli(["train", ...quick, "--epochs", "1", "--out", out]);
  assert.equal(first.code, 0, first.stderr);
  const saved = await Deno.readFile(`${out}/tree.sdt`);
  const metrics = await Deno.readTextFile(`${out}/metrics.json`);

  const deeper = await runCli(["train", ...quick, "--epochs", "1", "--out", out, "--depth", "3"]);
  assert.equal(deeper.code, 1, deeper.stderr);
  assert.match(deeper.stderr, /error: The run directory ".*shape" holds a tree with depth 2/);
  assert.match(deeper.stderr, /this run asks for depth 3/);
  assert.match(deeper.stderr, /hint: .*--retrain/);
  assert.equal(deeper.stdout, "", "no summary for a run that did not happen");
  assert.deepEqual(await Deno.readFile(`${out}/tree.sdt`), saved);
  assert.equal(await Deno.readTextFile(`${out}/metrics.json`), metrics);

  const mixture = await runCli([
    ...["train", ...quick, "--epochs", "1", "--out", out, "--loss", "mixture"],
  ]);
  assert.equal(mixture.code, 1, mixture.stderr);
  assert.match(mixture.stderr, /loss "expected".*loss "mixture"/);

  const re = await runCli([
    "train",
    ...quick,
    "--epochs",
    "1",
    "--out",
    out,
    "--depth",
    "3",
    "--retrain",
  ]);
  assert.equal(re.code, 0, re.stderr);
  assert.equal(re.json().depth, 3);
  assert.equal((await loadTreeCheckpoint(out)).config.depth, 3);
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
