/**
 * The one module that locates what ships in `assets/` (the pretrained teacher), so that a
 * compiled or URL-imported softtree has a single place to adapt.
 *
 * @module
 */

/**
 * The filesystem path of `assets/<name>` next to this checkout, or `null` when softtree
 * was imported from a non-file URL (then nothing ships beside it).
 *
 * @example
 * ```ts
 * assetPath("teacher"); // "/home/me/softtree/assets/teacher"
 * ```
 */
export function assetPath(name: string): string | null {
  const url = new URL(`../../assets/${name}`, import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : null;
}
