/**
 * Small SVG-writing helpers shared by the renderers. Private to `lib/render/`.
 *
 * @module
 */

/** The font every picture uses; `png.ts` ships it, so text renders the same everywhere. */
export const FONT_FAMILY = "DejaVu Sans";

/** Escape text for SVG content and attribute values. */
export function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** A number with at most `digits` decimals, trailing zeros removed, for coordinates. */
export function num(x: number, digits = 2): string {
  const s = x.toFixed(digits);
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/** An estimate of DejaVu Sans text width in pixels (digits are 0.636 em; a conservative mean). */
export function textWidth(text: string, fontSize: number, bold = false): number {
  return text.length * fontSize * (bold ? 0.7 : 0.62);
}

/**
 * The largest font size in `[minSize, maxSize]` at which `text` fits `width`; if even the
 * smallest does not fit, the text is cut and ends with an ellipsis.
 */
export function fitText(
  text: string,
  width: number,
  maxSize: number,
  minSize: number,
  bold = false,
): { text: string; size: number } {
  for (let size = maxSize; size >= minSize; size -= 0.5) {
    if (textWidth(text, size, bold) <= width) return { text, size };
  }
  const chars = Math.max(1, Math.floor(width / (minSize * (bold ? 0.7 : 0.62))) - 1);
  return { text: text.length > chars ? text.slice(0, chars) + "…" : text, size: minSize };
}

/** A `<text>` element. */
export function text(
  x: number,
  y: number,
  content: string,
  attrs: {
    size?: number;
    anchor?: "start" | "middle" | "end";
    fill?: string;
    bold?: boolean;
    cls?: string;
    extra?: string;
  } = {},
): string {
  const { size = 11, anchor = "middle", fill, bold = false, cls, extra } = attrs;
  return `<text x="${num(x)}" y="${num(y)}" font-size="${num(size)}"` +
    (anchor !== "start" ? ` text-anchor="${anchor}"` : "") +
    (fill ? ` fill="${fill}"` : "") + (bold ? ` font-weight="bold"` : "") +
    (cls ? ` class="${cls}"` : "") + (extra ? ` ${extra}` : "") + `>${esc(content)}</text>`;
}

/** Format a number with thousands separators (deterministic, locale-free). */
export function thousands(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
