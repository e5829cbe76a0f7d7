/**
 * The third-party imports of `lib/use/`: PNG and JPEG decoders in pure JavaScript. Full `npm:`
 * specifiers: lib/ must work when imported by URL.
 *
 * @module
 */
export { decode as decodePngData, hasPngSignature } from "npm:fast-png@8.0.0";
export { decode as decodeJpegData } from "npm:jpeg-js@0.4.4";
