/**
 * ONNX Runtime for Node.js (its CPU build ships inside the npm package and loads under Deno
 * as a Node-API addon), with a full `npm:` specifier so that `lib/` works when imported by URL.
 *
 * @module
 */
export * as ort from "npm:onnxruntime-node@1.31.1";
