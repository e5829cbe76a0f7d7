/**
 * Atomic writes as the README promises them ("never a half-written file"): a new file
 * replaces the old one in one rename (a reader holding the old one keeps reading it whole),
 * and a write that fails leaves the old file and no temporary file behind.
 */
import assert from "node:assert/strict";
import { folderOf, inDir, removeStaleTemps, writeFileAtomic } from "../lib/io/atomic.ts";
import { saveTreeCheckpoint } from "../lib/io/checkpoint.ts";
import { writeMetrics } from "../lib/train/run.ts";
import { initParams } from "../lib/tree/params.ts";
import { DEFAULT_TREE_CONFIG, type TreeConfig } from "../lib/tree/types.ts";

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("writeFileAtomic() replaces a file by a new one: a reader of the old one reads it whole", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/deep/er/file.bin`;
  const old = new Uint8Array(1 << 16).fill(7);
  await writeFileAtomic(path, old);
  assert.deepEqual(await Deno.readFile(path), old, "parent folders are created");
  const before = (await Deno.stat(path)).ino;
  using reader = await Deno.open(path);
  await writeFileAtomic(path, "new text");
  assert.equal(await Deno.readTextFile(path), "new text");
  assert.notEqual((await Deno.stat(path)).ino, before, "a new file took the old one's name");
  const seen = new Uint8Array(old.length + 1);
  let got = 0;
  for (let n; (n = await reader.read(seen.subarray(got))) !== null && n > 0;) got += n;
  assert.equal(got, old.length, "the old file is still whole for whoever had it open");
  assert.deepEqual(seen.subarray(0, got), old);
  assert.deepEqual(names(`${dir}/deep/er`), ["file.bin"], "no temporary file is left");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a write whose rename fails leaves what was there and no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  // A non-empty folder where the file should go: the final rename cannot replace it.
  await Deno.mkdir(`${dir}/out.json`);
  await Deno.writeTextFile(`${dir}/out.json/keep.txt`, "kept");
  await assert.rejects(() => writeFileAtomic(`${dir}/out.json`, "{}"));
  assert.deepEqual(names(dir), ["out.json"], "no temporary file is left beside it");
  assert.equal(await Deno.readTextFile(`${dir}/out.json/keep.txt`), "kept");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoints and metrics.json are replaced atomically, not written over", async () => {
  const dir = await Deno.makeTempDir();
  const cfg: TreeConfig = { ...DEFAULT_TREE_CONFIG, depth: 2, features: 3, classes: 2 };
  const data = { source: "t", imageShape: null, featureNames: null, classNames: ["a", "b"] };
  const save = (seed: number) =>
    saveTreeCheckpoint(`${dir}/tree.sdt`, {
      config: cfg,
      params: initParams(cfg, seed),
      data,
      meta: {},
    });
  for (
    const [write, file] of [[save, "tree.sdt"], [
      (n: number) => writeMetrics(dir, { n }),
      "metrics.json",
    ]] as const
  ) {
    await write(1);
    const first = await Deno.readFile(`${dir}/${file}`);
    const ino = (await Deno.stat(`${dir}/${file}`)).ino;
    await write(2);
    assert.notDeepEqual(await Deno.readFile(`${dir}/${file}`), first, `${file} was rewritten`);
    assert.notEqual((await Deno.stat(`${dir}/${file}`)).ino, ino, `${file} is a new file`);
  }
  assert.deepEqual(names(dir), ["metrics.json", "tree.sdt"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("writeFileAtomic() of a bare file name writes it in the current folder and nothing else", async () => {
  const dir = await Deno.makeTempDir();
  const cwd = Deno.cwd();
  Deno.chdir(dir);
  try {
    await writeFileAtomic("bare.txt", "here");
    await writeFileAtomic("bare.txt", "again");
  } finally {
    Deno.chdir(cwd);
  }
  assert.deepEqual(names(dir), ["bare.txt"]);
  assert.equal(await Deno.readTextFile(`${dir}/bare.txt`), "again");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("writeFileAtomic() closes what it opens: many writes leave no file open", async () => {
  // Only the descriptors open on `dir` or its files: test files run in parallel in this process.
  const dir = await Deno.makeTempDir();
  const fds = () =>
    [...Deno.readDirSync("/proc/self/fd")].filter((e) => {
      try {
        return Deno.readLinkSync(`/proc/self/fd/${e.name}`).startsWith(dir);
      } catch {
        return false; // closed since the listing
      }
    }).length;
  await writeFileAtomic(`${dir}/state.bin`, new Uint8Array(100));
  assert.equal(fds(), 0, "open files after one write");
  for (let i = 0; i < 50; i++) await writeFileAtomic(`${dir}/state.bin`, new Uint8Array(100));
  assert.equal(fds(), 0, "open files after 50 writes");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("inDir() joins a folder and a name without doubling slashes", () => {
  assert.equal(inDir("runs/a", "tree.sdt"), "runs/a/tree.sdt");
  assert.equal(inDir("runs/a/", "tree.sdt"), "runs/a/tree.sdt");
  assert.equal(inDir("runs/a///", "tree.sdt"), "runs/a/tree.sdt");
});

Deno.test("removeStaleTemps() removes what a writer killed mid-write left, and nothing else", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/metrics.json`, "old");
  // A writer whose rename never comes, killed once its temporary file is written.
  const atomic = new URL("../lib/io/atomic.ts", import.meta.url).href;
  const script = `
    import { writeFileAtomic } from "${atomic}";
    Deno.rename = () => new Promise(() => {});
    writeFileAtomic("${dir}/metrics.json", "new".repeat(1000));
    setInterval(() => {}, 1000);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const left = () => names(dir).filter((n) => n !== "metrics.json");
  for (let i = 0; i < 300 && !left().length; i++) await new Promise((r) => setTimeout(r, 50));
  child.kill("SIGKILL");
  await child.status;
  const temps = left();
  assert.equal(temps.length, 1, `one temporary file left: ${names(dir)}`);
  assert.ok(temps[0].includes(String(child.pid)), `it carries the writer's pid: ${temps[0]}`);
  // Another process's temporary file and other files stay.
  await Deno.writeTextFile(`${dir}/tree.sdt.${child.pid + 1}-abc.tmp`, "");
  await Deno.writeTextFile(`${dir}/notes.${child.pid}.txt`, "");
  assert.deepEqual(await removeStaleTemps(dir, child.pid), temps);
  assert.deepEqual(names(dir), [
    "metrics.json",
    `notes.${child.pid}.txt`,
    `tree.sdt.${child.pid + 1}-abc.tmp`,
  ]);
  assert.equal(
    await Deno.readTextFile(`${dir}/metrics.json`),
    "old",
    "the file itself is untouched",
  );
  assert.deepEqual(
    await removeStaleTemps(`${dir}/missing`, child.pid),
    [],
    "no folder: nothing to do",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("folderOf() gives a path's folder: '.' for a bare name, '/' at the root", () => {
  assert.equal(folderOf("runs/a/tree.sdt"), "runs/a");
  assert.equal(folderOf("/tmp/x"), "/tmp");
  assert.equal(folderOf("/x"), "/");
  assert.equal(folderOf("x"), ".");
  assert.equal(folderOf("./x"), ".");
});

/**
 * Runs `f` with `Deno.open` and `FsFile.prototype.sync` watched (and made to fail where
 * `fail` says), and returns what was flushed: `"file"` for the written file, or a folder's
 * path.
 */
async function watchingSyncs(
  f: () => Promise<void>,
  fail: { openFolder?: boolean; syncFolder?: boolean } = {},
): Promise<string[]> {
  const open = Deno.open;
  const sync = Deno.FsFile.prototype.sync;
  const folders = new WeakMap<Deno.FsFile, string>();
  const synced: string[] = [];
  Deno.open = async (path: string | URL, options?: Deno.OpenOptions) => {
    const isFolder = options?.read && !options.write && (await Deno.stat(path)).isDirectory;
    if (isFolder && fail.openFolder) throw new Deno.errors.PermissionDenied("no folder opening");
    const file = await open(path, options);
    if (isFolder) folders.set(file, String(path));
    return file;
  };
  Deno.FsFile.prototype.sync = function (this: Deno.FsFile) {
    const folder = folders.get(this);
    if (folder && fail.syncFolder) return Promise.reject(new Error("EINVAL"));
    synced.push(folder ?? "file");
    return sync.call(this);
  };
  try {
    await f();
  } finally {
    Deno.open = open;
    Deno.FsFile.prototype.sync = sync;
  }
  return synced;
}

Deno.test("writeFileAtomic() flushes the file, then its folder; durable: false flushes nothing", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/sub/state.bin`;
  assert.deepEqual(await watchingSyncs(() => writeFileAtomic(path, "a")), [
    "file",
    `${dir}/sub`,
  ]);
  assert.deepEqual(await watchingSyncs(() => writeFileAtomic(path, "b", { durable: false })), []);
  assert.deepEqual(await watchingSyncs(() => writeFileAtomic(path, "c", { durable: true })), [
    "file",
    `${dir}/sub`,
  ]);
  assert.equal(await Deno.readTextFile(path), "c");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("writeFileAtomic() still writes where a folder cannot be opened or flushed", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/metrics.json`;
  assert.deepEqual(
    await watchingSyncs(() => writeFileAtomic(path, "one"), { openFolder: true }),
    ["file"],
  );
  assert.equal(await Deno.readTextFile(path), "one");
  assert.deepEqual(
    await watchingSyncs(() => writeFileAtomic(path, "two"), { syncFolder: true }),
    ["file"],
  );
  assert.equal(await Deno.readTextFile(path), "two");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["metrics.json"]);
  await Deno.remove(dir, { recursive: true });
});
