/**
 * The interactive HTML report of a trained tree: one self-contained file (inline CSS and
 * JavaScript, data as embedded JSON, no network) with the tree as a zoomable SVG, every
 * node's filter, classes, counts and prototypes, every leaf's distribution and test accuracy,
 * the confusion matrices (and the teacher's and the fidelity for a distilled tree), learning
 * curves, the run's command line and options, and inputs to try: a sample of test images or
 * a digit drawn on a canvas, routed live by the same JavaScript softtree predicts with.
 *
 * @example
 * ```ts
 * import { buildReportData, reportHtml } from "./mod.ts";
 *
 * const data = buildReportData(checkpoint, { train: splits.train, test: splits.test, metrics });
 * await Deno.writeTextFile("report.html", await reportHtml(checkpoint, data));
 * ```
 *
 * @module
 */
export {
  buildReportData,
  type LabelledRows,
  type NodeStats,
  type ReportData,
  type ReportInputs,
} from "./data.ts";
export { reportHtml } from "./html.ts";
