import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

Deno.test("mod.ts imported by http URL from a scratch folder trains a tree on native", async () => {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(root + path.slice(1));
      const type = path.endsWith(".ts") ? "application/typescript" : "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const scratch = await Deno.makeTempDir();
  const cache = await Deno.makeTempDir();
  try {
    const url = `http://127.0.0.1:${server.addr.port}/mod.ts`;
    await Deno.writeTextFile(
      `${scratch}/main.ts`,
      `import { SoftDecisionTree, type Dataset } from "${url}";
const n = 300, f = 4;
const x = new Float32Array(n * f), y = new Int32Array(n);
let s = 7;
const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
for (let i = 0; i < n; i++) {
  for (let j = 0; j < f; j++) x[i * f + j] = rand();
  y[i] = x[i * f] > 0.5 ? 1 : 0;
}
const ds: Dataset = { x, y, n, features: f, classes: 2, imageShape: null, featureNames: null, source: "synthetic" };
const tree = await SoftDecisionTree.create({ depth: 2, invTemp: 1, learningRate: 0.05 }, ds, { seed: 1 });
tree.fit(ds, ds, { epochs: 8, batchSize: 16 });
console.log(JSON.stringify({ accuracy: tree.evaluate(ds).accuracy, backend: tree.backend, note: tree.backendNote }));
tree.dispose();
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "--quiet", `${scratch}/main.ts`],
      cwd: scratch,
      stdout: "piped",
      stderr: "piped",
      // An empty cache: the C library is fetched over http and built there.
      env: { NO_COLOR: "1", SOFTTREE_CACHE: cache },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    assert.equal(result.backend, "native", result.note);
    const built = [...Deno.readDirSync(`${cache}/native`)].map((e) => e.name);
    assert.ok(built.some((n) => n.startsWith("libsdt_cpu-")), `cache holds ${built}`);
    assert.ok(result.accuracy > 0.8, `accuracy ${result.accuracy}`);
  } finally {
    await server.shutdown();
    await Deno.remove(scratch, { recursive: true });
    await Deno.remove(cache, { recursive: true });
  }
});
