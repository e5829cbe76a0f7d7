/**
 * `.ci/run`'s verdict, with a stand-in `npx` that plays back a test run's output and exit
 * status: its closing line counts passed, failed and skipped (deno test's "ignored") tests,
 * and a run whose output lacks deno test's summary line fails even when it exits 0.
 */
import assert from "node:assert/strict";

const script = new URL("../.ci/run", import.meta.url).pathname;

/** Run `.ci/run` with an `npx` that prints `output` and exits with `status` for the tests. */
async function ciRun(output: string, status: number, versionStatus = 0) {
  const bin = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${bin}/output.txt`, output);
    await Deno.writeTextFile(
      `${bin}/npx`,
      `#!/usr/bin/env bash\n` +
        `if [[ "$*" == *--version* ]]; then echo "deno 2.9.6"; exit ${versionStatus}; fi\n` +
        `cat "${bin}/output.txt"; exit ${status}\n`,
    );
    // Installers do nothing here: the test looks at the verdict, not at what CI installs.
    for (const tool of ["apt-get", "sudo"]) {
      await Deno.writeTextFile(`${bin}/${tool}`, "#!/usr/bin/env bash\nexit 0\n");
    }
    for (const tool of ["npx", "apt-get", "sudo"]) await Deno.chmod(`${bin}/${tool}`, 0o755);
    const out = await new Deno.Command("bash", {
      args: [script],
      env: { PATH: `${bin}:${Deno.env.get("PATH")}` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trimEnd();
    return {
      code: out.code,
      last: stdout.split("\n").at(-1),
      stderr: new TextDecoder().decode(out.stderr),
    };
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
}

Deno.test(".ci/run ends with passed, failed and skipped counts, and deno test's exit status", async () => {
  const ok = await ciRun("a ... ok\n\nok | 121 passed | 0 failed | 9 ignored (39s)\n", 0);
  assert.deepEqual([ok.code, ok.last], [0, "121 passed, 0 failed, 9 skipped"]);
  const none = await ciRun("ok | 12 passed | 0 failed (3s)\n", 0);
  assert.deepEqual([none.code, none.last], [0, "12 passed, 0 failed, 0 skipped"]);
  const bad = await ciRun("FAILED | 10 passed | 2 failed | 1 ignored (5s)\n", 1);
  assert.deepEqual([bad.code, bad.last], [1, "10 passed, 2 failed, 1 skipped"]);
  const filtered = await ciRun("ok | 3 passed | 0 failed | 2 filtered out (1s)\n", 0);
  assert.deepEqual([filtered.code, filtered.last], [0, "3 passed, 0 failed, 0 skipped"]);
});

Deno.test(".ci/run fails when deno test's summary line is missing, even on exit status 0", async () => {
  for (const output of ["", "all good: 12 tests passed\n", "ok / 12 passed / 0 failed\n"]) {
    const r = await ciRun(output, 0);
    assert.notEqual(r.code, 0, `output ${JSON.stringify(output)}`);
    assert.equal(r.last, "0 passed, 1 failed, 0 skipped");
    assert.match(r.stderr, /no summary line/);
  }
  const counts = await ciRun("ok | 5 passed | 1 failed (2s)\n", 0);
  assert.notEqual(counts.code, 0, "a failed count fails the run whatever the exit status");
  const noDeno = await ciRun("", 0, 1);
  assert.deepEqual([noDeno.code, noDeno.last], [1, "0 passed, 1 failed, 0 skipped"]);
});
