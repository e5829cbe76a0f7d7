/**
 * Long runs from the command line, as a user meets them: a real Ctrl-C (SIGINT) or SIGTERM
 * sent to a training process, `--resume`, and the lock that keeps a second process out.
 */
import assert from "node:assert/strict";
import { loadTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { LOCK_FILE } from "../lib/io/lock.ts";
import { loadTreeState, STATE_FILE } from "../lib/train/state.ts";
import { SIGNAL_EXIT } from "../cli/interrupt.ts";
import type { EpochRecord } from "../lib/train/types.ts";
import { Rng } from "../lib/util/random.ts";
import { runCli } from "./_cli.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
/** One thread: the native backend is then deterministic to the bit across processes. */
const ENV = { NO_COLOR: "1", SOFTTREE_THREADS: "1" };

/**
 * A CSV data set that loads in a moment: 14,000 rows of 16 features, 3 classes by the largest
 * of three fixed linear functions. 70% of it trains: 9,800 samples, 1,225 batches of 8, in
 * chunks of 5,000 samples (a batch boundary to stop at inside every epoch).
 */
const DATA = await Deno.makeTempFile({ suffix: ".csv" });
{
  const rng = new Rng(11);
  const rows = ["a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,label"];
  for (let r = 0; r < 14000; r++) {
    const x = Array.from({ length: 16 }, () => rng.next());
    const score = [0, 1, 2].map((k) => x.reduce((s, v, i) => s + v * Math.sin(1 + k * 16 + i), 0));
    rows.push(`${x.map((v) => v.toFixed(3)).join(",")},${score.indexOf(Math.max(...score))}`);
  }
  await Deno.writeTextFile(DATA, rows.join("\n") + "\n");
}
const BATCHES = 1225;

/** A seeded run of `epochs` epochs (30: a few seconds). */
const train = (epochs = 30) => [
  "train",
  "--epochs",
  String(epochs),
  "--data",
  `csv:${DATA}`,
  "--depth",
  "3",
  "--batch-size",
  "8",
  "--patience",
  "0",
  "--restarts",
  "2",
  "--restart-epochs",
  "2",
  "--inv-temp",
  "0.1",
  "--backend",
  "native",
  "--seed",
  "5",
];

/** A CLI process whose stderr is read as it comes. */
class Child {
  readonly process: Deno.ChildProcess;
  stderr = "";
  #done: Promise<void>;

  constructor(args: string[]) {
    const process = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, ...args],
      cwd: ROOT,
      env: ENV,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.process = process;
    this.#done = (async () => {
      for await (const text of process.stderr.pipeThrough(new TextDecoderStream())) {
        this.stderr += text;
      }
    })();
  }

  /** Wait until stderr matches `pattern` (or the process ends). */
  async waitFor(pattern: RegExp, seconds = 60): Promise<void> {
    const until = Date.now() + 1000 * seconds;
    while (!pattern.test(this.stderr)) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${pattern}:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The exit status, once stderr is drained. */
  async status(): Promise<number> {
    const { code } = await this.process.status;
    await this.#done;
    return code;
  }
}

/** An epoch's record without its timings (which differ from run to run). */
const course = (h: EpochRecord[]) =>
  h.map(({ seconds: _s, samplesPerSecond: _r, ...rest }) => rest);
const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("Ctrl-C stops train at a batch boundary and saves it; --resume ends exactly where an uninterrupted run ends", async () => {
  const dir = await Deno.makeTempDir();
  const child = new Child([...train(), "--out", `${dir}/cut`]);
  await child.waitFor(/tree epoch 4:/);
  child.process.kill("SIGINT");
  assert.equal(await child.status(), 130, child.stderr);
  const line =
    /interrupted at epoch (\d+) \(batch (\d+) of (\d+)\): best so far val ([\d.]+)% saved in (.*); continue with --resume/
      .exec(child.stderr);
  assert.ok(line, child.stderr);
  assert.equal(line[5], `${dir}/cut`);
  assert.equal(line[3], String(BATCHES));
  assert.ok(Number(line[1]) >= 4 && Number(line[1]) < 30, `stopped at epoch ${line[1]}`);
  // The best tree so far is loadable, its pictures are drawn, the state is there, the lock gone.
  const best = await loadTreeCheckpoint(`${dir}/cut`);
  assert.equal(best.meta.inProgress, true);
  assert.equal((Number(best.meta.valAccuracy) * 100).toFixed(2), line[4]);
  assert.deepEqual(names(`${dir}/cut`), [
    "curves.png",
    "training-state.bin",
    "tree.png",
    "tree.sdt",
  ]);
  const state = await loadTreeState(`${dir}/cut`);
  assert.equal(state?.fit.reason, "interrupted");

  // A plain run into it is refused; --resume with another depth is a usage error.
  const plain = await runCli([...train(), "--out", `${dir}/cut`, "--quiet"]);
  assert.equal(plain.code, 1);
  assert.match(plain.stderr, /holds an interrupted run/);
  assert.match(plain.stderr, /hint: continue it with --resume, or start over with --retrain/);
  const conflict = await runCli(["train", "--resume", "--out", `${dir}/cut`, "--depth", "4"]);
  assert.equal(conflict.code, 2);
  assert.match(conflict.stderr, /--depth 4 conflicts with the interrupted run, which has 3/);

  const resumed = await runCli(["train", "--resume", "--out", `${dir}/cut`, "--json"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(
    resumed.stderr,
    new RegExp(
      `resuming ${dir}/cut ${
        line[2] === line[3]
          ? `at the start of epoch ${Number(line[1]) + 1}`
          : `in epoch ${line[1]} after batch ${line[2]} of ${BATCHES}`
      }`,
    ),
  );
  assert.equal(resumed.json().resumed, true);
  const whole = await runCli([...train(), "--out", `${dir}/whole`, "--quiet"]);
  assert.equal(whole.code, 0, whole.stderr);

  const [a, b] = [await loadTreeCheckpoint(`${dir}/cut`), await loadTreeCheckpoint(`${dir}/whole`)];
  assert.deepEqual(a.params, b.params, "the same final weights, bit for bit");
  const metrics = async (run: string) =>
    JSON.parse(await Deno.readTextFile(`${dir}/${run}/metrics.json`));
  const [ma, mb] = [await metrics("cut"), await metrics("whole")];
  assert.deepEqual(course(ma.history), course(mb.history), "the same history");
  assert.deepEqual(ma.candidates, mb.candidates);
  assert.equal(ma.testAccuracy, mb.testAccuracy);
  assert.ok(!names(`${dir}/cut`).includes(STATE_FILE), "a finished run drops its state");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SIGTERM exits 143 with the state saved; a second signal during the stop quits at once and leaves nothing half-written", async () => {
  const dir = await Deno.makeTempDir();
  const long = train(100000);
  const term = new Child([...long, "--out", `${dir}/term`]);
  await term.waitFor(/tree epoch 2:/);
  term.process.kill("SIGTERM");
  assert.equal(await term.status(), 143, term.stderr);
  assert.match(term.stderr, new RegExp(`interrupted at epoch \\d+ \\(batch \\d+ of ${BATCHES}\\)`));
  assert.ok((await loadTreeState(`${dir}/term`))?.fit.engine, "the state is saved");

  // A second signal while the first stop is under way quits at once. The process is paused
  // while both arrive (two different signals, so that neither is merged into the other): once
  // it continues, the first starts the stop and the second finds it under way.
  const twice = new Child([...long, "--out", `${dir}/twice`]);
  await twice.waitFor(/tree epoch 2:/);
  twice.process.kill("SIGSTOP");
  twice.process.kill("SIGINT");
  twice.process.kill("SIGTERM");
  twice.process.kill("SIGCONT");
  const code = await twice.status();
  const quit = twice.stderr.match(/(SIGINT|SIGTERM) again: quitting at once/);
  assert.ok(quit, twice.stderr);
  assert.equal(code, SIGNAL_EXIT[quit[1]], twice.stderr);
  const left = names(`${dir}/twice`);
  assert.ok(left.every((n) => !n.endsWith(".tmp")), `no temporary file: ${left}`);
  // Whatever was written is whole.
  if (left.includes("tree.sdt")) await loadTreeCheckpoint(`${dir}/twice`);
  if (left.includes(STATE_FILE)) await loadTreeState(`${dir}/twice`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a second process training into a run directory is refused, naming the first; a dead one's lock is taken over", async () => {
  const dir = await Deno.makeTempDir();
  const first = new Child([...train(100000), "--out", `${dir}/run`]);
  await first.waitFor(/tree epoch 1:/);
  const second = await runCli([
    "train",
    "--data",
    `csv:${DATA}`,
    "--out",
    `${dir}/run`,
    "--retrain",
  ]);
  assert.equal(second.code, 1);
  assert.match(
    second.stderr,
    new RegExp(`is being trained into by process ${first.process.pid} \\(train`),
  );
  assert.match(second.stderr, new RegExp(`hint: wait for process ${first.process.pid} to finish`));
  // Killed outright, the first leaves its lock behind.
  first.process.kill("SIGKILL");
  await first.status();
  assert.ok(names(`${dir}/run`).includes(LOCK_FILE));
  const third = await runCli([
    "train",
    "--data",
    `csv:${DATA}`,
    "--epochs",
    "1",
    "--restarts",
    "1",
    "--out",
    `${dir}/run`,
    "--retrain",
    "--no-pictures",
  ]);
  assert.equal(third.code, 0, third.stderr);
  assert.match(
    third.stderr,
    new RegExp(
      `took over the lock of process ${first.process.pid} \\(train .*, since .*\\), which no longer runs`,
    ),
  );
  assert.ok(!names(`${dir}/run`).includes(LOCK_FILE), "released at the end");
  await Deno.remove(dir, { recursive: true });
});

globalThis.addEventListener("unload", () => Deno.removeSync(DATA));
