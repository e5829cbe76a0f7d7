/**
 * refitLeaves(): leaves refitted to the images they win, kept only when validation rises.
 */
import assert from "node:assert/strict";
import { loadNativeBackend } from "../lib/backends/native.ts";
import { oneHot } from "../lib/train/fit.ts";
import { refitLeaves } from "../lib/train/refit.ts";
import { initParams } from "../lib/tree/params.ts";
import { DEFAULT_TREE_CONFIG, type TreeConfig } from "../lib/tree/types.ts";
import { separable } from "./_tiny.ts";

const train = separable(400, { seed: 1 });
const val = separable(200, { seed: 2 });
const cfg: TreeConfig = { ...DEFAULT_TREE_CONFIG, depth: 2, features: 4, classes: 2, invTemp: 3 };

/** A tree whose filters split on feature 0 and whose leaves all say class 0. */
function splitTree() {
  const tree = loadNativeBackend("native").createTree(cfg, initParams(cfg, 1));
  const p = tree.getParams();
  p.w.fill(0);
  p.b.fill(0);
  for (let n = 0; n < 3; n++) {
    p.w[n * 4] = 4; // right when feature 0 is above 0.5
    p.b[n] = -2;
  }
  for (let l = 0; l < 4; l++) p.phi.set([1, 0], l * 2);
  tree.setParams(p);
  return tree;
}

Deno.test("refitLeaves() gives each leaf the class of the images it wins, and keeps a better tree", () => {
  const tree = splitTree();
  tree.setTrainData(train.x, oneHot(train.y, 2));
  tree.trainSamples(Int32Array.from({ length: 8 }, (_, i) => i), 4); // some Adam state
  const adam = tree.getAdamState();
  const r = refitLeaves(tree, train, oneHot(train.y, 2), val);
  assert.equal(r.kept, true);
  assert.equal(r.valBefore, 0.5);
  assert.equal(r.valAfter, 1);
  // The right-most leaf wins the class-1 images; the left-most the class-0 ones; the middle
  // two win none.
  assert.equal(r.changedLeaves, 1);
  assert.equal(r.emptyLeaves, 2);
  assert.equal(tree.evaluate(val.x, val.y).accuracy, 1);
  assert.deepEqual(tree.getAdamState(), adam, "Adam's state survives the refit");
  tree.dispose();
});

Deno.test("refitLeaves() undoes a refit that lowers validation accuracy, exactly", () => {
  const tree = splitTree();
  const p = tree.getParams();
  p.phi.set([0, 1], 3 * 2); // the right-most leaf already says class 1: val 100%
  tree.setParams(p);
  const before = tree.getParams();
  // Targets that swap the classes: a refit would say 0 on the right, 1 on the left.
  const swapped = oneHot(train.y.map((y) => 1 - y), 2);
  const r = refitLeaves(tree, train, swapped, val);
  assert.equal(r.kept, false);
  assert.equal(r.valBefore, 1);
  assert.ok(r.valAfter < 0.1, `${r.valAfter}`);
  assert.deepEqual(tree.getParams(), before);
  assert.throws(() => refitLeaves(tree, train, new Float32Array(3), val), RangeError);
  tree.dispose();
});
