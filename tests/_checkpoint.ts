/**
 * Byte surgery on encoded tree checkpoints (`tree.sdt`: 8 bytes of magic and version, a
 * uint32 header length, the JSON header, padding to 4 bytes, then the float32 weights), for
 * the tests that check what a bad header is refused with.
 */

/** The header's length in bytes and where the weights start. */
export function checkpointLayout(
  bytes: Uint8Array,
): { headerLength: number; weightsStart: number } {
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  return { headerLength, weightsStart: Math.ceil((12 + headerLength) / 4) * 4 };
}

/** The JSON header of an encoded checkpoint. */
export function checkpointHeader(bytes: Uint8Array): Record<string, unknown> {
  const { headerLength } = checkpointLayout(bytes);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
}

/** `bytes` with its JSON header replaced by `header` (weights kept, padding redone). */
export function withCheckpointHeader(bytes: Uint8Array, header: unknown): Uint8Array {
  const { weightsStart } = checkpointLayout(bytes);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((12 + json.length) / 4) * 4;
  const out = new Uint8Array(start + bytes.length - weightsStart);
  out.set(bytes.subarray(0, 8));
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(bytes.subarray(weightsStart), start);
  return out;
}
