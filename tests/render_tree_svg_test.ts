import assert from "node:assert/strict";
import type { DataInfo } from "../lib/io/types.ts";
import { MNIST_INFO, randomTree } from "./_render_fixtures.ts";
import { treeSvg } from "../lib/render/tree_svg.ts";
import { leafClasses, route } from "../lib/tree/inspect.ts";
import { treeSizes } from "../lib/tree/types.ts";
import { Rng } from "../lib/util/random.ts";

/** Every opening tag with the given class (among its classes), as attribute maps. */
function elements(svg: string, cls: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const m of svg.matchAll(/<(\w+)\s([^>]*?)\/?>/g)) {
    const attrs: Record<string, string> = { tag: m[1] };
    for (const a of m[2].matchAll(/([\w:-]+)="([^"]*)"/g)) attrs[a[1]] = a[2];
    if ((attrs.class ?? "").split(" ").includes(cls)) out.push(attrs);
  }
  return out;
}

function input(features: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: features }, () => rng.next());
}

Deno.test("treeSvg() draws 2^d inner nodes at each depth d and 2^D leaves", () => {
  for (const depth of [1, 3, 5]) {
    const svg = treeSvg(randomTree(depth));
    const inner = elements(svg, "inner");
    assert.equal(inner.length, 2 ** depth - 1);
    for (let d = 0; d < depth; d++) {
      assert.equal(inner.filter((e) => e["data-depth"] === String(d)).length, 2 ** d);
    }
    const leaves = elements(svg, "leaf");
    assert.equal(leaves.length, 2 ** depth);
    assert.ok(leaves.every((e) => e["data-depth"] === String(depth)));
    assert.equal(elements(svg, "edge").length, 2 ** (depth + 1) - 2);
    assert.equal(elements(svg, "on-path").length, 0, "no path without an input");
  }
});

Deno.test("every inner node's class set is the set of its leaves' argmax classes", () => {
  const tree = randomTree(4, MNIST_INFO, 3);
  const svg = treeSvg(tree);
  const cls = leafClasses(tree.params, 10);
  for (const e of elements(svg, "leaf")) {
    assert.equal(Number(e["data-class"]), cls[Number(e["data-leaf"])]);
  }
  for (const e of elements(svg, "inner")) {
    const n = Number(e["data-node"]);
    const d = Number(e["data-depth"]);
    const span = 2 ** (4 - d);
    const first = (n - (2 ** d - 1)) * span;
    const want = [...new Set(cls.subarray(first, first + span))].sort((a, b) => a - b);
    assert.equal(e["data-classes"], want.join(","), `node ${n}`);
  }
  // The root can predict every class some leaf predicts, shown by name.
  const rootSet = [...new Set(cls)].sort((a, b) => a - b).map((k) => MNIST_INFO.classNames[k]);
  assert.ok(svg.includes(`>{${rootSet.join(",")}}</text>`));
});

Deno.test("a decision path has exactly D green edges and ends at the max-leaf", () => {
  for (const [depth, seed] of [[1, 1], [4, 2], [6, 5]]) {
    const tree = randomTree(depth, MNIST_INFO, seed);
    const x = input(784, seed + 10);
    const r = route(tree.params, depth, 10, x);
    const svg = treeSvg(tree, { input: x, label: 9 });
    const green = elements(svg, "edge").filter((e) => e.class.includes("on-path"));
    assert.equal(green.length, depth);
    assert.ok(green.every((e) => e.stroke === "#1a9641"));
    // The green edges chain from the root to the max-leaf's heap node, as route() says.
    const chain = [0];
    for (const e of green) {
      assert.equal(Number(e["data-from"]), chain[chain.length - 1]);
      chain.push(Number(e["data-to"]));
    }
    assert.deepEqual(chain, r.path);
    const { inner } = treeSizes(depth);
    const pathLeaves = elements(svg, "leaf").filter((e) => e["data-on-path"] === "true");
    assert.equal(pathLeaves.length, 1);
    assert.equal(Number(pathLeaves[0]["data-leaf"]), r.maxLeaf);
    assert.equal(Number(pathLeaves[0]["data-node"]), inner + r.maxLeaf);
    assert.equal(Number(pathLeaves[0]["data-class"]), r.predicted);
    // Logits and right-probabilities are written under each inner node on the path.
    const onPath = elements(svg, "inner").filter((e) => e["data-on-path"] === "true");
    assert.deepEqual(onPath.map((e) => Number(e["data-node"])), r.path.slice(0, depth));
    assert.equal(elements(svg, "logit").length, depth);
    assert.equal(elements(svg, "p-right").length, depth);
    assert.ok(svg.includes(`p(right) = ${r.right[0].toFixed(3)}`));
    assert.ok(svg.includes(`predicted: ${r.predicted}`));
    assert.ok(svg.includes("true class: 9"));
  }
});

Deno.test("the marked path is the max-leaf route even where a greedy walk disagrees", () => {
  // Root leans right (p = 0.6) into a near coin flip; left is near certain: the max-leaf is
  // on the left (0.4 * 0.99 > 0.6 * 0.55) while a greedy walk would go right.
  const tree = randomTree(2, MNIST_INFO, 4);
  tree.params.w.fill(0);
  tree.params.beta = 1;
  tree.params.b.set([Math.log(0.6 / 0.4), Math.log(0.01 / 0.99), Math.log(0.55 / 0.45)]);
  const svg = treeSvg(tree, { input: new Float32Array(784) });
  const green = elements(svg, "edge").filter((e) => e.class.includes("on-path"));
  assert.deepEqual(green.map((e) => [Number(e["data-from"]), Number(e["data-to"])]), [[0, 1], [
    1,
    3,
  ]]);
  assert.equal(svg.match(/data-max-leaf="(\d+)"/)![1], "0");
});

Deno.test("treeSvg() gives the same string for the same tree and options", () => {
  const x = input(784, 1);
  const a = treeSvg(randomTree(4, MNIST_INFO, 8), { input: x, label: 3, correlation: true });
  const b = treeSvg(randomTree(4, MNIST_INFO, 8), { input: x, label: 3, correlation: true });
  assert.equal(a, b);
  assert.notEqual(a, treeSvg(randomTree(4, MNIST_INFO, 9), { input: x, label: 3 }));
});

Deno.test("correlation mode changes only the filters on the path", () => {
  const tree = randomTree(3, MNIST_INFO, 2);
  const x = input(784, 4);
  const panels = (svg: string) =>
    new Map(
      [...svg.matchAll(
        /class="inner[^"]*" data-node="(\d+)" data-depth="\d+"[^]*?<image class="panel"[^>]*href="([^"]+)"/g,
      )]
        .map((m) => [Number(m[1]), m[2]]),
    );
  const plain = panels(treeSvg(tree, { input: x }));
  const corr = panels(treeSvg(tree, { input: x, correlation: true }));
  const path = new Set(route(tree.params, 3, 10, x).path);
  assert.equal(plain.size, 7);
  for (const [n, uri] of plain) {
    assert.equal(corr.get(n) === uri, !path.has(n), `node ${n}`);
  }
});

Deno.test("depthLimit draws the first levels and marks the cut subtrees", () => {
  const tree = randomTree(6, MNIST_INFO, 3);
  const x = input(784, 2);
  const svg = treeSvg(tree, { depthLimit: 2, input: x });
  assert.equal(elements(svg, "inner").length, 3);
  assert.equal(elements(svg, "leaf").length, 0);
  const cuts = elements(svg, "cut");
  assert.equal(cuts.length, 4);
  assert.ok(cuts.every((e) => e["data-depth"] === "2"));
  assert.equal(cuts.filter((e) => e["data-on-path"] === "true").length, 1);
  const green = elements(svg, "edge").filter((e) => e.class.includes("on-path"));
  assert.equal(green.length, 2);
  assert.deepEqual(
    green.map((e) => Number(e["data-to"])),
    route(tree.params, 6, 10, x).path.slice(1, 3),
  );
  // A limit at or above the depth draws the whole tree.
  assert.equal(elements(treeSvg(randomTree(2), { depthLimit: 9 }), "leaf").length, 4);
});

Deno.test("a tree on named tabular features lists each filter's largest weights by name", () => {
  const iris: DataInfo = {
    source: "csv:iris.csv",
    imageShape: null,
    featureNames: ["sepal length", "sepal width", "petal length", "petal width"],
    classNames: ["setosa", "versicolor", "virginica"],
  };
  const tree = randomTree(3, iris, 5);
  const svg = treeSvg(tree, { input: [5.1, 3.5, 1.4, 0.2], label: 0, correlation: true });
  assert.equal(elements(svg, "inner").length, 7);
  assert.equal(elements(svg, "leaf").length, 8);
  assert.equal(elements(svg, "features").length, 7, "seven filters as weight lists");
  assert.equal(elements(svg, "bars").length, 1, "the input as bars");
  assert.ok(!svg.includes("<image"));
  // Each list names its four largest weights (of the filter, or input × filter on the path).
  const lists = [...svg.matchAll(/data-features="([^"]*)" data-share="([^"]*)"/g)];
  assert.equal(lists.length, 7);
  for (const [, names, share] of lists) {
    assert.deepEqual(names.split("|").sort(), [...iris.featureNames!].sort());
    assert.equal(Number(share), 1);
  }
  const root = [...tree.params.w.subarray(0, 4)].map(Math.abs);
  const largest = iris.featureNames![root.indexOf(Math.max(...root))];
  const plain = treeSvg(tree);
  assert.ok(plain.includes(`data-features="${largest}|`), `root list starts with ${largest}`);
  assert.ok(svg.includes("true class: setosa"));
});

Deno.test("a tree on unnamed tabular features draws its filters as bars", () => {
  const named: DataInfo = {
    source: "test",
    imageShape: null,
    featureNames: ["a", "b", "c", "d", "e"],
    classNames: ["a", "b"],
  };
  const tree = randomTree(2, named, 5);
  const svg = treeSvg({ ...tree, data: { ...named, featureNames: null } }, {
    input: [0.1, 0.2, 0.3, 0.4, 0.5],
  });
  assert.equal(elements(svg, "bars").length, 3 + 1, "three filters and the input");
  assert.equal(elements(svg, "features").length, 0);
});

Deno.test("a tree on RGB images draws its filters as colour images", () => {
  const rgb: DataInfo = {
    source: "test",
    imageShape: [8, 8, 3],
    featureNames: null,
    classNames: ["cat", "dog"],
  };
  const svg = treeSvg(randomTree(2, rgb, 1), { input: input(192, 3) });
  assert.equal((svg.match(/<image class="panel"/g) ?? []).length, 3 + 1);
  assert.ok(svg.includes("per colour channel"));
});

Deno.test("treeSvg() rejects inputs, labels and limits that do not fit the tree", () => {
  const tree = randomTree(2);
  assert.throws(() => treeSvg(tree, { input: new Float32Array(10) }), RangeError);
  assert.throws(() => treeSvg(tree, { input: input(784, 1), label: 10 }), RangeError);
  assert.throws(() => treeSvg(tree, { depthLimit: 0 }), RangeError);
  assert.throws(() => treeSvg(tree, { correlation: true }), TypeError);
  assert.throws(
    () => treeSvg({ ...tree, data: { ...MNIST_INFO, imageShape: [27, 28, 1] } }),
    /image shape \[27, 28, 1\] holds 756 values but the tree has 784 features/,
  );
});
