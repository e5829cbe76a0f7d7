/**
 * Pictures of a tabular tree's features: an inner node's few largest weights by feature
 * name (a signed bar list, in the units of the scaled inputs, with the share of the filter's
 * squared norm they hold), and the global feature importances as a bar chart.
 *
 * @module
 */
import { topTerms } from "../tree/importance.ts";
import { BAR_MAX, diverging, INK, MUTED } from "./_colors.ts";
import { esc, fitText, FONT_FAMILY, num, text, textWidth } from "./_svg.ts";

/** Rows of the weight list: each row's height in pixels. */
export const WEIGHT_ROW_H = 12;

/** The height of a weight list of `rows` rows (the share line under them included). */
export function weightListHeight(rows: number): number {
  return rows * WEIGHT_ROW_H + 14;
}

/**
 * An inner node's `rows` largest weights as a signed bar list at `(x, y)` (top-left), `width`
 * wide: the feature's name, a bar from a zero line (red positive, blue negative, scaled to
 * the largest), the value; under them the share of `|w|²` the rows hold.
 *
 * @param values The filter `w_n [F]` (or input × filter).
 * @param names The `F` feature names.
 * @param x Left edge.
 * @param y Top edge.
 * @param width The list's width in pixels.
 * @param rows How many weights to list.
 * @returns An SVG `<g class="panel features">` whose `data-features` lists the names shown.
 * @example
 * ```ts
 * const g = weightListSvg(w, ["age", "income"], 10, 10, 160, 2);
 * ```
 */
export function weightListSvg(
  values: ArrayLike<number>,
  names: string[],
  x: number,
  y: number,
  width: number,
  rows: number,
): string {
  const { indices, share } = topTerms(values, Math.min(rows, values.length));
  let m = 0;
  for (const f of indices) m = Math.max(m, Math.abs(values[f]));
  if (!(m > 0)) m = 1;
  const nameW = Math.round(width * 0.42);
  const valueW = Math.round(width * 0.24);
  const barW = width - nameW - valueW - 4;
  const mid = x + nameW + 2 + barW / 2;
  const h = weightListHeight(rows);
  const parts = [
    `<g class="panel features" data-features="${esc(indices.map((f) => names[f]).join("|"))}" ` +
    `data-share="${num(share, 4)}">`,
    `<rect x="${num(x)}" y="${num(y)}" width="${num(width)}" height="${h}" fill="#fafafa"/>`,
    `<line x1="${num(mid)}" y1="${num(y + 1)}" x2="${num(mid)}" ` +
    `y2="${num(y + rows * WEIGHT_ROW_H + 1)}" stroke="#999999" stroke-width="0.6"/>`,
  ];
  indices.forEach((f, r) => {
    const v = values[f];
    const cy = y + r * WEIGHT_ROW_H + WEIGHT_ROW_H / 2 + 1;
    const len = (Math.abs(v) / m) * (barW / 2 - 1);
    const fill = diverging(v / m);
    const name = fitText(names[f], nameW - 2, 9, 6.5);
    parts.push(
      text(x + nameW, cy + 3, name.text, { size: name.size, anchor: "end", fill: INK }),
      `<rect x="${num(v >= 0 ? mid : mid - len)}" y="${num(cy - 4)}" ` +
        `width="${num(Math.max(len, 0.5))}" height="8" fill="rgb(${fill.join(",")})" ` +
        `stroke="#777777" stroke-width="0.3"/>`,
      text(x + width - 1, cy + 3, signedShort(v), { size: 8, anchor: "end", fill: MUTED }),
    );
  });
  const note = `${indices.length} of ${values.length}: ${(100 * share).toFixed(0)}% of |w|²`;
  const fitted = fitText(note, width - 4, 8, 6);
  parts.push(
    text(x + width / 2, y + rows * WEIGHT_ROW_H + 11, fitted.text, {
      size: fitted.size,
      fill: MUTED,
      cls: "share",
    }),
    `</g>`,
  );
  return parts.join("");
}

/** A value in 3 significant digits with a typographic minus. */
function signedShort(v: number): string {
  const a = Math.abs(v);
  const s = a >= 100 ? a.toFixed(0) : a >= 10 ? a.toFixed(1) : a.toFixed(2);
  return v < 0 ? "−" + s : s;
}

/** Options of {@linkcode importanceSvg}. */
export interface ImportanceSvgOptions {
  /** @default "Feature importances" */
  title?: string;
  /** A line under the title, e.g. what weighed the nodes. */
  caption?: string;
  /**
   * Show only the `top` most important features.
   * @default 20
   */
  top?: number;
}

/**
 * The global feature importances as a horizontal bar chart, most important first.
 *
 * @param importances `[F]`, summing to 1 (see `featureImportances`).
 * @param names The `F` feature names.
 * @param options Title, caption, how many features.
 * @returns A standalone SVG document; bars carry `data-feature` and `data-importance`.
 * @throws {RangeError} When `names` and `importances` differ in length.
 * @example
 * ```ts
 * await Deno.writeTextFile("importances.svg", importanceSvg(imp, names));
 * ```
 */
export function importanceSvg(
  importances: ArrayLike<number>,
  names: string[],
  options: ImportanceSvgOptions = {},
): string {
  if (names.length !== importances.length) {
    throw new RangeError(
      `Cannot draw importances: ${names.length} names for ${importances.length} features`,
    );
  }
  const top = Math.max(1, options.top ?? 20);
  const order = Array.from({ length: names.length }, (_, f) => f)
    .sort((a, b) => importances[b] - importances[a] || a - b).slice(0, top);
  const title = options.title ?? "Feature importances";
  const nameW = Math.min(220, Math.max(60, ...order.map((f) => textWidth(names[f], 11) + 8)));
  const barW = 320;
  const rowH = 18;
  const headerH = options.caption ? 52 : 36;
  const width = Math.ceil(
    Math.max(
      16 + nameW + barW + 60,
      32 + textWidth(title, 14, true),
      32 + textWidth(options.caption ?? "", 11),
    ),
  );
  const rest = names.length - order.length;
  const height = headerH + order.length * rowH + (rest > 0 ? 20 : 0) + 12;
  const max = Math.max(...order.map((f) => importances[f]), 1e-12);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}" class="softtree-importances">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(16, 24, title, { size: 14, anchor: "start", bold: true, fill: INK }),
  ];
  if (options.caption) {
    out.push(text(16, 42, options.caption, { size: 11, anchor: "start", fill: MUTED }));
  }
  order.forEach((f, r) => {
    const y = headerH + r * rowH;
    const len = (importances[f] / max) * barW;
    const name = fitText(names[f], nameW - 8, 11, 7);
    out.push(
      `<g class="importance" data-feature="${esc(names[f])}" data-importance="${
        num(importances[f], 6)
      }">`,
      text(16 + nameW - 6, y + 13, name.text, { size: name.size, anchor: "end", fill: INK }),
      `<rect x="${16 + nameW}" y="${y + 3}" width="${num(Math.max(len, 0.5))}" height="${
        rowH - 6
      }" fill="${BAR_MAX}"/>`,
      text(16 + nameW + len + 4, y + 13, `${(100 * importances[f]).toFixed(1)}%`, {
        size: 10,
        anchor: "start",
        fill: MUTED,
      }),
      `</g>`,
    );
  });
  if (rest > 0) {
    let left = 0;
    for (let f = 0; f < names.length; f++) if (!order.includes(f)) left += importances[f];
    out.push(
      text(
        16,
        headerH + order.length * rowH + 14,
        `${rest} more features: ${(100 * left).toFixed(1)}% together`,
        { size: 10, anchor: "start", fill: MUTED },
      ),
    );
  }
  out.push(`</svg>`);
  return out.join("\n");
}
