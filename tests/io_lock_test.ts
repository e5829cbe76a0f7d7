/** One writer per run directory: the lock file, a live holder refused, a dead one's lock taken over. */
import assert from "node:assert/strict";
import { RunDirectoryError } from "../lib/errors.ts";
import { acquireRunLock, LOCK_FILE } from "../lib/io/lock.ts";

Deno.test("a run directory's lock names its holder, refuses a second taker, and is released", async () => {
  const dir = await Deno.makeTempDir();
  const lock = await acquireRunLock(`${dir}/run`, "train --depth 8");
  assert.equal(lock.note, null);
  const held = JSON.parse(await Deno.readTextFile(`${dir}/run/${LOCK_FILE}`));
  assert.equal(held.pid, Deno.pid);
  assert.equal(held.command, "train --depth 8");
  await assert.rejects(
    acquireRunLock(`${dir}/run`, "distill"),
    (e: unknown) =>
      e instanceof RunDirectoryError &&
      e.message.includes(`by process ${Deno.pid} (train --depth 8, since `) &&
      e.hint.includes(`wait for process ${Deno.pid}`),
  );
  await lock.release();
  assert.deepEqual([...Deno.readDirSync(`${dir}/run`)], []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a dead process's lock is taken over with a note, and its unfinished temporary files removed", async () => {
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command("true").spawn();
  await child.status; // now a pid that no longer runs
  const dead = child.pid;
  await Deno.writeTextFile(
    `${dir}/${LOCK_FILE}`,
    JSON.stringify({ pid: dead, host: Deno.hostname(), started: "then", command: "train" }),
  );
  await Deno.writeTextFile(`${dir}/tree.sdt.${dead}-abc123.tmp`, "half");
  await Deno.writeTextFile(`${dir}/tree.sdt`, "whole");
  const lock = await acquireRunLock(dir, "train");
  assert.match(
    lock.note ?? "",
    new RegExp(`took over the lock of process ${dead} \\(train, since then\\)`),
  );
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [LOCK_FILE, "tree.sdt"]);
  await lock.release();
  await Deno.remove(dir, { recursive: true });
});
