/**
 * The tree diagram: a pure function from a trained soft decision tree to an SVG string.
 *
 * Inner nodes show their filter `w_n` as a picture of the input's shape (a 28x28 image for
 * MNIST, an RGB image for three channels; for tabular features with names, a list of the
 * largest weights by name with the share of `|w|²` they hold, else a strip of bars) in a
 * diverging colour map centred on zero, scaled symmetrically per filter; above each inner
 * node, the classes its subtree can predict; each leaf shows its class distribution
 * `Q^l = softmax(phi^l)` as a bar chart with its argmax class under it (a regression tree's
 * leaf shows its value in the target's units, as a bar against the other leaves' values, with
 * the spread and share of the training rows it holds where the checkpoint keeps them; above
 * its inner nodes, the range of values below). Given an input, the
 * route to its max-leaf (the leaf the max-leaf prediction uses, from {@linkcode route}) is
 * drawn in green, with `z = beta (x.w + b)` and `p(right) = sigmoid(z)` under each inner node
 * on it; in correlation mode those nodes show `x * w` instead of `w`.
 *
 * Elements carry classes and data attributes so that tests and scripts can read the picture:
 * `g.inner[data-node][data-depth][data-classes]`, `g.leaf[data-leaf][data-class]` (a
 * regression tree's leaves: `[data-value]`),
 * `g.cut[data-node]` (a subtree below `depthLimit`), `line.edge[data-from][data-to]`, and
 * `data-on-path="true"` / class `on-path` on everything along the marked path.
 *
 * @module
 */
import type { DataInfo } from "../io/types.ts";
import { leafClasses, leafDistributions, route } from "../tree/inspect.ts";
import type { Route } from "../tree/inspect.ts";
import type { TreeConfig, TreeParams } from "../tree/types.ts";
import { isRegression, treeSizes } from "../tree/types.ts";
import { leafValues, valueText } from "../tree/regression.ts";
import {
  BAR_GREY,
  BAR_MAX,
  diverging,
  divergingStops,
  EDGE_GREY,
  INK,
  MUTED,
  PATH_GREEN,
} from "./_colors.ts";
import { encodePngRgb, pngDataUri } from "./_png_encode.ts";
import { weightListHeight, weightListSvg } from "./features_svg.ts";
import { esc, fitText, FONT_FAMILY, num, text, textWidth } from "./_svg.ts";

/** What the renderers need of a tree: its shape, its parameters and what its data look like. */
export interface DrawableTree {
  /** Only `depth`, `features`, `classes` and `task` are read. */
  config: Pick<TreeConfig, "depth" | "features" | "classes" | "task">;
  /** The learned parameters. */
  params: TreeParams;
  /** Image shape or feature names, and class names. */
  data: DataInfo;
}

/** Options of {@linkcode treeSvg}. */
export interface TreeSvgOptions {
  /**
   * Draw only the first `depthLimit` levels of inner nodes; each subtree below is drawn as a
   * dashed box with the classes it can predict. Values above the tree's depth draw it whole.
   * @default the tree's depth
   */
  depthLimit?: number;
  /** An input `x [F]` whose decision path is drawn (in the data's scale, e.g. [0, 1] pixels). */
  input?: ArrayLike<number>;
  /** The input's true class, if known; written beside the input. */
  label?: number;
  /** A regression tree's input: its true value (in the target's units), if known. */
  trueValue?: number;
  /**
   * On the path, show `x * w` (the input times the filter) instead of `w`. Needs `input`.
   * @default false
   */
  correlation?: boolean;
  /** The title above the tree. @default "Soft decision tree: depth D, K classes" */
  title?: string;
  /** A line under the title in larger type, e.g. `"samples seen: 12,000"`. */
  caption?: string;
  /**
   * Draw the colour legend and the explanatory lines under the title.
   * @default true
   */
  legend?: boolean;
}

/** How one filter (or input) is drawn. */
interface PanelShape {
  kind: "gray" | "rgb" | "bars" | "named";
  /** Feature names of a `"named"` panel (a list of the largest weights), and its rows. */
  names?: string[];
  rows?: number;
  /** Source pixels `[h, w]` (channels other than 1 and 3 are laid side by side). */
  h: number;
  w: number;
  channels: number;
  /** Screen pixels per source pixel. */
  scale: number;
  /** Panel size on screen. */
  pw: number;
  ph: number;
}

const MARGIN = 16;
const LABEL_H = 16; // class-set line above a panel
const PATH_TEXT_H = 30; // two lines under a panel on the path
const EDGE_GAP = 26;
const LEAF_BAR_H = 40;
const LEAF_AREA_H = 86;

/** The width of one bottom slot (leaf or cut subtree) for a drawn depth. */
function slotWidthFor(levels: number): number {
  if (levels <= 2) return 128;
  if (levels === 3) return 112;
  if (levels === 4) return 84;
  if (levels === 5) return 68;
  if (levels === 6) return 60;
  return 52;
}

function panelShape(
  data: DataInfo,
  features: number,
  maxSize: number,
  namedWidth: number,
): PanelShape {
  if (data.imageShape) {
    const [h, w, c] = data.imageShape;
    if (h * w * c !== features) {
      throw new RangeError(
        `Cannot draw filters: image shape [${h}, ${w}, ${c}] holds ${h * w * c} values ` +
          `but the tree has ${features} features`,
      );
    }
    const kind = c === 3 ? "rgb" : "gray";
    const sw = kind === "rgb" ? w : w * c;
    const scale = Math.max(1, Math.floor(maxSize / Math.max(h, sw)));
    return { kind, h, w: sw, channels: c, scale, pw: sw * scale, ph: h * scale };
  }
  if (data.featureNames?.length === features) {
    // Tabular with names: each filter as its few largest weights by name.
    const rows = Math.min(features, 4);
    const ph = weightListHeight(rows);
    return {
      kind: "named",
      names: data.featureNames,
      rows,
      h: 1,
      w: features,
      channels: 1,
      scale: 1,
      pw: namedWidth,
      ph,
    };
  }
  const ph = Math.max(28, Math.round(maxSize * 0.55));
  return { kind: "bars", h: 1, w: features, channels: 1, scale: 1, pw: maxSize, ph };
}

function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]);
    if (a > m) m = a;
  }
  return m > 0 && Number.isFinite(m) ? m : 1;
}

/** Source pixels of a panel as RGB bytes `[h, w, 3]`. */
function panelRgb(values: ArrayLike<number>, shape: PanelShape, mode: "signed" | "input") {
  const { h, w, channels } = shape;
  const rgb = new Uint8Array(h * w * 3);
  if (shape.kind === "rgb") {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      lo = Math.min(lo, values[i]);
      hi = Math.max(hi, values[i]);
    }
    const m = maxAbs(values);
    for (let i = 0; i < h * w * 3; i++) {
      const v = values[i];
      // Signed: grey (128) is zero; input: as is, or min-max when outside [0, 1].
      const t = mode === "signed"
        ? 0.5 + 0.5 * v / m
        : lo >= 0 && hi <= 1
        ? v
        : (v - lo) / (hi - lo || 1);
      rgb[i] = Math.round(255 * Math.max(0, Math.min(1, t)));
    }
    return rgb;
  }
  // Gray or several channels side by side: source index (y, x, ch) -> panel (y, ch * W + x).
  const srcW = w / channels;
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    lo = Math.min(lo, values[i]);
    hi = Math.max(hi, values[i]);
  }
  const m = maxAbs(values);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < srcW; x++) {
      for (let c = 0; c < channels; c++) {
        const v = values[(y * srcW + x) * channels + c];
        const o = (y * w + c * srcW + x) * 3;
        if (mode === "signed") {
          rgb.set(diverging(v / m), o);
        } else {
          // Dark ink on white paper; [0, 1] data as is, anything else min-max.
          const t = lo >= 0 && hi <= 1 ? v : (v - lo) / (hi - lo || 1);
          const g = Math.round(255 * (1 - Math.max(0, Math.min(1, t))));
          rgb[o] = rgb[o + 1] = rgb[o + 2] = g;
        }
      }
    }
  }
  return rgb;
}

/** A panel at `(x, y)` (top-left): an embedded pixel image, or bars for tabular data. */
function panelSvg(
  values: ArrayLike<number>,
  shape: PanelShape,
  x: number,
  y: number,
  mode: "signed" | "input",
): string {
  if (shape.kind === "named" && mode === "signed") {
    return weightListSvg(values, shape.names!, x, y, shape.pw, shape.rows!);
  }
  if (shape.kind === "gray" || shape.kind === "rgb") {
    const uri = pngDataUri(
      encodePngRgb(shape.w, shape.h, panelRgb(values, shape, mode), shape.scale),
    );
    return `<image class="panel" x="${num(x)}" y="${num(y)}" width="${shape.pw}" ` +
      `height="${shape.ph}" image-rendering="optimizeSpeed" style="image-rendering:pixelated" ` +
      `preserveAspectRatio="none" href="${uri}"/>`;
  }
  // Tabular: one bar per feature from a zero line, coloured and scaled symmetrically.
  const m = maxAbs(values);
  const n = values.length;
  const bw = shape.pw / n;
  const mid = y + shape.ph / 2;
  const half = shape.ph / 2 - 2;
  const gap = bw > 4 ? 1 : 0;
  const parts = [
    `<g class="panel bars"><rect x="${num(x)}" y="${num(y)}" width="${shape.pw}" ` +
    `height="${shape.ph}" fill="#fafafa"/>`,
  ];
  for (let f = 0; f < n; f++) {
    const v = values[f];
    const t = mode === "signed" ? v / m : Math.max(-1, Math.min(1, v / m));
    const hgt = Math.abs(t) * half;
    const fill = diverging(t);
    parts.push(
      `<rect x="${num(x + f * bw + gap / 2)}" y="${num(t >= 0 ? mid - hgt : mid)}" ` +
        `width="${num(Math.max(0.5, bw - gap))}" height="${num(Math.max(hgt, 0.5))}" ` +
        `fill="rgb(${fill.join(",")})"/>`,
    );
  }
  parts.push(
    `<line x1="${num(x)}" y1="${num(mid)}" x2="${num(x + shape.pw)}" y2="${num(mid)}" ` +
      `stroke="#888" stroke-width="0.6"/></g>`,
  );
  return parts.join("");
}

/** Text on a white backing so edges passing behind it do not cross the letters. */
function haloText(
  x: number,
  y: number,
  content: string,
  size: number,
  attrs: { fill?: string; bold?: boolean; cls?: string } = {},
): string {
  const w = textWidth(content, size, attrs.bold) + 4;
  return `<rect x="${num(x - w / 2)}" y="${num(y - size * 0.95)}" width="${num(w)}" ` +
    `height="${num(size * 1.25)}" fill="#ffffff" fill-opacity="0.9"/>` +
    text(x, y, content, { size, ...attrs });
}

/** The range of values of some leaves: `"151"` or `"98.2–151"`. */
function valueRangeText(values: number[]): string {
  const lo = Math.min(...values), hi = Math.max(...values);
  return lo === hi ? valueText(lo) : `${valueText(lo)}–${valueText(hi)}`;
}

function classSetText(classes: number[], names: string[]): string {
  const short = classes.every((k) => names[k].length <= 2);
  return "{" + classes.map((k) => names[k]).join(short ? "," : ", ") + "}";
}

function signed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return x >= 0 ? "+" + s : s.replace("-", "−");
}

/**
 * Draw a soft decision tree as SVG.
 *
 * @param tree The tree's config (depth, features, classes), parameters and data facts.
 * @param options What to draw besides the tree: an input's path, correlation, a depth limit.
 * @returns A standalone SVG document; the same tree and options always give the same string.
 * @throws {RangeError} When the parameters, class names, input or label do not fit the
 *   config, or `depthLimit` is below 1.
 * @throws {TypeError} When `correlation` is asked for without an `input`.
 * @example
 * ```ts
 * const svg = treeSvg(checkpoint, { input: test.x.subarray(0, 784), label: test.y[0] });
 * await Deno.writeTextFile("tree.svg", svg);
 * ```
 */
export function treeSvg(tree: DrawableTree, options: TreeSvgOptions = {}): string {
  const { config, params, data } = tree;
  const D = config.depth;
  const K = config.classes;
  const F = config.features;
  const { inner: I, leaves: L } = treeSizes(D);
  if (params.w.length !== I * F || params.b.length !== I || params.phi.length !== L * K) {
    throw new RangeError(
      `Cannot draw tree: parameters do not fit depth ${D}, ${F} features, ${K} classes ` +
        `(w has ${params.w.length}, b ${params.b.length}, phi ${params.phi.length} values)`,
    );
  }
  if (data.classNames.length !== K) {
    throw new RangeError(
      `Cannot draw tree: ${data.classNames.length} class names for ${K} classes`,
    );
  }
  const depthLimit = options.depthLimit ?? D;
  if (!Number.isInteger(depthLimit) || depthLimit < 1) {
    throw new RangeError(
      `Cannot draw tree: depthLimit must be a whole number >= 1, got ${depthLimit}`,
    );
  }
  const x = options.input;
  if (x && x.length !== F) {
    throw new RangeError(`Cannot draw path: input has ${x.length} values, the tree expects ${F}`);
  }
  if (options.correlation && !x) {
    throw new TypeError("Cannot draw correlation: it needs an input (options.input)");
  }
  const label = options.label;
  if (label !== undefined && !(Number.isInteger(label) && label >= 0 && label < K)) {
    throw new RangeError(`Cannot draw path: label must be a class in [0, ${K}), got ${label}`);
  }
  const names = data.classNames;
  const legend = options.legend ?? true;
  const regression = isRegression(config);
  const target = data.target;
  if (regression && !target) {
    throw new RangeError(
      "Cannot draw tree: the regression tree does not record its target (data.target)",
    );
  }
  const values = regression ? Array.from(leafValues(params.phi, target!)) : [];
  const spread = regression && target!.leaves?.share.length === L ? target!.leaves : undefined;
  const vLo = regression ? Math.min(...values) : 0;
  const vHi = regression ? Math.max(...values) : 0;
  const N = Math.min(D, depthLimit); // inner-node levels drawn
  const cut = N < D;

  const leafCls = leafClasses(params, K);
  const q = leafDistributions(params, K);
  const r: Route | null = x ? route(params, D, K, x) : null;
  const onPath = new Set(r ? r.path : []);

  // Classes a subtree can predict: the argmax classes of the leaves below it.
  const subtreeClasses = (n: number, d: number): number[] => {
    const span = 2 ** (D - d);
    const first = (n - (2 ** d - 1)) * span;
    const set = new Set<number>();
    for (let l = first; l < first + span; l++) set.add(leafCls[l]);
    return [...set].sort((a, b) => a - b);
  };
  // What a subtree can predict, in words: its classes, or the range of its leaves' values.
  const subtreeText = (n: number, d: number): string => {
    if (!regression) return classSetText(subtreeClasses(n, d), names);
    const span = 2 ** (D - d);
    const first = (n - (2 ** d - 1)) * span;
    return valueRangeText(values.slice(first, first + span));
  };
  const predictedText = r ? regression ? valueText(values[r.maxLeaf]) : names[r.predicted] : "";

  // Geometry.
  const slotW = slotWidthFor(N);
  const maxPanel = Math.min(112, 2 * slotW - 20);
  const shape = panelShape(data, F, maxPanel, Math.min(180, 2 * slotW - 16));
  const levelH = LABEL_H + shape.ph + PATH_TEXT_H + EDGE_GAP;
  const treeSpan = 2 ** N * slotW;

  const title = options.title ??
    (regression
      ? `Soft regression tree: depth ${D}, predicts ${target!.name}`
      : `Soft decision tree: depth ${D}, ${K} classes`);
  const info: string[] = [];
  if (legend) {
    info.push(
      regression
        ? `Above each node: the range of values of ${target!.name} its leaves hold. Leaves: ` +
          `the value (bar: against the other leaves)` +
          (spread ? `, ± the spread of the training rows it holds, and their share.` : ".")
        : "Above each node: the classes its subtree can predict. Leaves: class distribution, argmax below.",
    );
    if (r) {
      info.push(
        "Green: the path to the input's most probable leaf; under each node on it, " +
          "z = β(x·w + b) and p(right) = σ(z) (z > 0 goes right).",
      );
    }
    if (cut) info.push(`Levels below depth ${N} are cut: dashed boxes stand for subtrees.`);
    if (shape.kind === "bars" && data.featureNames) {
      info.push("Bars, left to right: " + data.featureNames.join(", "));
    }
  }
  let headerH = 36 + info.length * 15;
  if (options.caption) headerH += 22;
  // With an input, room for the correlation legend either way, so that the plain and the
  // correlation picture of a path have the same size (the two frames of its GIF).
  headerH = Math.max(headerH, legend ? (r ? 70 : 56) : 0) + 8;

  const legendW = legend ? 250 : 0;
  const headerW = MARGIN * 2 + Math.max(
    textWidth(title, 15, true),
    ...info.map((s) => Math.min(textWidth(s, 11), 900)),
    options.caption ? textWidth(options.caption, 14, true) : 0,
  ) + (legend ? 24 + legendW : 0);

  // The input sits left of the root; shift the tree right if it would not fit.
  const inputTexts: string[] = [];
  if (r) {
    if (regression) {
      const tv = options.trueValue;
      inputTexts.push(`true ${target!.name}: ${tv !== undefined ? valueText(tv) : "unknown"}`);
    } else {
      inputTexts.push(label !== undefined ? `true class: ${names[label]}` : "true class: unknown");
    }
    inputTexts.push(`predicted: ${predictedText}`);
    inputTexts.push(`leaf ${r.maxLeaf}, P = ${r.reach[I + r.maxLeaf].toFixed(3)}`);
  }
  const inputW = r ? shape.pw + 10 + Math.max(...inputTexts.map((s) => textWidth(s, 12, true))) : 0;
  const rootHalf = Math.max(shape.pw / 2, 64);
  const leftReserve = r ? Math.max(0, MARGIN + inputW + 40 - (treeSpan / 2 - rootHalf)) : 0;
  const width = Math.ceil(Math.max(MARGIN * 2 + leftReserve + treeSpan, headerW));
  const originX = MARGIN + leftReserve +
    Math.max(0, (width - (MARGIN * 2 + leftReserve + treeSpan)) / 2);
  const height = Math.ceil(headerH + N * levelH + LEAF_AREA_H + MARGIN);

  const nodeX = (n: number, d: number) => {
    const i = n - (2 ** d - 1);
    return originX + (i + 0.5) * slotW * 2 ** (N - d);
  };
  const levelTop = (d: number) => headerH + d * levelH;
  const panelTop = (d: number) => levelTop(d) + LABEL_H;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}" class="softtree-tree" ` +
      `data-depth="${D}" data-drawn-depth="${N}"` +
      (r ? ` data-max-leaf="${r.maxLeaf}" data-predicted="${r.predicted}"` : "") +
      (r && regression ? ` data-value="${values[r.maxLeaf]}"` : "") + `>`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);

  // Header: title, explanations, caption; legend on the right.
  out.push(text(MARGIN, 24, title, { size: 15, anchor: "start", bold: true, fill: INK }));
  let y = 24;
  for (const line of info) {
    y += 15;
    const fitted = fitText(line, width - MARGIN * 3 - legendW, 11, 8);
    out.push(text(MARGIN, y, fitted.text, { size: fitted.size, anchor: "start", fill: MUTED }));
  }
  if (options.caption) {
    y += 22;
    out.push(
      text(MARGIN, y, options.caption, {
        size: 14,
        anchor: "start",
        bold: true,
        fill: INK,
        cls: "caption",
      }),
    );
  }
  if (legend) out.push(legendSvg(width - MARGIN - legendW, 10, shape, !!options.correlation));

  // Edges first, so that nodes and their labels sit on top.
  const edges: string[] = [];
  const pathEdges: string[] = [];
  for (let d = 0; d < N; d++) {
    for (let n = 2 ** d - 1; n < 2 ** (d + 1) - 1; n++) {
      const x1 = nodeX(n, d);
      const y1 = panelTop(d) + shape.ph;
      for (const c of [2 * n + 1, 2 * n + 2]) {
        const x2 = nodeX(c, d + 1);
        const y2 = levelTop(d + 1) + 3;
        const green = onPath.has(n) && onPath.has(c);
        const line =
          `<line class="edge${green ? " on-path" : ""}" data-from="${n}" data-to="${c}" ` +
          `x1="${num(x1)}" y1="${num(y1)}" x2="${num(x2)}" y2="${num(y2)}" ` +
          (green
            ? `stroke="${PATH_GREEN}" stroke-width="4" stroke-linecap="round"/>`
            : `stroke="${EDGE_GREY}" stroke-width="1.2"/>`);
        (green ? pathEdges : edges).push(line);
      }
    }
  }
  out.push(`<g class="edges">`, ...edges, ...pathEdges, `</g>`);

  // Inner nodes.
  for (let d = 0; d < N; d++) {
    const nodeSlot = slotW * 2 ** (N - d);
    for (let n = 2 ** d - 1; n < 2 ** (d + 1) - 1; n++) {
      const cx = nodeX(n, d);
      const classes = subtreeClasses(n, d);
      const here = onPath.has(n);
      const setText = subtreeText(n, d);
      const fitted = fitText(setText, nodeSlot - 8, 12, 7);
      out.push(
        `<g class="inner${here ? " on-path" : ""}" data-node="${n}" data-depth="${d}" ` +
          `data-classes="${classes.join(",")}"${here ? ` data-on-path="true"` : ""}>`,
        `<title>${
          esc(`node ${n}: ${regression ? "its leaves hold" : "can predict"} ${setText}`)
        }</title>`,
        haloText(cx, levelTop(d) + 12, fitted.text, fitted.size, {
          fill: here ? PATH_GREEN : INK,
          bold: here,
          cls: "classes",
        }),
      );
      const w = params.w.subarray(n * F, (n + 1) * F);
      let values: ArrayLike<number> = w;
      if (here && options.correlation && x) {
        const v = new Float32Array(F);
        for (let f = 0; f < F; f++) v[f] = x[f] * w[f];
        values = v;
      }
      const px = cx - shape.pw / 2;
      const py = panelTop(d);
      out.push(panelSvg(values, shape, px, py, "signed"));
      out.push(
        `<rect class="frame" x="${num(px - 0.5)}" y="${num(py - 0.5)}" width="${shape.pw + 1}" ` +
          `height="${shape.ph + 1}" fill="none" ` +
          (here
            ? `stroke="${PATH_GREEN}" stroke-width="3"/>`
            : `stroke="#bbbbbb" stroke-width="1"/>`),
      );
      if (here && r) {
        const size = nodeSlot >= 120 ? 11 : 10;
        out.push(
          haloText(cx, py + shape.ph + 13, `z = ${signed(r.logits[n], 2)}`, size, {
            fill: INK,
            bold: true,
            cls: "logit",
          }),
          haloText(cx, py + shape.ph + 26, `p(right) = ${r.right[n].toFixed(3)}`, size, {
            fill: INK,
            cls: "p-right",
          }),
        );
      }
      out.push(`</g>`);
    }
  }

  // Bottom level: leaves, or cut subtrees.
  const bottom = levelTop(N);
  for (let n = 2 ** N - 1; n < 2 ** (N + 1) - 1; n++) {
    const cx = nodeX(n, N);
    const here = onPath.has(n);
    const x0 = cx - slotW / 2 + 5;
    const bw = (slotW - 10) / K;
    if (cut) {
      const classes = subtreeClasses(n, N);
      const setText = subtreeText(n, N);
      const fitted = fitText(setText, slotW - 12, 11, 7);
      out.push(
        `<g class="cut${here ? " on-path" : ""}" data-node="${n}" data-depth="${N}" ` +
          `data-classes="${classes.join(",")}"${here ? ` data-on-path="true"` : ""}>`,
        `<title>${
          esc(`subtree at node ${n}: ${regression ? "its leaves hold" : "can predict"} ${setText}`)
        }</title>`,
        `<rect x="${num(x0)}" y="${num(bottom + 3)}" width="${slotW - 10}" height="46" rx="5" ` +
          `fill="#f6f6f6" stroke="${here ? PATH_GREEN : EDGE_GREY}" ` +
          `stroke-width="${here ? 3 : 1}" stroke-dasharray="4 3"/>`,
        text(cx, bottom + 21, fitted.text, {
          size: fitted.size,
          fill: here ? PATH_GREEN : INK,
          bold: here,
        }),
        text(cx, bottom + 38, `⋯ ${2 ** (D - N)} leaves`, { size: 9, fill: MUTED }),
      );
      if (here && r) {
        out.push(
          text(cx, bottom + 64, `leaf ${r.maxLeaf}: ${predictedText}`, {
            size: 11,
            bold: true,
            fill: PATH_GREEN,
            cls: "predicted",
          }),
        );
      }
      out.push(`</g>`);
      continue;
    }
    const l = n - I;
    const k = leafCls[l];
    if (regression) {
      out.push(
        regressionLeafSvg(l, n, D, values[l], vLo, vHi, spread, target!.name, {
          cx,
          x0,
          top: bottom,
          slotW,
          here,
        }),
      );
      continue;
    }
    out.push(
      `<g class="leaf${here ? " on-path" : ""}" data-leaf="${l}" data-node="${n}" ` +
        `data-depth="${D}" data-class="${k}"${here ? ` data-on-path="true"` : ""}>`,
      `<title>${
        esc(
          `leaf ${l}: ` +
            names.map((name, j) => `${name} ${(100 * q[l * K + j]).toFixed(1)}%`).join(", "),
        )
      }</title>`,
    );
    if (here) {
      out.push(
        `<rect x="${num(x0 - 3)}" y="${num(bottom + 1)}" width="${slotW - 4}" ` +
          `height="${LEAF_AREA_H - 4}" rx="5" fill="#eaf6ec" stroke="${PATH_GREEN}" ` +
          `stroke-width="3"/>`,
      );
    }
    const base = bottom + 6 + LEAF_BAR_H;
    out.push(
      `<rect x="${num(x0)}" y="${num(bottom + 6)}" width="${slotW - 10}" height="${LEAF_BAR_H}" ` +
        `fill="#ffffff" stroke="#dddddd" stroke-width="0.6"/>`,
    );
    for (let j = 0; j < K; j++) {
      const h = q[l * K + j] * LEAF_BAR_H;
      out.push(
        `<rect class="bar" x="${num(x0 + j * bw + (bw > 4 ? 0.5 : 0))}" y="${num(base - h)}" ` +
          `width="${num(Math.max(0.5, bw - (bw > 4 ? 1 : 0)))}" height="${num(h)}" ` +
          `fill="${j === k ? (here ? PATH_GREEN : BAR_MAX) : BAR_GREY}"/>`,
      );
    }
    let ty = base;
    if (bw >= 5 && names.every((s) => s.length <= 2)) {
      const size = Math.min(8, bw * 1.2);
      ty += size + 1;
      for (let j = 0; j < K; j++) {
        out.push(text(x0 + (j + 0.5) * bw, ty, names[j], { size, fill: MUTED }));
      }
    }
    const fitted = fitText(names[k], slotW - 6, 14, 8, true);
    out.push(
      text(cx, ty + 17, fitted.text, {
        size: fitted.size,
        bold: true,
        fill: here ? PATH_GREEN : INK,
        cls: "argmax",
      }),
      text(cx, ty + 29, `${(100 * q[l * K + k]).toFixed(0)}%`, { size: 9, fill: MUTED }),
      `</g>`,
    );
  }

  // The input beside the root, with the truth and the prediction.
  if (r && x) {
    const rootX = nodeX(0, 0);
    const ix = rootX - rootHalf - 40 - shape.pw;
    const iy = panelTop(0);
    const cxIn = ix + shape.pw / 2;
    // The truth and the prediction left of the input, clear of the edges below the root.
    const tx = ix - 10;
    const ty = iy + Math.max(14, shape.ph / 2 - 16);
    out.push(
      `<g class="input" data-predicted="${r.predicted}"` +
        (label !== undefined ? ` data-label="${label}"` : "") + `>`,
      text(cxIn, iy - 5, "input", { size: 11, bold: true, fill: INK }),
      panelSvg(x, shape, ix, iy, "input"),
      `<rect x="${num(ix - 0.5)}" y="${num(iy - 0.5)}" width="${shape.pw + 1}" ` +
        `height="${shape.ph + 1}" fill="none" stroke="#888888" stroke-width="1"/>`,
      text(tx, ty, inputTexts[0], { size: 11, anchor: "end", fill: INK, cls: "label" }),
      text(tx, ty + 16, inputTexts[1], {
        size: 12,
        anchor: "end",
        bold: true,
        fill: regression || label === undefined || label === r.predicted ? PATH_GREEN : "#c0392b",
        cls: "predicted",
      }),
      text(tx, ty + 30, inputTexts[2], { size: 10, anchor: "end", fill: MUTED }),
    );
    // An arrow from the input to the root's filter.
    const ay = iy + shape.ph / 2;
    const ax1 = ix + shape.pw + 8;
    const ax2 = rootX - shape.pw / 2 - 8;
    if (ax2 - ax1 > 12) {
      out.push(
        `<line x1="${num(ax1)}" y1="${num(ay)}" x2="${num(ax2 - 6)}" y2="${num(ay)}" ` +
          `stroke="${MUTED}" stroke-width="1.5"/>`,
        `<polygon points="${num(ax2)},${num(ay)} ${num(ax2 - 8)},${num(ay - 4)} ` +
          `${num(ax2 - 8)},${num(ay + 4)}" fill="${MUTED}"/>`,
      );
    }
    out.push(`</g>`);
  }
  out.push(`</svg>`);
  return out.join("\n");
}

/**
 * A regression tree's leaf: a bar for its value against the range of all leaves' values, the
 * value in the target's units, and (when known) the spread of its training rows and their share.
 */
function regressionLeafSvg(
  l: number,
  n: number,
  depth: number,
  value: number,
  lo: number,
  hi: number,
  spread: { share: number[]; std: (number | null)[] } | undefined,
  name: string,
  at: { cx: number; x0: number; top: number; slotW: number; here: boolean },
): string {
  const { cx, x0, top, slotW, here } = at;
  const out: string[] = [];
  const std = spread?.std[l];
  const share = spread?.share[l];
  const spreadText = spread
    ? `${std === null || std === undefined ? "no rows" : `± ${valueText(std)}`} · ${
      (100 * (share ?? 0)).toFixed(1)
    }%`
    : "";
  out.push(
    `<g class="leaf${here ? " on-path" : ""}" data-leaf="${l}" data-node="${n}" ` +
      `data-depth="${depth}" data-class="0" data-value="${value}"` +
      (spread ? ` data-share="${share}" data-std="${std ?? ""}"` : "") +
      `${here ? ` data-on-path="true"` : ""}>`,
    `<title>${
      esc(
        `leaf ${l}: ${name} = ${valueText(value)}` +
          (spread
            ? std === null || std === undefined
              ? "; no training row has it as its most probable leaf"
              : `; its training rows: ${(100 * (share ?? 0)).toFixed(1)}% of them, ` +
                `their ${name} ± ${valueText(std)} (standard deviation)`
            : ""),
      )
    }</title>`,
  );
  if (here) {
    out.push(
      `<rect x="${num(x0 - 3)}" y="${num(top + 1)}" width="${slotW - 4}" ` +
        `height="${LEAF_AREA_H - 4}" rx="5" fill="#eaf6ec" stroke="${PATH_GREEN}" ` +
        `stroke-width="3"/>`,
    );
  }
  const base = top + 6 + LEAF_BAR_H;
  const t = hi > lo ? (value - lo) / (hi - lo) : 1;
  const h = (0.12 + 0.88 * t) * LEAF_BAR_H;
  const bw = Math.min(28, slotW - 10);
  out.push(
    `<rect x="${num(x0)}" y="${num(top + 6)}" width="${slotW - 10}" height="${LEAF_BAR_H}" ` +
      `fill="#ffffff" stroke="#dddddd" stroke-width="0.6"/>`,
    `<rect class="bar" x="${num(cx - bw / 2)}" y="${num(base - h)}" width="${num(bw)}" ` +
      `height="${num(h)}" fill="${here ? PATH_GREEN : BAR_MAX}"/>`,
  );
  const fitted = fitText(valueText(value), slotW - 6, 14, 8, true);
  out.push(
    text(cx, base + 17, fitted.text, {
      size: fitted.size,
      bold: true,
      fill: here ? PATH_GREEN : INK,
      cls: "value",
    }),
  );
  if (spreadText) {
    const small = fitText(spreadText, slotW - 4, 9, 6);
    out.push(text(cx, base + 29, small.text, { size: small.size, fill: MUTED, cls: "spread" }));
  }
  out.push(`</g>`);
  return out.join("\n");
}

/** The colour legend at `(x, y)`, 250 px wide. */
function legendSvg(x: number, y: number, shape: PanelShape, correlation: boolean): string {
  const out: string[] = [`<g class="legend">`];
  const barW = 150;
  if (shape.kind === "rgb") {
    out.push(
      text(x, y + 10, "filter weight, per colour channel:", {
        size: 10,
        anchor: "start",
        fill: MUTED,
      }),
      text(x, y + 24, "grey = 0; brighter = positive,", { size: 10, anchor: "start", fill: MUTED }),
      text(x, y + 38, "darker = negative (scale per filter)", {
        size: 10,
        anchor: "start",
        fill: MUTED,
      }),
    );
  } else if (shape.kind === "named") {
    const lines = [
      "each node: its largest weights by feature,",
      "on the scaled inputs (red +, blue −), and",
      "the share of the filter's |w|² they hold",
    ];
    lines.forEach((line, i) =>
      out.push(text(x, y + 10 + 14 * i, line, { size: 10, anchor: "start", fill: MUTED }))
    );
  } else {
    out.push(
      `<defs><linearGradient id="softtree-diverging" x1="0" y1="0" x2="1" y2="0">`,
      ...divergingStops().map(([o, c]) => `<stop offset="${num(o, 3)}" stop-color="${c}"/>`),
      `</linearGradient></defs>`,
      text(x, y + 10, "filter weight (symmetric scale per filter)", {
        size: 10,
        anchor: "start",
        fill: MUTED,
      }),
      `<rect x="${x}" y="${y + 15}" width="${barW}" height="11" fill="url(#softtree-diverging)" ` +
        `stroke="#999999" stroke-width="0.6"/>`,
      text(x, y + 38, "−max", { size: 9, anchor: "start", fill: MUTED }),
      text(x + barW / 2, y + 38, "0", { size: 9, fill: MUTED }),
      text(x + barW, y + 38, "+max", { size: 9, anchor: "end", fill: MUTED }),
    );
  }
  if (correlation) {
    out.push(
      `<rect x="${x}" y="${y + 46}" width="12" height="12" fill="none" stroke="${PATH_GREEN}" ` +
        `stroke-width="2.5"/>`,
      text(x + 18, y + 56, "on the path: input × filter", {
        size: 10,
        anchor: "start",
        fill: INK,
      }),
    );
  }
  out.push(`</g>`);
  return out.join("");
}
