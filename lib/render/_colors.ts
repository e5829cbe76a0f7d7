/**
 * Colour maps shared by the renderers. Private to `lib/render/`.
 *
 * @module
 */

/** An RGB colour, each channel in `[0, 255]`. */
export type Rgb = [number, number, number];

// Blue (negative) - white (zero) - red (positive), after ColorBrewer's RdBu.
const DIVERGING: { at: number; rgb: Rgb }[] = [
  { at: -1, rgb: [33, 102, 172] },
  { at: -0.5, rgb: [146, 197, 222] },
  { at: 0, rgb: [255, 255, 255] },
  { at: 0.5, rgb: [244, 165, 130] },
  { at: 1, rgb: [178, 24, 43] },
];

/** The diverging colour of `t` in `[-1, 1]` (clamped): blue below zero, white at zero, red above. */
export function diverging(t: number): Rgb {
  const v = Number.isFinite(t) ? Math.max(-1, Math.min(1, t)) : 0;
  for (let i = 1; i < DIVERGING.length; i++) {
    const lo = DIVERGING[i - 1];
    const hi = DIVERGING[i];
    if (v <= hi.at) {
      const f = (v - lo.at) / (hi.at - lo.at);
      return [
        Math.round(lo.rgb[0] + f * (hi.rgb[0] - lo.rgb[0])),
        Math.round(lo.rgb[1] + f * (hi.rgb[1] - lo.rgb[1])),
        Math.round(lo.rgb[2] + f * (hi.rgb[2] - lo.rgb[2])),
      ];
    }
  }
  return DIVERGING[DIVERGING.length - 1].rgb;
}

/** The stops of the diverging map as `[offset in 0..1, "#rrggbb"]`, for an SVG gradient. */
export function divergingStops(): [number, string][] {
  return DIVERGING.map((s) => [(s.at + 1) / 2, hex(s.rgb)]);
}

/** `"#rrggbb"` of an RGB colour. */
export function hex(rgb: Rgb): string {
  return "#" + rgb.map((c) => Math.round(c).toString(16).padStart(2, "0")).join("");
}

/** The path colour: edges, frames and labels of the decision path. */
export const PATH_GREEN = "#1a9641";
/** Ordinary edges and frames. */
export const EDGE_GREY = "#9a9a9a";
/** Text. */
export const INK = "#222222";
/** Secondary text. */
export const MUTED = "#666666";
/** Leaf bars other than the argmax. */
export const BAR_GREY = "#b8b8b8";
/** The argmax bar of a leaf. */
export const BAR_MAX = "#3a5f8f";
