/**
 * The accuracy experiment runner: runs a named experiment (a `distill` command line) for
 * several seeds, each with its hard-label twin (`--compare`), and prints and saves the mean
 * and standard deviation of max-leaf and mixture test accuracy, validation accuracy and
 * fidelity, and the time each took. Every number in the README's accuracy section comes
 * from it.
 *
 *   deno task accuracy --list                      # the experiments
 *   deno task accuracy deep                        # seeds 0, 1, 2
 *   deno task accuracy deep --seeds 0,1,2,3,4      # more seeds
 *   deno task accuracy deep --summary              # reprint a saved result, no training
 *   deno task accuracy --table                     # a markdown table of every saved result
 *
 * Each seed is one subprocess `deno run -A cli.ts distill <args> --seed S --compare --json
 * --retrain --no-pictures --out runs/accuracy/<name>/seed-S`; its JSON is kept beside the
 * run, and the whole result goes to `runs/accuracy/<name>.json`. An experiment that differs
 * from another only in what hard labels ignore (the temperature) takes that one's twins
 * (`twinFrom`) instead of training them again. A seed whose run directory
 * already holds `result.json` from the same command is not run again (delete it, or pass
 * `--rerun`), so a long series can be stopped and continued.
 *
 * @module
 */
import { type Experiment, EXPERIMENTS } from "./accuracy_experiments.ts";

const root = new URL("..", import.meta.url).pathname;

/** What one seed of an experiment gave (accuracies are fractions in [0, 1]). */
export interface SeedResult {
  seed: number;
  /** The distilled tree. */
  test: number;
  testMixture: number;
  val: number;
  fidelity: number;
  fidelityMixture: number;
  seconds: number;
  /** Its hard-label twin (same settings and seed on one-hot labels). */
  hardTest: number;
  hardTestMixture: number;
  hardVal: number;
  hardSeconds: number;
  /** The teacher's (or the teachers' together) test accuracy. */
  teacherTest: number;
  /** Wall seconds of the whole command (teacher labelling included). */
  wallSeconds: number;
  /** The soft labels' diagnostics, when distill reports them. */
  softLabels?: Record<string, number>;
}

/** Mean and (sample) standard deviation. */
export interface Stat {
  mean: number;
  std: number;
}

/** Mean and sample standard deviation of `xs`. */
export function stat(xs: number[]): Stat {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(n, 1);
  const v = n > 1 ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(v) };
}

/** The summary of an experiment over its seeds. */
export function summarize(results: SeedResult[]): Record<string, Stat> {
  const keys = [
    "test",
    "testMixture",
    "val",
    "fidelity",
    "fidelityMixture",
    "hardTest",
    "hardTestMixture",
    "hardVal",
    "seconds",
    "hardSeconds",
    "wallSeconds",
    "teacherTest",
  ] as const;
  const out: Record<string, Stat> = {};
  for (const k of keys) out[k] = stat(results.map((r) => r[k]));
  out.gain = stat(results.map((r) => r.test - r.hardTest));
  return out;
}

function pct(s: Stat): string {
  return `${(s.mean * 100).toFixed(2)} ± ${(s.std * 100).toFixed(2)}`;
}

/** A table of one experiment's summary, for people. */
export function formatSummary(name: string, results: SeedResult[]): string {
  const s = summarize(results);
  const seeds = results.map((r) => r.seed).join(",");
  const rows = [
    `${name} (seeds ${seeds})`,
    `  distilled   test ${pct(s.test)}  mixture ${pct(s.testMixture)}  val ${pct(s.val)}  ` +
    `fidelity ${pct(s.fidelity)}  ${s.seconds.mean.toFixed(0)} s`,
    `  hard labels test ${pct(s.hardTest)}  mixture ${pct(s.hardTestMixture)}  val ${
      pct(s.hardVal)
    }  ${s.hardSeconds.mean.toFixed(0)} s`,
    `  gain (distilled - hard, max-leaf) ${(s.gain.mean * 100).toFixed(2)} ± ${
      (s.gain.std * 100).toFixed(2)
    } points; wall ${s.wallSeconds.mean.toFixed(0)} s per seed`,
  ];
  return rows.join("\n");
}

/** One markdown table row per experiment (for the README), from their saved results. */
export function markdownTable(rows: { name: string; seeds: SeedResult[] }[]): string {
  const p = (x: Stat) => `${(x.mean * 100).toFixed(2)} ± ${(x.std * 100).toFixed(2)}`;
  const lines = [
    "| experiment | teacher | distilled, max-leaf | mixture | hard-label twin | gain (points) | fidelity | minutes per seed |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const { name, seeds } of rows) {
    const s = summarize(seeds);
    lines.push(
      `| \`${name}\` | ${(s.teacherTest.mean * 100).toFixed(2)}% | ${p(s.test)} | ${
        p(s.testMixture)
      } | ${p(s.hardTest)} (${p(s.hardTestMixture)}) | ${(s.gain.mean * 100).toFixed(2)} ± ${
        (s.gain.std * 100).toFixed(2)
      } | ${p(s.fidelity)} | ${(s.wallSeconds.mean / 60).toFixed(1)} |`,
    );
  }
  return lines.join("\n");
}

interface DistillJson {
  test_accuracy: number;
  test_accuracy_mixture: number;
  val_accuracy: number;
  fidelity: number;
  fidelity_mixture: number;
  seconds: number;
  teacher_test_accuracy: number;
  soft_labels?: Record<string, number>;
  hard_labels?: {
    test_accuracy: number;
    test_accuracy_mixture: number;
    val_accuracy: number;
    seconds: number;
  };
}

function fromJson(seed: number, j: DistillJson, wallSeconds: number): SeedResult {
  if (!j.hard_labels) throw new Error(`seed ${seed}: the distill JSON has no hard_labels`);
  return {
    seed,
    test: j.test_accuracy,
    testMixture: j.test_accuracy_mixture,
    val: j.val_accuracy,
    fidelity: j.fidelity,
    fidelityMixture: j.fidelity_mixture,
    seconds: j.seconds,
    hardTest: j.hard_labels.test_accuracy,
    hardTestMixture: j.hard_labels.test_accuracy_mixture,
    hardVal: j.hard_labels.val_accuracy,
    hardSeconds: j.hard_labels.seconds,
    wallSeconds,
    teacherTest: j.teacher_test_accuracy,
    softLabels: j.soft_labels,
  };
}

async function runSeed(
  name: string,
  e: Experiment,
  seed: number,
  outDir: string,
  rerun: boolean,
): Promise<SeedResult> {
  const out = `${outDir}/${name}/seed-${seed}`;
  let twin: DistillJson["hard_labels"] | undefined;
  if (e.twinFrom) {
    const file = `${outDir}/${e.twinFrom}/seed-${seed}/result.json`;
    const saved = await Deno.readTextFile(file).then(JSON.parse, () => null);
    twin = saved?.json?.hard_labels;
    if (!twin) {
      throw new Error(
        `seed ${seed}: ${name} takes its hard-label twin from ${e.twinFrom}, which has no result ` +
          `for this seed (${file}): run "deno task accuracy ${e.twinFrom}" first`,
      );
    }
  }
  const args = e.args;
  const full = [
    "distill",
    ...args,
    "--seed",
    String(seed),
    ...(twin ? [] : ["--compare"]),
    "--json",
    "--retrain",
    "--no-pictures",
    "--out",
    out,
  ];
  const saved = `${out}/result.json`;
  if (!rerun) {
    try {
      const prev = JSON.parse(await Deno.readTextFile(saved));
      if (JSON.stringify(prev.command) === JSON.stringify(full)) {
        console.error(`  seed ${seed}: kept the result in ${saved}`);
        return fromJson(
          seed,
          { ...prev.json, hard_labels: twin ?? prev.json.hard_labels },
          prev.wallSeconds,
        );
      }
    } catch {
      // not run yet
    }
  }
  console.error(`  seed ${seed}: deno run -A cli.ts ${full.join(" ")}`);
  const t0 = performance.now();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", ...full],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const wallSeconds = (performance.now() - t0) / 1000;
  const stdout = new TextDecoder().decode(r.stdout);
  if (r.code !== 0) throw new Error(`seed ${seed}: distill exited ${r.code}`);
  const json = JSON.parse(stdout) as DistillJson;
  if (twin) json.hard_labels = { ...twin, from: e.twinFrom } as typeof twin;
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(saved, JSON.stringify({ command: full, json, wallSeconds }, null, 2));
  return fromJson(seed, json, wallSeconds);
}

if (import.meta.main) {
  const argv = [...Deno.args];
  const take = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    argv.splice(i, 2);
    return v;
  };
  const has = (flag: string): boolean => {
    const i = argv.indexOf(flag);
    if (i >= 0) argv.splice(i, 1);
    return i >= 0;
  };
  const table = has("--table");
  if (argv.length === 0 && !table && !Deno.args.includes("--list")) {
    console.error("usage: deno task accuracy NAME... [--seeds 0,1,2] [--rerun] [--summary]");
    console.error("       deno task accuracy --list | --table [NAME...]");
    console.error("an experiment's name is needed; they are:");
  }
  if (has("--list") || (argv.length === 0 && !table)) {
    for (const [name, e] of Object.entries(EXPERIMENTS)) {
      console.log(`${name.padEnd(18)} ${e.about}\n${" ".repeat(19)}distill ${e.args.join(" ")}`);
    }
    Deno.exit(argv.length === 0 && !Deno.args.includes("--list") ? 2 : 0);
  }
  const seedsArg = take("--seeds") ?? "0,1,2";
  const outDir = take("--out") ?? `${root}runs/accuracy`;
  const rerun = has("--rerun");
  const summaryOnly = has("--summary");
  const seeds = seedsArg.split(",").map((s) => Number(s.trim()));
  if (seeds.some((s) => !Number.isInteger(s) || s < 0)) {
    console.error(
      `error: --seeds must be a comma-separated list of whole numbers, got "${seedsArg}"`,
    );
    Deno.exit(2);
  }
  if (table) {
    const rows = [];
    for (const name of argv.length ? argv : Object.keys(EXPERIMENTS)) {
      const file = `${outDir}/${name}.json`;
      const saved = await Deno.readTextFile(file).then(JSON.parse, () => null);
      if (saved) rows.push({ name, seeds: saved.seeds as SeedResult[] });
      else console.error(`${name}: no saved result (${file})`);
    }
    console.log(markdownTable(rows));
    Deno.exit(0);
  }
  for (const name of argv) {
    const e = EXPERIMENTS[name];
    if (!e) {
      console.error(`error: no experiment "${name}"; see --list`);
      Deno.exit(2);
    }
    const file = `${outDir}/${name}.json`;
    let results: SeedResult[];
    if (summaryOnly) {
      results = JSON.parse(await Deno.readTextFile(file)).seeds;
    } else {
      console.error(`${name}: ${e.about}`);
      results = [];
      for (const seed of seeds) results.push(await runSeed(name, e, seed, outDir, rerun));
      await Deno.mkdir(outDir, { recursive: true });
      await Deno.writeTextFile(
        file,
        JSON.stringify(
          {
            name,
            about: e.about,
            command: `distill ${e.args.join(" ")} --compare`,
            twinFrom: e.twinFrom,
            date: new Date().toISOString(),
            seeds: results,
            summary: summarize(results),
          },
          null,
          2,
        ) + "\n",
      );
    }
    console.log(formatSummary(name, results));
  }
}
