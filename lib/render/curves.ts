/**
 * Learning curves: training loss, and training and validation accuracy, per epoch, as SVG
 * (two panels side by side); rasterize with `svgToPng`.
 *
 * @module
 */
import { INK, MUTED } from "./_colors.ts";
import { esc, FONT_FAMILY, num, text } from "./_svg.ts";

/**
 * One epoch as the learning curves draw it: a plain record, which the entries of a run's
 * `metrics.json` `history` (and the training loop's epoch records) are.
 */
export interface CurvePoint {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean training loss over the epoch. */
  trainLoss: number;
  /** Max-leaf accuracy on the training split, in [0, 1]. */
  trainAccuracy: number;
  /** Max-leaf accuracy on the validation split, in [0, 1]. */
  valAccuracy: number;
  /** Mixture accuracy on the validation split, in [0, 1]. */
  valAccuracyMixture: number;
}

/** Options of {@linkcode learningCurvesSvg}. */
export interface CurvesOptions {
  /** The title above the panels. @default "Learning curves" */
  title?: string;
  /**
   * Width of the whole picture in SVG units (each panel gets about half).
   * @default 900
   */
  width?: number;
  /**
   * What the records' accuracies hold: accuracy, or R² (a regression tree's records); R²
   * below -1 is drawn at the plot's floor.
   * @default "accuracy"
   */
  score?: "accuracy" | "r2";
}

const PLOT_H = 240;
const PAD = { left: 58, right: 16, top: 54, bottom: 46 };
const COLORS = { loss: "#3a5f8f", train: "#3a5f8f", val: "#e07b39", mix: "#9a9a9a" };

/** About `count` round tick values covering `[lo, hi]`. */
function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.floor(lo / step) * step; t <= hi + step * 0.5; t += step) {
    ticks.push(Number(t.toFixed(10)));
    if (t >= hi) break;
  }
  return ticks;
}

interface Series {
  name: string;
  color: string;
  dash?: string;
  values: number[];
}

function panel(
  x0: number,
  w: number,
  title: string,
  epochs: number[],
  series: Series[],
  yFormat: (v: number) => string,
  clamp?: [number, number],
): string {
  const out: string[] = [`<g class="panel" data-title="${esc(title)}">`];
  const left = x0 + PAD.left;
  const right = x0 + w - PAD.right;
  const top = PAD.top;
  const bottom = PAD.top + PLOT_H;
  const finite = series.flatMap((s) => s.values.filter(Number.isFinite));
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (clamp) {
    lo = Math.max(clamp[0], lo - 0.02);
    hi = Math.min(clamp[1], hi + 0.02);
  }
  const yt = niceTicks(lo, hi);
  const y0 = yt[0];
  const y1 = yt[yt.length - 1];
  const emax = Math.max(2, epochs.length ? epochs[epochs.length - 1] : 1);
  const xt = niceTicks(1, emax, Math.min(8, emax - 1)).filter((t) =>
    Number.isInteger(t) && t >= 1 && t <= emax
  );
  if (!xt.includes(1)) xt.unshift(1);
  const sx = (e: number) => left + ((e - 1) / (emax - 1)) * (right - left);
  const sy = (v: number) =>
    bottom - ((Math.min(y1, Math.max(y0, v)) - y0) / (y1 - y0 || 1)) * (bottom - top);

  out.push(text(x0 + w / 2, top - 14, title, { size: 14, bold: true, fill: INK }));
  for (const t of yt) {
    out.push(
      `<line x1="${num(left)}" y1="${num(sy(t))}" x2="${num(right)}" y2="${num(sy(t))}" ` +
        `stroke="#e6e6e6" stroke-width="1"/>`,
      text(left - 6, sy(t) + 4, yFormat(t), { size: 10, anchor: "end", fill: MUTED }),
    );
  }
  for (const t of xt) {
    out.push(
      `<line x1="${num(sx(t))}" y1="${num(bottom)}" x2="${num(sx(t))}" y2="${num(bottom + 4)}" ` +
        `stroke="${MUTED}" stroke-width="1"/>`,
      text(sx(t), bottom + 16, String(t), { size: 10, fill: MUTED }),
    );
  }
  out.push(
    `<rect x="${num(left)}" y="${num(top)}" width="${num(right - left)}" ` +
      `height="${num(bottom - top)}" fill="none" stroke="#888888" stroke-width="1"/>`,
    text((left + right) / 2, bottom + 34, "epoch", { size: 11, fill: INK }),
  );
  for (const s of series) {
    const pts = epochs.map((e, i) => [e, s.values[i]] as const).filter(([, v]) =>
      Number.isFinite(v)
    );
    if (pts.length === 0) continue;
    out.push(
      `<polyline class="series" data-name="${esc(s.name)}" fill="none" stroke="${s.color}" ` +
        `stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""} points="${
          pts.map(([e, v]) => `${num(sx(e))},${num(sy(v))}`).join(" ")
        }"/>`,
    );
    if (pts.length <= 40) {
      for (const [e, v] of pts) {
        out.push(
          `<circle cx="${num(sx(e))}" cy="${num(sy(v))}" r="2.8" fill="${s.color}"/>`,
        );
      }
    }
  }
  // Legend, bottom-right inside the plot (accuracy rises, so that corner is usually free).
  if (series.length > 1) {
    const lw = 170;
    const lx = right - lw - 6;
    let ly = bottom - 6 - (series.length * 16 + 6);
    out.push(
      `<rect x="${num(lx)}" y="${num(ly)}" width="${lw}" height="${series.length * 16 + 6}" ` +
        `fill="#ffffff" fill-opacity="0.9" stroke="#cccccc" stroke-width="0.8"/>`,
    );
    for (const s of series) {
      ly += 16;
      out.push(
        `<line x1="${num(lx + 8)}" y1="${num(ly - 4)}" x2="${num(lx + 30)}" y2="${num(ly - 4)}" ` +
          `stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`,
        text(lx + 36, ly, s.name, { size: 10.5, anchor: "start", fill: INK }),
      );
    }
  }
  out.push(`</g>`);
  return out.join("");
}

/**
 * Draw learning curves: training loss (left), and training, validation and validation
 * mixture accuracy (right), per epoch.
 *
 * @param records One record per epoch, in order (as in `metrics.json`).
 * @param options Title and width.
 * @returns A standalone SVG document.
 * @example
 * ```ts
 * await Deno.writeTextFile("curves.svg", learningCurvesSvg(history));
 * await Deno.writeFile("curves.png", await svgToPng(learningCurvesSvg(history)));
 * ```
 */
export function learningCurvesSvg(records: CurvePoint[], options: CurvesOptions = {}): string {
  const width = options.width ?? 900;
  const height = PAD.top + PLOT_H + PAD.bottom;
  const title = options.title ?? "Learning curves";
  const epochs = records.map((r) => r.epoch);
  const half = width / 2;
  const r2 = options.score === "r2";
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}" class="softtree-curves" ` +
    `data-epochs="${records.length}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(16, 22, title, { size: 15, bold: true, anchor: "start", fill: INK }),
  ];
  if (records.length === 0) {
    out.push(text(width / 2, height / 2, "no epochs recorded yet", { size: 13, fill: MUTED }));
  } else {
    out.push(
      panel(0, half, "Training loss", epochs, [
        { name: "training loss", color: COLORS.loss, values: records.map((r) => r.trainLoss) },
      ], (v) => num(v, 3)),
      panel(
        half,
        half,
        r2 ? "R² (max-leaf)" : "Accuracy (max-leaf)",
        epochs,
        [
          { name: "training", color: COLORS.train, values: records.map((r) => r.trainAccuracy) },
          { name: "validation", color: COLORS.val, values: records.map((r) => r.valAccuracy) },
          {
            name: "validation (mixture)",
            color: COLORS.mix,
            dash: "5 3",
            values: records.map((r) => r.valAccuracyMixture),
          },
        ],
        r2 ? (v) => num(v, 2) : (v) => `${num(100 * v, 1)}%`,
        r2 ? [-1, 1] : [0, 1],
      ),
    );
  }
  out.push(`</svg>`);
  return out.join("\n");
}
