/**
 * Keeps the option lists of `docs/cli.md` equal to the real `--help` output: every block
 * between `<!-- help: COMMAND -->` and `<!-- /help -->` is the help text of that command,
 * as `softtree COMMAND --help` prints it in a terminal 80 columns wide (`<!-- help: softtree -->`
 * for `softtree --help`, `<!-- help: softtree teacher train -->` for a subcommand).
 *
 * ```sh
 * deno task doc:cli            # rewrite the blocks in docs/cli.md
 * deno task doc:cli --check    # exit 1 (and name them) when blocks are stale or missing
 * ```
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { buildProgram } from "../cli.ts";

/** The terminal width the help blocks are written for. */
export const HELP_WIDTH = 80;

/** The page the blocks live in. */
export const CLI_DOC = new URL("../docs/cli.md", import.meta.url);

/**
 * What `--help` prints for every command, keyed by its path (`""` for softtree itself,
 * `"train"`, `"teacher train"`), in the order `softtree --help` lists them.
 *
 * @returns The help texts, without colours, wrapped at {@linkcode HELP_WIDTH} columns.
 */
export function helpTexts(): Map<string, string> {
  const texts = new Map<string, string>();
  const visit = (command: Command, path: string[]) => {
    let text = "";
    command.configureOutput({
      writeOut: (s) => text += s,
      writeErr: (s) => text += s,
      getOutHelpWidth: () => HELP_WIDTH,
      getErrHelpWidth: () => HELP_WIDTH,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    });
    command.outputHelp();
    texts.set(path.join(" "), text.trimEnd());
    for (const sub of command.commands) visit(sub as Command, [...path, sub.name()]);
  };
  visit(buildProgram({ allOptions: true }) as unknown as Command, []);
  return texts;
}

// A block's text holds no "<!--", so that a broken block cannot swallow the page after it.
const BLOCK =
  /<!-- help: softtree([a-z ]*) -->\n\n?```text\n(?:(?:(?!<!--)[\s\S])*?\n)?```\n\n?<!-- \/help -->/g;

/**
 * Rewrites every help block of `markdown` with the current help text.
 *
 * @param markdown The page.
 * @param texts From {@linkcode helpTexts}.
 * @returns The new page, and the commands that have no block in it.
 * @throws {RangeError} When a block names a command that does not exist.
 */
export function updateHelpBlocks(
  markdown: string,
  texts: Map<string, string>,
): { markdown: string; missing: string[] } {
  const seen = new Set<string>();
  const out = markdown.replace(BLOCK, (_, name: string) => {
    const key = name.trim();
    const text = texts.get(key);
    if (text === undefined) {
      throw new RangeError(
        `docs/cli.md has a help block for "softtree${name}", which is no command`,
      );
    }
    seen.add(key);
    // The blank lines are deno fmt's.
    return `<!-- help: softtree${name} -->\n\n\`\`\`text\n${text}\n\`\`\`\n\n<!-- /help -->`;
  });
  return { markdown: out, missing: [...texts.keys()].filter((k) => !seen.has(k)) };
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const before = await Deno.readTextFile(CLI_DOC);
  const { markdown, missing } = updateHelpBlocks(before, helpTexts());
  const where = (k: string) => k === "" ? "softtree" : `softtree ${k}`;
  if (missing.length) {
    console.error(`docs/cli.md has no help block for ${missing.map(where).join(", ")}`);
    console.error(
      `hint: add <!-- help: softtree COMMAND --> and <!-- /help --> around a text block`,
    );
  }
  if (check) {
    if (markdown !== before) {
      console.error("docs/cli.md: the help blocks differ from --help");
      console.error("hint: run deno task doc:cli");
    }
    Deno.exit(markdown === before && !missing.length ? 0 : 1);
  }
  if (markdown !== before) {
    const tmp = `${CLI_DOC.pathname}.${Deno.pid}.tmp`;
    await Deno.writeTextFile(tmp, markdown);
    await Deno.rename(tmp, CLI_DOC);
    console.error("docs/cli.md: help blocks rewritten");
  }
  Deno.exit(missing.length ? 1 : 0);
}
