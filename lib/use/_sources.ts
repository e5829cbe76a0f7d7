/**
 * The text of the plain-JavaScript files that run outside softtree (`predictor.js`,
 * `pixels.js`), for embedding in the HTML report and copying into an exported predictor.
 * Read through the module graph (raw text imports), so they travel with a URL import or a
 * compiled binary like the rest of the code.
 *
 * @module
 */

/** The source of `predictor.js`: `loadModel` and `predictTree`. */
export async function predictorSource(): Promise<string> {
  return (await import("../tree/predictor.js", { with: { type: "text" } })).default;
}

/** The source of `pixels.js`: `prepareImage` and its helpers. */
export async function pixelsSource(): Promise<string> {
  return (await import("../image/pixels.js", { with: { type: "text" } })).default;
}
