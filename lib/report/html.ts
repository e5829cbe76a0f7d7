/**
 * The report as one self-contained HTML file: inline CSS and JavaScript, the data as
 * embedded JSON, pictures as inline SVG with data URIs, and a Content-Security-Policy that
 * forbids every network request. The page's maths is `predictor.js` and `pixels.js`, the
 * files softtree itself runs.
 *
 * @module
 */
import type { DrawableTree } from "../render/tree_svg.ts";
import { treeSvg } from "../render/tree_svg.ts";
import { type CurvePoint, learningCurvesSvg } from "../render/curves.ts";
import { importanceSvg } from "../render/features_svg.ts";
import { pixelsSource, predictorSource } from "../use/_sources.ts";
import type { ReportData } from "./data.ts";

async function pageSources(): Promise<{ css: string; js: string }> {
  const [css, page] = await Promise.all([
    import("./_page.css", { with: { type: "text" } }),
    import("./_page.js", { with: { type: "text" } }),
  ]);
  // One classic-scope module: the shared files' `export` keywords are dropped, since nothing
  // imports an inline script.
  const shared = [await predictorSource(), await pixelsSource()]
    .map((src) => src.replace(/^export /gm, "")).join("\n");
  return { css: css.default, js: `${shared}\n${page.default}` };
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Renders the report page for a tree and its data.
 *
 * @param tree The tree (drawn as SVG; its parameters are also in `data.model`).
 * @param data From `buildReportData`.
 * @returns The HTML document.
 * @throws {RangeError} When the tree cannot be drawn (see `treeSvg`).
 * @example
 * ```ts
 * const html = await reportHtml(checkpoint, buildReportData(checkpoint, { train, test }));
 * await Deno.writeTextFile("report.html", html);
 * ```
 */
export async function reportHtml(tree: DrawableTree, data: ReportData): Promise<string> {
  const { css, js } = await pageSources();
  if (/<\/script/i.test(js)) throw new Error("The page's script must not contain </script>");
  const svg = treeSvg(tree, { title: `Depth-${tree.config.depth} soft decision tree` });
  const curves = data.history.length
    ? learningCurvesSvg(data.history as unknown as CurvePoint[], {
      width: 900,
      title: "Loss and accuracy per epoch",
    })
    : `<p class="note">No learning curves: the run directory holds no training history.</p>`;
  const json = JSON.stringify(data).replace(/</g, "\\u003c");
  const input = data.model.input;
  const image = input.kind === "image";
  const draw = input.kind === "image"
    ? `<h3>Draw ${input.digit ? "a digit" : "an image"}</h3>
  <div class="pad-row">
    <canvas id="pad" width="280" height="280"></canvas>
    <div class="pad-side">
      <button type="button" id="pad-clear">Clear</button>
      what the tree sees
      <canvas id="seen" class="pixels"></canvas>
    </div>
  </div>
  <div class="note" id="pad-note">Draw with the mouse (or a finger); the tree answers as you draw.</div>`
    : `<h3>Enter a row</h3>
  <form id="row-form" class="row-form"></form>
  <div class="note">${
      input.scaling
        ? "In the features' original units; the page scales them as the tree was trained."
        : "As the tree reads them."
    }</div>`;
  const imp = data.features;
  const importances = image ? "" : `<section class="card wide" id="importances">
    <h2>Feature importances</h2>
    ${
    importanceSvg(imp.importances, imp.names, {
      title: "Each feature's share",
      caption: `|w| weighted by the probability mass reaching each node on the test split ` +
        `(${data.accuracy.n} inputs)`,
    })
  }
  </section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${escapeHtml(data.title)}</title>
<style>
${css}
</style>
</head>
<body>
<header>
  <h1>${escapeHtml(data.title)}</h1>
  <div class="chips" id="chips"></div>
</header>
<main>
  <div>
    <section class="card" id="tree-box">
      ${svg}
      <div class="zoom"><button type="button" id="zoom-in" title="zoom in">+</button><button type="button" id="zoom-out" title="zoom out">−</button><button type="button" id="zoom-fit" title="the whole tree">fit</button><button type="button" id="zoom-path" title="zoom to the path of the input">path</button></div>
      <div class="hint">Click a node for its details; drag to pan, scroll to zoom.</div>
    </section>
    <section class="card" id="node"></section>
  </div>
  <aside>
    <section class="card" id="try">
      <h2>Try an input</h2>
      ${draw}
      <h3>${image ? "Or pick a test image" : "Pick a test row"}</h3>
      <div id="samples" class="${image ? "samples" : "rows"}"></div>
    </section>
    <section class="card" id="result"><p class="note">The prediction appears here.</p></section>
  </aside>
  ${importances}
  <section class="card wide">
    <h2>${
    data.regression
      ? `Test scores: ${escapeHtml(data.regression.target)}`
      : "Test accuracy and confusion matrices"
  }</h2>
    <p class="note" id="teacher-note"></p>
    <div class="matrices" id="matrices"></div>
  </section>
  <section class="card wide curves">
    <h2>Learning curves</h2>
    ${curves}
  </section>
  <section class="card wide">
    <h2>The run</h2>
    <div id="run"></div>
  </section>
</main>
<script type="application/json" id="softtree-data">${json}</script>
<script type="module">
${js}
</script>
</body>
</html>
`;
}
