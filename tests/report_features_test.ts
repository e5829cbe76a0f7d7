import assert from "node:assert/strict";
import { buildReportData } from "../lib/report/data.ts";
import { featureImportances, hardTreeAgreement } from "../lib/tree/importance.ts";
import { COLUMNS, tabularRun } from "./_tabular.ts";

Deno.test("the report's feature facts are the library's importances and hard-tree agreement on the test split", async () => {
  const run = await tabularRun();
  const { tree, splits } = run;
  const data = buildReportData(tree, { train: splits.train, test: splits.test });
  assert.deepEqual(data.features.names, COLUMNS);
  const imp = featureImportances(tree.params, tree.config.depth, {
    rows: splits.test,
    scaling: tree.data.scaling,
  });
  data.features.importances.forEach((v, f) => assert.ok(Math.abs(v - imp[f]) < 1e-9, `${f}`));
  const hard = hardTreeAgreement(tree.params, tree.config.depth, tree.config.classes, splits.test);
  assert.deepEqual(data.features.hardTree, {
    leaf: hard.leaf,
    class: hard.class,
    accuracy: hard.accuracy,
  });
  await Deno.remove(run.dir, { recursive: true });
});
