/**
 * The ONNX protobuf schema (ONNX 1.10's `onnx.proto`, compiled by protobufjs), for writing
 * `.onnx` files. Kept apart so that nothing else loads it. Full `npm:` specifiers: lib/ must
 * work when imported by URL.
 *
 * @module
 */
import onnxProto from "npm:onnx-proto@8.0.1";

/** The `onnx` namespace: `ModelProto`, `GraphProto`, `NodeProto`, `TensorProto`, ... */
export const onnx = onnxProto.onnx;
