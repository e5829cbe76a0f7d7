import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

Deno.test("mod.ts imported by http URL from a scratch folder trains a tree", async () => {
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
const tree = await SoftDecisionTree.create({ depth: 2, invTemp: 1, learningRate: 0.05 }, ds, { backend: "tfjs", seed: 1 });
tree.fit(ds, ds, { epochs: 8, batchSize: 16 });
console.log(JSON.stringify({ accuracy: tree.evaluate(ds).accuracy, backend: tree.backend }));
tree.dispose();
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "--quiet", `${scratch}/main.ts`],
      cwd: scratch,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    assert.equal(result.backend, "tfjs");
    assert.ok(result.accuracy > 0.8, `accuracy ${result.accuracy}`);
  } finally {
    await server.shutdown();
    await Deno.remove(scratch, { recursive: true });
  }
});
