/**
 * The layer check: `deno task check:layers` fails when an import of the library or the command
 * line runs upward, or when files or folders import each other (directly or round a longer
 * loop). The picture it enforces, from the top down (docs/architecture.md):
 *
 * | rank | layer | holds |
 * | --- | --- | --- |
 * | 5 | `cli.ts`, `mod.ts` | the entry points; nothing in the code imports them |
 * | 4 | `cli/` | the commands |
 * | 3 | `lib/<feature>/` | data, teacher, model, train, run, io, render, report, use |
 * | 2 | `lib/backends/` | the tree's engines |
 * | 1 | `ffi/` | the native libraries, their build and bindings |
 * | 0 | `lib/tree/`, `lib/util/`, `lib/errors.ts`, `lib/deps.ts` | maths, parameters, types |
 *
 * A file may import its own layer or any layer below it. Feature folders share rank 3, so they
 * may import one another, but two folders of `lib/` never import each other (no loop between
 * folders), nor do two files. Only relative imports count (`npm:`, `node:` and import-map names
 * are outside the project); `import type` counts, since a type import ties two modules too.
 * Tests, benchmarks and tools sit above everything and are not checked.
 *
 * ```sh
 * deno task check:layers        # prints each violation as file:line, exits 1 if any
 * ```
 *
 * @module
 */

/** One relative import found in a source file. */
export interface ImportRef {
  /** The specifier as written, e.g. `"../tree/types.ts"`. */
  specifier: string;
  /** 1-based line of the specifier. */
  line: number;
}

/** One import edge between two files of the repository (paths relative to its root). */
export interface ImportEdge {
  from: string;
  to: string;
  line: number;
}

/** A file's place in the layer picture. */
export interface Layer {
  /** Higher imports lower; see the module doc. */
  rank: number;
  /** The name printed in messages, e.g. `lib/tree` or `cli/`. */
  name: string;
}

/** Blank out comments, keeping line breaks so that line numbers stay right. */
function stripComments(src: string): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    const c = src[i], d = src[i + 1];
    if (c === "/" && d === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else if (c === "/" && d === "/" && (i === 0 || /[\s;{}(),]/.test(src[i - 1]))) {
      // A line comment starts after whitespace or punctuation; `https://` inside a string
      // follows a colon and is left alone.
      const end = src.indexOf("\n", i);
      const stop = end < 0 ? src.length : end;
      out += " ".repeat(stop - i);
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/**
 * The relative imports of one source text: static `import`/`export … from`, side-effect
 * `import "…"` and dynamic `import("…")` with a literal specifier. Comments are skipped.
 *
 * @example
 * ```ts
 * importsOf('import type { X } from "../tree/types.ts";') // [{ specifier: "../tree/types.ts", line: 1 }]
 * ```
 */
export function importsOf(source: string): ImportRef[] {
  const text = stripComments(source);
  const patterns = [
    /\b(?:import|export)\s[^;"'`]*?\bfrom\s*(["'])([^"'\n]+)\1/g,
    /(?:^|[;\n])\s*import\s*(["'])([^"'\n]+)\1/g,
    /\bimport\s*\(\s*(["'])([^"'\n]+)\1/g,
  ];
  const found = new Map<number, ImportRef>();
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      const specifier = m[2];
      if (!specifier.startsWith("./") && !specifier.startsWith("../")) continue;
      const at = m.index! + m[0].lastIndexOf(specifier);
      const line = text.slice(0, at).split("\n").length;
      found.set(at, { specifier, line });
    }
  }
  return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, ref]) => ref);
}

/** Join a relative specifier onto the folder of `from` (POSIX paths, relative to the root). */
export function resolveImport(from: string, specifier: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const seg of specifier.split("/")) {
    if (seg === "." || seg === "") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return parts.join("/");
}

const BOTTOM_FILES = new Set(["lib/errors.ts", "lib/deps.ts"]);
const BOTTOM_FOLDERS = new Set(["lib/tree", "lib/util"]);

/**
 * The layer of a repository path, or `undefined` for a path outside the checked code
 * (tests, benchmarks, tools, assets).
 */
export function layerOf(path: string): Layer | undefined {
  if (path === "cli.ts" || path === "mod.ts") return { rank: 5, name: path };
  if (path.startsWith("cli/")) return { rank: 4, name: "cli/" };
  if (path.startsWith("ffi/")) return { rank: 1, name: "ffi/" };
  if (!path.startsWith("lib/")) return undefined;
  if (BOTTOM_FILES.has(path)) return { rank: 0, name: path };
  const folder = libFolder(path);
  if (folder === undefined) return { rank: 3, name: path };
  if (BOTTOM_FOLDERS.has(folder)) return { rank: 0, name: folder };
  if (folder === "lib/backends") return { rank: 2, name: folder };
  return { rank: 3, name: folder };
}

/** `lib/x` for a file under `lib/x/`, else `undefined`. */
function libFolder(path: string): string | undefined {
  const parts = path.split("/");
  return parts[0] === "lib" && parts.length > 2 ? `lib/${parts[1]}` : undefined;
}

/** Strongly connected components with more than one node (Tarjan), each sorted. */
function loops(nodes: Iterable<string>, next: (n: string) => Iterable<string>): string[][] {
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>(), out: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const n of [...nodes].sort()) if (!index.has(n)) visit(n);
  return out;
}

/** The shortest path from `start` back to itself, as a list of nodes that begins and ends with it. */
function shortestLoop(start: string, next: (n: string) => string[]): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const n = queue.shift()!;
    for (const m of next(n)) {
      if (m === start) {
        const path: string[] = [];
        for (let k = n; k !== start; k = parent.get(k)!) path.unshift(k);
        return [start, ...path, start];
      }
      if (!parent.has(m)) {
        parent.set(m, n);
        queue.push(m);
      }
    }
  }
  return [start, start];
}

/**
 * Every violation of the layer picture in a set of files (repository-relative path → source
 * text), one line each, sorted; empty when the picture holds.
 *
 * @example
 * ```ts
 * checkLayers(new Map([["lib/tree/a.ts", 'import "../train/b.ts";']]))
 * // ['lib/tree/a.ts:1 imports lib/train/b.ts: lib/tree (rank 0) may not import lib/train (rank 3)']
 * ```
 */
export function checkLayers(files: Map<string, string>): string[] {
  const problems: string[] = [];
  const edges: ImportEdge[] = [];
  for (const [from, source] of files) {
    const own = layerOf(from);
    if (own === undefined) continue;
    for (const ref of importsOf(source)) {
      const to = resolveImport(from, ref.specifier);
      const target = layerOf(to);
      const where = `${from}:${ref.line} imports ${to}`;
      if (target === undefined) {
        problems.push(`${where}: outside the library's layers`);
        continue;
      }
      edges.push({ from, to, line: ref.line });
      if (own.name === "ffi/" && target.name !== "ffi/") {
        problems.push(`${where}: the native layer stands alone and imports only ffi/`);
      } else if (target.rank === 5 && own.rank <= 5) {
        problems.push(`${where}: nothing in the code imports an entry point`);
      } else if (target.rank > own.rank) {
        problems.push(
          `${where}: ${own.name} (rank ${own.rank}) may not import ${target.name} (rank ${target.rank})`,
        );
      }
    }
  }
  const byFile = new Map<string, Set<string>>();
  const byFolder = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!byFile.has(e.from)) byFile.set(e.from, new Set());
    byFile.get(e.from)!.add(e.to);
    const a = libFolder(e.from), b = libFolder(e.to);
    if (a !== undefined && b !== undefined && a !== b) {
      if (!byFolder.has(a)) byFolder.set(a, new Set());
      byFolder.get(a)!.add(b);
    }
  }
  const fileNodes = new Set([...byFile.keys(), ...edges.map((e) => e.to)]);
  for (const scc of loops(fileNodes, (n) => byFile.get(n) ?? [])) {
    problems.push(`files import each other: ${scc.join(", ")}`);
  }
  for (const scc of loops(byFolder.keys(), (n) => byFolder.get(n) ?? [])) {
    const cycle = shortestLoop(
      scc[0],
      (n) => [...(byFolder.get(n) ?? [])].filter((m) => scc.includes(m)),
    );
    const why = cycle.slice(0, -1).map((a, i) => {
      const b = cycle[i + 1];
      const e = edges.find((e) => libFolder(e.from) === a && libFolder(e.to) === b)!;
      return `${e.from}:${e.line} -> ${e.to}`;
    });
    problems.push(`folders import each other: ${cycle.join(" -> ")} (${why.join("; ")})`);
  }
  return problems.sort();
}

/** The checked files of a repository: `cli.ts`, `mod.ts` and the sources under cli/, lib/, ffi/. */
export async function readCheckedFiles(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(`${root}/${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) {
        if (path !== "ffi/build") await walk(path);
      } else if (/\.(ts|js)$/.test(entry.name)) {
        files.set(path, await Deno.readTextFile(`${root}/${path}`));
      }
    }
  };
  for (const top of ["cli.ts", "mod.ts"]) {
    files.set(top, await Deno.readTextFile(`${root}/${top}`));
  }
  for (const dir of ["cli", "lib", "ffi"]) await walk(dir);
  return files;
}

if (import.meta.main) {
  const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
  const files = await readCheckedFiles(root);
  const problems = checkLayers(files);
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`${problems.length} layer violation(s); the picture: docs/architecture.md`);
    Deno.exit(1);
  }
  console.log(`layers: ${files.size} files, every import runs downward, no loops`);
}
