/**
 * Every third-party import of the library, with full `npm:` specifiers so that
 * `lib/` and `mod.ts` work when imported by URL (an importer's import map does not
 * apply to them).
 *
 * @module
 */
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
export * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
export * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
export * as tfc from "npm:@tensorflow/tfjs-converter@4.22.0";
