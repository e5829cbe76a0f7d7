/**
 * softtree installed as a command, the way docs/cli.md says: `deno install -g -A -n softtree
 * --config deno.json cli.ts` into a temporary root, then `softtree` run from another folder.
 * The installed script calls `deno` from the PATH, so the test puts this Deno there.
 */
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;
const COMMANDS = [
  "train",
  "eval",
  "distill",
  "teacher",
  "draw",
  "predict",
  "explain",
  "export",
  "report",
];

async function run(cmd: string, args: string[], cwd: string, env: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, cwd, env, stdout: "piped", stderr: "piped" })
    .output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("deno install -g puts a softtree command in --root whose --help lists every command", async () => {
  const installRoot = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir();
  const pathDir = await Deno.makeTempDir();
  try {
    // The installed shim runs `deno run …`: make `deno` this Deno, wherever it came from (npx).
    await Deno.symlink(Deno.execPath(), `${pathDir}/deno`);
    const env = {
      NO_COLOR: "1",
      HOME: Deno.env.get("HOME") ?? elsewhere,
      PATH: `${installRoot}/bin:${pathDir}:${Deno.env.get("PATH") ?? ""}`,
    };
    const install = await run(
      Deno.execPath(),
      ["install", "-g", "-A", "-n", "softtree", "--root", installRoot, "--config", "deno.json"]
        .concat(["cli.ts"]),
      root,
      env,
    );
    assert.equal(install.code, 0, install.stderr);
    const shim = await Deno.readTextFile(`${installRoot}/bin/softtree`);
    assert.match(shim, /deno run --allow-all/);
    assert.ok(shim.includes(new URL("../cli.ts", import.meta.url).href), shim);

    // Run from a folder outside the repository, by name, as a user does.
    const help = await run("softtree", ["--help"], elsewhere, env);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: softtree \[options\] \[command\]/);
    for (const c of COMMANDS) assert.match(help.stdout, new RegExp(`^  ${c}\\b`, "m"), c);
    assert.match(help.stdout, /docs\/README\.md/);

    // A usage error keeps its exit status through the shim.
    const bad = await run("softtree", ["no-such-command"], elsewhere, env);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /unknown command 'no-such-command'/);
  } finally {
    for (const d of [installRoot, elsewhere, pathDir]) await Deno.remove(d, { recursive: true });
  }
});
