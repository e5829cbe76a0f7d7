/**
 * The third-party imports of rendering, kept apart from lib/deps.ts so that drawing a tree
 * never loads TensorFlow.js. Full `npm:` specifiers: lib/ must work when imported by URL.
 *
 * @module
 */
export { Resvg } from "npm:@resvg/resvg-js@2.6.2";
export { default as gifenc } from "npm:gifenc@1.0.3";
export { encode as encodePng } from "npm:fast-png@8.0.0";
/** DejaVu Sans (regular and bold) as TTF bytes; needs the `raw-imports` unstable feature. */
export async function loadDejaVuFonts(): Promise<Uint8Array[]> {
  const [regular, bold] = await Promise.all([
    import("npm:dejavu-fonts-ttf@2.37.3/ttf/DejaVuSans.ttf", { with: { type: "bytes" } }),
    import("npm:dejavu-fonts-ttf@2.37.3/ttf/DejaVuSans-Bold.ttf", { with: { type: "bytes" } }),
  ]);
  return [regular.default, bold.default];
}
