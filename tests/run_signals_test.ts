/**
 * Ctrl-C and SIGTERM for a training (lib/run/signals.ts), in a subprocess that signals itself:
 * during training the first signal aborts the run's signal and nothing quits; the second asks
 * to quit at once, after this process's temporary files are cleared from the run's folders.
 */
import assert from "node:assert/strict";

const SIGNALS = new URL("../lib/run/signals.ts", import.meta.url).href;

Deno.test("StopOnSignals: the first SIGINT during training stops the run, the second quits after clearing temporary files", async () => {
  const dir = await Deno.makeTempDir();
  const script = `
    import { StopOnSignals } from ${JSON.stringify(SIGNALS)};
    const dir = ${JSON.stringify(dir)};
    Deno.writeTextFileSync(dir + "/tree.sdt." + Deno.pid + "-abc123.tmp", "half");
    Deno.writeTextFileSync(dir + "/tree.sdt.1-abc123.tmp", "another process's");
    const log = (line) => console.log(line);
    const stops = new StopOnSignals({
      onStopping: (sig) => log("stopping " + sig),
      onQuit: (sig, again) => { log("quit " + sig + " again=" + again); stops.dispose(); Deno.exit(7); },
    });
    stops.folders.push(dir);
    stops.training = true;
    Deno.kill(Deno.pid, "SIGINT");
    await new Promise((r) => setTimeout(r, 200));
    log("aborted=" + stops.signal.aborted + " reason=" + stops.signal.reason);
    Deno.kill(Deno.pid, "SIGINT");
    await new Promise((r) => setTimeout(r, 2000));
    log("still running");
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.deepEqual(lines, [
    "stopping SIGINT",
    "aborted=true reason=SIGINT",
    "quit SIGINT again=true",
  ], new TextDecoder().decode(out.stderr));
  assert.equal(out.code, 7);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["tree.sdt.1-abc123.tmp"]);
  await Deno.remove(dir, { recursive: true });
});
