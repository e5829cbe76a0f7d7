/**
 * Run the CLI as a subprocess (the way a user does) and capture what it prints; `env` adds
 * environment variables to the inherited ones.
 */
export async function runCli(
  args: string[],
  cwd = new URL("..", import.meta.url).pathname,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string; json: () => Record<string, unknown> }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli.ts", import.meta.url).pathname, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  return {
    code: out.code,
    stdout,
    stderr,
    json: () => {
      try {
        return JSON.parse(stdout);
      } catch {
        throw new Error(`stdout is not JSON:\n${stdout}\nstderr:\n${stderr}`);
      }
    },
  };
}

/**
 * Run the CLI in this process (faster than a subprocess; `console` is captured while it runs):
 * the exit status and what it printed.
 */
export async function cliInProcess(
  args: string[],
): Promise<{ code: number; out: string; err: string; json: () => Record<string, unknown> }> {
  const { main } = await import("../cli.ts");
  const [log, error] = [console.log, console.error];
  let out = "", err = "";
  console.log = (...a: unknown[]) => void (out += a.join(" ") + "\n");
  console.error = (...a: unknown[]) => void (err += a.join(" ") + "\n");
  try {
    const code = await main(args);
    return { code, out, err, json: () => JSON.parse(out) };
  } finally {
    [console.log, console.error] = [log, error];
  }
}
