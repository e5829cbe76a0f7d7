/**
 * The run directory's lock (README, "One writer per run"), in the cases that decide whether
 * a second process is stopped or a stale lock is taken over: a live holder, a pid reused by
 * another process, another machine's lock, an unreadable lock file, and a release after the
 * lock changed hands.
 */
import assert from "node:assert/strict";
import { RunDirectoryError } from "../lib/errors.ts";
import { acquireRunLock, LOCK_FILE } from "../lib/io/lock.ts";

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

/** The start time `/proc/<pid>/stat` gives a process (field 22). */
function startOf(pid: number): string {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

/** A process that runs until killed. */
function sleeper(): Deno.ChildProcess {
  return new Deno.Command("sleep", { args: ["60"], stdout: "null", stderr: "null" }).spawn();
}

/** Runs `body` with a fresh folder and a live process other than this one; removes both. */
async function withOtherProcess(
  body: (dir: string, other: Deno.ChildProcess) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const other = sleeper();
  try {
    await body(dir, other);
  } finally {
    other.kill();
    await other.status;
  }
  await Deno.remove(dir, { recursive: true });
}

/** Taking the lock of `dir` fails with a RunDirectoryError whose message and hint match. */
async function refused(dir: string, ...parts: RegExp[]): Promise<void> {
  await assert.rejects(acquireRunLock(dir, "distill"), (e: unknown) => {
    assert.ok(e instanceof RunDirectoryError, `expected a RunDirectoryError, got ${e}`);
    for (const p of parts) assert.match(`${e.message}\nhint: ${e.hint}`, p);
    return true;
  });
}

Deno.test("a lock held by another live process stops a second taker, naming that process", async () => {
  await withOtherProcess(async (dir, other) => {
    const lock = {
      pid: other.pid,
      host: Deno.hostname(),
      started: "2026-01-02T03:04:05Z",
      command: "train --depth 8",
      processStart: startOf(other.pid),
    };
    await Deno.writeTextFile(`${dir}/${LOCK_FILE}`, JSON.stringify(lock));
    const t0 = performance.now();
    await refused(
      dir,
      new RegExp(`^The run directory ".*" is being trained into by process ${other.pid} \\(`),
      /\(train --depth 8, since 2026-01-02T03:04:05Z; lock file ".*training\.lock"\)/,
      new RegExp(`hint: wait for process ${other.pid} to finish \\(or stop it\\), or choose`),
    );
    // A readable lock is judged at once, however young (waiting is for unreadable ones).
    assert.ok(performance.now() - t0 < 600, "refused without waiting");
    // A lock without the start time (an older softtree) is taken at its word.
    await Deno.writeTextFile(
      `${dir}/${LOCK_FILE}`,
      JSON.stringify({ ...lock, processStart: undefined }),
    );
    await refused(dir, new RegExp(`by process ${other.pid} `));
    assert.deepEqual(names(dir), [LOCK_FILE], "the holder's lock stays");
  });
});

Deno.test("a lock whose pid now belongs to another process is stale and taken over", async () => {
  await withOtherProcess(async (dir, other) => {
    // The pid runs, but it started at another time than the process that took the lock.
    const stale = { pid: other.pid, host: Deno.hostname(), started: "then", command: "train" };
    await Deno.writeTextFile(
      `${dir}/${LOCK_FILE}`,
      JSON.stringify({ ...stale, processStart: "1" }),
    );
    const lock = await acquireRunLock(dir, "train");
    assert.match(lock.note ?? "", new RegExp(`took over the lock of process ${other.pid} `));
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/${LOCK_FILE}`)).pid, Deno.pid);
    await lock.release();
  });
});

Deno.test("another machine's lock is never taken over: the error says how to clear it", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/${LOCK_FILE}`,
    JSON.stringify({ pid: 4242, host: "elsewhere.example", started: "then", command: "train" }),
  );
  await refused(
    dir,
    /by process 4242 on elsewhere\.example \(train, since then;/,
    /hint: wait for it to finish, or remove ".*training\.lock" if that process no longer runs/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an unreadable lock file is replaced once it is old, with a note saying so", async () => {
  const texts = [
    "",
    "null",
    "{not json",
    '{"pid": -3}',
    '{"pid": 0}',
    '{"pid": 1.5}',
    '{"host": "x"}',
  ];
  for (const text of texts) {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/${LOCK_FILE}`;
    await Deno.writeTextFile(path, text);
    await Deno.utime(path, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const t0 = performance.now();
    const lock = await acquireRunLock(dir, "train");
    assert.ok(performance.now() - t0 < 600, "an old unreadable lock is not waited for");
    assert.equal(lock.note, `replaced an unreadable lock file "${path}"`, `lock file ${text}`);
    const held = JSON.parse(await Deno.readTextFile(path));
    assert.equal(held.pid, Deno.pid);
    assert.equal(held.host, Deno.hostname());
    assert.equal(held.command, "train");
    assert.ok(!Number.isNaN(Date.parse(held.started)), `started: ${held.started}`);
    assert.equal(held.processStart, startOf(Deno.pid));
    await lock.release();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a lock file just created and still empty is waited for; the holder it then names is respected", async () => {
  for (const text of ["", "{not json"]) {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/${LOCK_FILE}`;
    await Deno.writeTextFile(path, text);
    // Another process's taker has created the file and writes its record 300 ms later.
    const holder = sleeper();
    const record = {
      pid: holder.pid,
      host: Deno.hostname(),
      started: new Date().toISOString(),
      command: "train",
      processStart: startOf(holder.pid),
    };
    const writer = setTimeout(() => Deno.writeTextFileSync(path, JSON.stringify(record)), 300);
    try {
      await refused(dir, new RegExp(`by process ${holder.pid} \\(train, since`));
    } finally {
      clearTimeout(writer);
      holder.kill();
      await holder.status;
    }
    // A taker that died before writing its record: the file is young, and stays unreadable.
    await Deno.writeTextFile(path, text);
    const t0 = performance.now();
    const lock = await acquireRunLock(dir, "train");
    const waited = performance.now() - t0;
    assert.equal(lock.note, `replaced an unreadable lock file "${path}"`);
    assert.ok(waited >= 700 && waited < 5000, `waited ${waited.toFixed(0)} ms first`);
    assert.equal(JSON.parse(await Deno.readTextFile(path)).pid, Deno.pid);
    await lock.release();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a lock's fields of the wrong type are read as unknown, not trusted", async () => {
  await withOtherProcess(async (dir, other) => {
    const dead = new Deno.Command("true").spawn();
    await dead.status;
    // A host that is not text is no host: the pid is checked here, and it runs.
    await Deno.writeTextFile(
      `${dir}/${LOCK_FILE}`,
      JSON.stringify({ pid: other.pid, host: 7, started: 5, command: null }),
    );
    await refused(dir, new RegExp(`by process ${other.pid} \\(\\?, since \\?; lock file`));
    // The same for a pid that no longer runs: taken over.
    await Deno.writeTextFile(`${dir}/${LOCK_FILE}`, JSON.stringify({ pid: dead.pid, host: 7 }));
    const lock = await acquireRunLock(dir, "train");
    assert.match(lock.note ?? "", new RegExp(`took over the lock of process ${dead.pid} \\(\\?, `));
    await lock.release();
  });
});

Deno.test("taking and releasing a lock leaves no file open", async () => {
  const dir = await Deno.makeTempDir();
  const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
  await (await acquireRunLock(dir, "train")).release();
  const before = fds();
  for (let i = 0; i < 20; i++) await (await acquireRunLock(dir, "train")).release();
  assert.equal(fds(), before);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("release() leaves a lock that another process holds by now", async () => {
  const dir = await Deno.makeTempDir();
  const lock = await acquireRunLock(`${dir}/run`, "train");
  const theirs = JSON.stringify({ pid: Deno.pid + 1, host: Deno.hostname(), command: "x" });
  await Deno.writeTextFile(lock.path, theirs);
  await lock.release();
  assert.equal(await Deno.readTextFile(lock.path), theirs);
  await Deno.remove(lock.path);
  await lock.release(); // nothing to release: no error
  assert.deepEqual(names(`${dir}/run`), []);
  await Deno.remove(dir, { recursive: true });
});
