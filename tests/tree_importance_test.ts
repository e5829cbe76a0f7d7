import assert from "node:assert/strict";
import {
  featureImportances,
  hardLeaf,
  hardTreeAgreement,
  nodeMass,
  pathContributions,
  RouteTally,
  topTerms,
} from "../lib/tree/importance.ts";
import { leafClasses, route } from "../lib/tree/inspect.ts";
import type { TreeParams } from "../lib/tree/types.ts";
import { separable } from "./_tiny.ts";

/**
 * Depth 2 over 3 features: the root reads feature 0, its left child feature 1, its right
 * child feature 2 (weights 4, 2, 8), with a sharp beta.
 */
function handTree(beta = 10): TreeParams {
  const w = new Float32Array(3 * 3);
  w[0 * 3 + 0] = 4;
  w[1 * 3 + 1] = 2;
  w[2 * 3 + 2] = 8;
  const b = Float32Array.from([-2, -1, -4]);
  // Leaves 0..3 predict classes 0, 1, 1, 0.
  const phi = Float32Array.from([3, 0, 0, 3, 0, 3, 3, 0]);
  return { w, b, phi, beta };
}

Deno.test("featureImportances() weighs each node's |w| by the mass reaching it and sums to 1", () => {
  const params = handTree();
  // Every row goes left at the root (feature 0 = 0): node 2 gets almost no mass.
  const x = Float32Array.from([0, 1, 1, 0, 0.2, 0.9, 0, 0.7, 0.3]);
  const mass = nodeMass(params, 2, { x, n: 3 });
  assert.equal(mass[0], 3);
  assert.ok(mass[1] > 2.99 && mass[2] < 0.01, `mass ${mass}`);
  const imp = featureImportances(params, 2, { rows: { x, n: 3 } });
  assert.ok(Math.abs(imp.reduce((a, v) => a + v, 0) - 1) < 1e-12);
  // Feature 2's weight is the largest but hardly any input reaches its node.
  assert.ok(imp[2] < 0.01 && imp[0] > imp[1] && imp[1] > 0.3, `importances ${imp}`);
  // Without rows every node weighs the same: |w| alone decides.
  const flat = featureImportances(params, 2);
  assert.deepEqual(
    [...flat].map((v) => +v.toFixed(6)),
    [4 / 14, 2 / 14, 8 / 14].map((v) => +v.toFixed(6)),
  );
});

Deno.test("featureImportances() gives a constant column no importance", () => {
  const params = handTree();
  const imp = featureImportances(params, 2, { scaling: { min: [0, 5, 0], max: [1, 5, 1] } });
  assert.equal(imp[1], 0);
  assert.ok(Math.abs(imp[0] + imp[2] - 1) < 1e-12);
});

Deno.test("pathContributions() splits each node's z into feature terms and signs them by the way taken", () => {
  const params = handTree(1.5);
  const x = [0.9, 0.1, 0.8];
  const c = pathContributions(params, 2, 2, x);
  const r = route(params, 2, 2, x);
  assert.deepEqual(c.steps.map((s) => s.node), r.path.slice(0, -1));
  assert.equal(c.leaf, r.maxLeaf);
  for (const s of c.steps) {
    const z = s.terms.reduce((a, v) => a + v, s.bias);
    assert.ok(Math.abs(z - s.z) < 1e-9);
    assert.equal(s.right, s.z > 0);
  }
  // Root goes right (0.9 * 4 > 2), node 2 goes right (0.8 * 8 > 4): both push the path along.
  assert.deepEqual(c.steps.map((s) => s.right), [true, true]);
  assert.ok(Math.abs(c.total[0] - 1.5 * 0.9 * 4) < 1e-6);
  assert.ok(Math.abs(c.total[2] - 1.5 * 0.8 * 8) < 1e-6);
  assert.equal(c.total[1], 0);
});

Deno.test("hardLeaf() follows the sign of each test; with a sharp beta it is the max-leaf", () => {
  const params = handTree(50);
  const ds = separable(200, { features: 3, seed: 4 });
  for (let i = 0; i < ds.n; i++) {
    const x = ds.x.subarray(i * 3, i * 3 + 3);
    assert.equal(hardLeaf(params, 2, x), route(params, 2, 2, x).maxLeaf);
  }
  const a = hardTreeAgreement(params, 2, 2, ds);
  assert.equal(a.leaf, 1);
  assert.equal(a.class, 1);
  assert.ok(a.accuracy! >= 0 && a.accuracy! <= 1);
});

Deno.test("hardTreeAgreement() counts rows whose hard leaf differs from the max-leaf", () => {
  // A soft root, a decisive left child (reads x1 sharply) and an undecided right child (z = 0).
  const params: TreeParams = {
    w: Float32Array.from([1, 0, 0, 10, 0, 0]),
    b: Float32Array.from([-0.5, 0, 0]),
    phi: Float32Array.from([3, 0, 0, 3, 3, 0, 0, 3]), // leaves: classes 0, 1, 0, 1
    beta: 1,
  };
  // Row 0 (x0 = 0.6): the root leans right (p = 0.525) onto an even split, so the left
  // child's right leaf (0.475 * 0.993) is the max-leaf; the hard route goes right, then left
  // (z = 0 is not > 0): leaf 2, class 0. Row 1 (x0 = 0.4): both reach leaf 1.
  const x = Float32Array.from([0.6, 0.5, 0.4, 0.5]);
  assert.equal(route(params, 2, 2, x.subarray(0, 2)).maxLeaf, 1);
  assert.equal(hardLeaf(params, 2, x.subarray(0, 2)), 2);
  const a = hardTreeAgreement(params, 2, 2, { x, n: 2, y: [0, 1] });
  assert.deepEqual(a, { n: 2, leaf: 0.5, class: 0.5, accuracy: 1 });
});

Deno.test("topTerms() keeps the largest magnitudes and says what share of |w|² they hold", () => {
  const t = topTerms([0.1, -2, 1], 2);
  assert.deepEqual(t.indices, [1, 2]);
  assert.ok(Math.abs(t.share - 5 / 5.01) < 1e-12);
  assert.deepEqual(topTerms([0, 0], 1), { indices: [0], share: 1 });
});

Deno.test("RouteTally counts from forward passes what nodeMass() and hardTreeAgreement() compute", () => {
  const params = handTree(3);
  const ds = separable(301, { features: 3, seed: 9 });
  const tally = new RouteTally(2, leafClasses(params, 2));
  // Two uneven batches of p(right) [B, I] and max-leaves [B], as a backend's forward gives.
  for (const [from, to] of [[0, 200], [200, 301]]) {
    const right = new Float64Array((to - from) * 3);
    const maxLeaf = new Int32Array(to - from);
    for (let i = from; i < to; i++) {
      const r = route(params, 2, 2, ds.x.subarray(i * 3, i * 3 + 3));
      right.set(r.right, (i - from) * 3);
      maxLeaf[i - from] = r.maxLeaf;
    }
    tally.add(right, maxLeaf, ds.y.subarray(from, to));
  }
  const mass = nodeMass(params, 2, ds);
  for (let n = 0; n < 3; n++) assert.ok(Math.abs(tally.mass[n] - mass[n]) < 1e-9);
  assert.deepEqual(tally.agreement(), hardTreeAgreement(params, 2, 2, ds));
  assert.deepEqual(
    featureImportances(params, 2, { mass: tally.mass }),
    featureImportances(params, 2, { rows: ds }),
  );
});
