/**
 * Just enough of ONNX's protobuf to tell a model file by its content and to list the
 * external data files its weights live in (`TensorProto.external_data`, key `location`).
 *
 * ModelProto: `ir_version` = 1 (varint), `graph` = 7. GraphProto: `node` = 1,
 * `initializer` = 5. TensorProto: `external_data` = 13 (StringStringEntryProto: `key` = 1,
 * `value` = 2).
 *
 * @module
 */

interface Field {
  no: number;
  wire: number;
  /** The value of a varint field. */
  value: number;
  /** The bytes of a length-delimited field. */
  bytes: Uint8Array | null;
}

/** The top-level fields of a protobuf message, or `null` when the bytes are not one. */
function fields(buf: Uint8Array): Field[] | null {
  const out: Field[] = [];
  let i = 0;
  const varint = (): number | null => {
    let v = 0, mul = 1;
    for (let k = 0; k < 10; k++) {
      if (i >= buf.length) return null;
      const b = buf[i++];
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
    return null;
  };
  while (i < buf.length) {
    const key = varint();
    if (key === null) return null;
    const no = Math.floor(key / 8), wire = key % 8;
    if (no === 0) return null;
    if (wire === 0) {
      const value = varint();
      if (value === null) return null;
      out.push({ no, wire, value, bytes: null });
    } else if (wire === 2) {
      const len = varint();
      if (len === null || i + len > buf.length) return null;
      out.push({ no, wire, value: len, bytes: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 1 || wire === 5) {
      i += wire === 1 ? 8 : 4;
      if (i > buf.length) return null;
      out.push({ no, wire, value: 0, bytes: null });
    } else {
      return null;
    }
  }
  return out;
}

/**
 * Whether `bytes` parse as an ONNX ModelProto: an `ir_version` varint and a graph.
 *
 * @param bytes The file's bytes.
 */
export function isOnnxModel(bytes: Uint8Array): boolean {
  if (bytes.length < 4 || bytes[0] !== 0x08) return false;
  const top = fields(bytes);
  return top !== null && top.some((f) => f.no === 7 && f.wire === 2) &&
    top.some((f) => f.no === 1 && f.wire === 0);
}

/**
 * The external data files (`location`s, relative to the model's folder) that the model's
 * weights refer to, in order of first use.
 *
 * @param bytes An ONNX model's bytes.
 */
export function onnxExternalFiles(bytes: Uint8Array): string[] {
  const files: string[] = [];
  const graph = fields(bytes)?.find((f) => f.no === 7 && f.bytes)?.bytes;
  if (!graph) return files;
  const dec = new TextDecoder();
  for (const init of fields(graph) ?? []) {
    if (init.no !== 5 || !init.bytes) continue;
    for (const ext of fields(init.bytes) ?? []) {
      if (ext.no !== 13 || !ext.bytes) continue;
      const entry = fields(ext.bytes) ?? [];
      const key = entry.find((e) => e.no === 1 && e.bytes);
      const value = entry.find((e) => e.no === 2 && e.bytes);
      if (key && value && dec.decode(key.bytes!) === "location") {
        const loc = dec.decode(value.bytes!);
        if (!files.includes(loc)) files.push(loc);
      }
    }
  }
  return files;
}
