import assert from "node:assert/strict";
import { CLI_DOC, helpTexts, updateHelpBlocks } from "../tools/cli_docs.ts";

Deno.test("docs/cli.md holds every command's current --help output", async () => {
  const page = await Deno.readTextFile(CLI_DOC);
  const { markdown, missing } = updateHelpBlocks(page, helpTexts());
  assert.deepEqual(missing, [], "commands without a help block in docs/cli.md");
  assert.ok(
    markdown === page,
    "docs/cli.md's help blocks differ from --help: run deno task doc:cli",
  );
});

Deno.test("helpTexts() covers softtree, each command and the teacher's subcommands, each with its docs page", () => {
  const texts = helpTexts();
  for (const c of ["", "train", "eval", "distill", "teacher", "teacher train", "teacher eval"]) {
    assert.ok(texts.has(c), c);
  }
  for (const c of ["draw", "predict", "explain", "export", "report"]) assert.ok(texts.has(c), c);
  for (const [c, text] of texts) {
    assert.match(text, /^Usage: softtree/, c);
    assert.match(text, /\nDocs: docs\/\S+\.md/, `softtree ${c} --help names no docs page`);
    for (const line of text.split("\n")) assert.ok(line.length <= 80, `${c}: ${line}`);
  }
});

Deno.test("updateHelpBlocks() fills empty blocks, keeps the prose between them and refuses unknown commands", () => {
  const texts = new Map([["", "Usage: softtree"], ["train", "Usage: softtree train"]]);
  const page = [
    "# x",
    "<!-- help: softtree -->\n```text\n```\n<!-- /help -->",
    "prose between",
    "<!-- help: softtree train -->\n```text\nold\n```\n<!-- /help -->",
    "",
  ].join("\n");
  const { markdown, missing } = updateHelpBlocks(page, texts);
  assert.deepEqual(missing, []);
  assert.equal(
    markdown,
    [
      "# x",
      "<!-- help: softtree -->\n\n```text\nUsage: softtree\n```\n\n<!-- /help -->",
      "prose between",
      "<!-- help: softtree train -->\n\n```text\nUsage: softtree train\n```\n\n<!-- /help -->",
      "",
    ].join("\n"),
  );
  assert.deepEqual(updateHelpBlocks("# none\n", texts).missing, ["", "train"]);
  assert.throws(
    () => updateHelpBlocks("<!-- help: softtree nope -->\n```text\n```\n<!-- /help -->", texts),
    /help block for "softtree nope", which is no command/,
  );
});
