/**
 * The third-party imports of `lib/data/`: a zip reader for `.npz` files. Full `npm:`
 * specifiers: lib/ must work when imported by URL.
 *
 * @module
 */
export { unzipSync } from "npm:fflate@0.8.3";
