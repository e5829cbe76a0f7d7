/**
 * The container of saved training states (lib/io/_bundle.ts): exact round trips, the byte
 * layout, and a clear `CheckpointError` naming the file for every kind of damage.
 */
import assert from "node:assert/strict";
import { decodeBundle, encodeBundle, Reader, readFloats, writeFloats } from "../lib/io/_bundle.ts";
import { CheckpointError } from "../lib/errors.ts";

const MAGIC = "TESTBNDL";
const decode = (bytes: Uint8Array) => decodeBundle(bytes, "run/state.bin", MAGIC, "a test state");

/** A bundle's bytes with the header text replaced (length and padding recomputed). */
function withHeader(text: string, floats = 0): Uint8Array {
  const t = new TextEncoder().encode(text);
  const start = Math.ceil((12 + t.length) / 4) * 4;
  const bytes = new Uint8Array(start + 4 * floats);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(8, t.length, true);
  bytes.set(t, 12);
  return bytes;
}

/** Asserts that `f` throws a CheckpointError naming the file and matching `why`. */
function refused(f: () => unknown, why: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, String(e));
    assert.match(e.message, /^Cannot read a test state "run\/state\.bin": /);
    assert.match(e.message, why);
    return true;
  });
}

Deno.test("a bundle round-trips nested numbers, strings and float32 arrays exactly", () => {
  const header = {
    step: 12,
    lr: 0.1 + 0.2, // every float64 bit kept
    tiny: 5e-324,
    name: "adam",
    flags: [true, false, null],
    weights: new Float32Array([1.5, -2.25, 3e-38, 0]),
    layers: [{ m: new Float32Array([7, 8, 9]) }, { m: new Float32Array(0) }],
    odd: new Float32Array(new Float32Array([0, 1, 2, 3, 4]).buffer, 4, 3), // a view at byte 4
    special: [NaN, Infinity, -Infinity],
  };
  const bytes = encodeBundle(MAGIC, header);
  const back = decode(bytes) as typeof header;
  assert.equal(back.step, 12);
  assert.equal(back.lr, 0.1 + 0.2);
  assert.equal(back.tiny, 5e-324);
  assert.equal(back.name, "adam");
  assert.deepEqual(back.flags, [true, false, null]);
  assert.ok(back.weights instanceof Float32Array);
  assert.deepEqual([...back.weights], [1.5, -2.25, new Float32Array([3e-38])[0], 0]);
  assert.deepEqual([...back.layers[0].m], [7, 8, 9]);
  assert.ok(back.layers[1].m instanceof Float32Array && back.layers[1].m.length === 0);
  assert.deepEqual([...back.odd], [1, 2, 3]);
  assert.ok(Number.isNaN(back.special[0]));
  assert.equal(back.special[1], Infinity);
  assert.equal(back.special[2], -Infinity);
});

Deno.test("the layout: 8 magic bytes, header length, JSON header padded to 4 bytes, float32 LE", () => {
  const bytes = encodeBundle("AB", { a: new Float32Array([1, -2]), b: new Float32Array([0.5]) });
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), "AB      ");
  const view = new DataView(bytes.buffer);
  const len = view.getUint32(8, true);
  const text = new TextDecoder().decode(bytes.subarray(12, 12 + len));
  assert.deepEqual(JSON.parse(text), {
    a: { $f32: 0, length: 2 },
    b: { $f32: 1, length: 1 },
  });
  const start = Math.ceil((12 + len) / 4) * 4;
  assert.equal(bytes.length, start + 12);
  for (let i = 12 + len; i < start; i++) assert.equal(bytes[i], 0, "zero padding");
  assert.deepEqual(
    [0, 1, 2].map((i) => view.getFloat32(start + 4 * i, true)),
    [1, -2, 0.5],
  );
  // A longer magic is cut to 8 bytes, and read back under the same (cut) name.
  const long = encodeBundle("LONGMAGIC-X", { x: 1 });
  assert.equal(new TextDecoder().decode(long.subarray(0, 8)), "LONGMAGI");
  assert.deepEqual(decodeBundle(long, "f", "LONGMAGIC-X", "a state"), { x: 1 });
});

Deno.test("writeFloats and readFloats agree at aligned and unaligned offsets", () => {
  const values = [1, -0.5, 3.25, 1e-20, -7];
  for (const shift of [0, 1, 2, 3]) {
    const backing = new Uint8Array(4 + 4 * values.length + 8);
    const bytes = backing.subarray(shift); // byteOffset 0..3
    for (const offset of [0, 4]) {
      bytes.fill(0);
      writeFloats(bytes, offset, values);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < values.length; i++) {
        assert.equal(view.getFloat32(offset + 4 * i, true), Math.fround(values[i]));
      }
      assert.equal(view.getFloat32(offset + 4 * values.length, true), 0, "nothing written past");
      const back = readFloats(bytes, offset, values.length);
      assert.deepEqual([...back], values.map(Math.fround));
      // Values that end exactly where the bytes end.
      const tight = bytes.subarray(0, offset + 4 * values.length);
      assert.deepEqual([...readFloats(tight, offset, values.length)], values.map(Math.fround));
      // A copy: changing the bytes afterwards leaves it alone.
      bytes.fill(0xff);
      assert.deepEqual([...back], values.map(Math.fround));
    }
  }
});

Deno.test("a wrong magic, a short file or a header longer than the file is refused", () => {
  const good = encodeBundle(MAGIC, { a: new Float32Array([1]) });
  refused(() => decode(encodeBundle("OTHERMAG", { a: 1 })), /does not start with "TESTBNDL"/);
  refused(() => decode(good.subarray(0, 11)), /does not start with/);
  refused(() => decode(new Uint8Array(0)), /does not start with/);
  assert.throws(
    () => decodeBundle(encodeBundle("AB", {}), "f", "CD", "a test state"),
    /^CheckpointError: Cannot read a test state "f": it does not start with "CD"$/,
  );
  // 12 bytes: the magic and an empty header, which is not JSON.
  refused(() => decode(withHeader("")), /its header is not valid JSON/);
  const long = good.slice();
  new DataView(long.buffer).setUint32(8, good.length, true);
  refused(
    () => decode(long),
    new RegExp(`the header declares ${good.length} bytes but the file holds ${good.length - 12} `),
  );
  // A header that exactly fills the file is fine.
  assert.deepEqual(decode(withHeader("{}")), {});
  const exact = withHeader('{"ab":1}');
  assert.equal(exact.length, 20);
  assert.deepEqual(decode(exact), { ab: 1 });
});

Deno.test("a header that is not UTF-8, not JSON, or has a bad number or array reference is refused", () => {
  const bad = withHeader("{} ");
  bad[14] = 0xff;
  refused(() => decode(bad), /its header is not UTF-8 text/);
  refused(() => decode(withHeader("{not json")), /its header is not valid JSON/);
  refused(() => decode(withHeader('{"x":{"$num":"lots"}}')), /: a number "lots" is invalid$/);
  assert.ok(Number.isNaN((decode(withHeader('{"x":{"$num":"NaN"}}')) as { x: number }).x));
  for (
    const ref of [
      '{"$f32":-1,"length":1}',
      '{"$f32":0.5,"length":1}',
      '{"$f32":"0","length":1}',
      '{"$f32":0,"length":-1}',
      '{"$f32":0,"length":1.5}',
      '{"$f32":0}',
    ]
  ) {
    refused(() => decode(withHeader(`{"a":${ref}}`, 1)), /an array reference .* is invalid/);
  }
  // Index and length 0 are valid.
  assert.deepEqual(decode(withHeader('{"a":{"$f32":0,"length":0}}')), { a: new Float32Array(0) });
});

Deno.test("array references out of order are placed by index; gaps, missing and extra bytes are refused", () => {
  // Stored in index order: index 0 (2 values) first, then index 1 (1 value).
  const text = '{"late":{"$f32":1,"length":1},"early":{"$f32":0,"length":2}}';
  const bytes = withHeader(text, 3);
  const start = bytes.length - 12;
  writeFloats(bytes, start, [10, 20, 30]);
  const back = decode(bytes) as { late: Float32Array; early: Float32Array };
  assert.deepEqual([...back.early], [10, 20]);
  assert.deepEqual([...back.late], [30]);
  refused(
    () => decode(withHeader('{"a":{"$f32":0,"length":1},"b":{"$f32":2,"length":1}}', 2)),
    /its arrays are numbered 0, 2/,
  );
  refused(
    () => decode(withHeader('{"a":{"$f32":1,"length":1}}', 1)),
    /its arrays are numbered 1/,
  );
  const good = encodeBundle(MAGIC, { a: new Float32Array([1, 2]) });
  refused(
    () => decode(good.subarray(0, good.length - 4)),
    new RegExp(
      `it should hold 2 float32 values \\(${good.length} bytes\\) but has ${
        good.length - 4
      } bytes$`,
    ),
  );
  const extra = new Uint8Array(good.length + 4);
  extra.set(good);
  refused(() => decode(extra), /should hold 2 float32 values/);
  // Two bytes short of the last value (not a whole float missing).
  refused(() => decode(good.subarray(0, good.length - 2)), /should hold 2 float32 values/);
});

Deno.test("Reader checks each field's kind and range and names its path", () => {
  const problems: string[] = [];
  const r = new Reader((why) => {
    problems.push(why);
    throw new Error(why);
  });
  const fails = (f: () => unknown, why: RegExp) => {
    assert.throws(f, (e: unknown) => e instanceof Error && why.test(e.message));
  };
  assert.deepEqual(r.obj({ a: 1 }, "o"), { a: 1 });
  for (const v of [null, undefined, 3, "s", [1], new Float32Array(1)]) {
    fails(() => r.obj(v, "state.fit"), /^"state\.fit" is not an object$/);
  }
  assert.equal(r.num(2.5, "x"), 2.5);
  assert.equal(r.num(3, "x", { int: true, min: 3, max: 3 }), 3, "bounds are inclusive");
  assert.equal(r.num(Infinity, "x", { nonFinite: true }), Infinity);
  assert.ok(Number.isNaN(r.num(NaN, "x", { nonFinite: true })));
  fails(() => r.num("2", "a.b"), /^"a\.b" is not a number \("2"\)$/);
  fails(() => r.num("2", "a.b", { nonFinite: true }), /is not a number/);
  fails(() => r.num(undefined, "a.b"), /^"a\.b" is not a number \(undefined\)$/);
  fails(() => r.num(NaN, "a.b"), /^"a\.b" is not a number \(null\)$/);
  fails(() => r.num(Infinity, "a.b"), /is not a number/);
  fails(() => r.num(-Infinity, "a.b"), /is not a number/);
  fails(() => r.num(1.5, "epoch", { int: true }), /^"epoch" is not a whole number \(1\.5\)$/);
  fails(() => r.num(2 ** 53, "epoch", { int: true }), /is not a whole number/);
  fails(() => r.num(2, "k", { min: 3 }), /^"k" is 2, outside \[3, Infinity\]$/);
  fails(() => r.num(4, "k", { max: 3 }), /^"k" is 4, outside \[-Infinity, 3\]$/);
  assert.equal(r.str("a", "s"), "a");
  fails(() => r.str(1, "s.t"), /^"s\.t" is not a string$/);
  const a = new Float32Array([1, 2]);
  assert.equal(r.f32(a, "w"), a);
  assert.equal(r.f32(a, "w", 2), a);
  fails(() => r.f32([1, 2], "w"), /^"w" is not an array of numbers$/);
  fails(() => r.f32(a, "w", 3), /^"w" holds 2 values, expected 3$/);
  fails(() => r.f32(new Float32Array([1, NaN]), "w"), /^"w"\[1\] is not finite \(NaN\)$/);
  fails(() => r.f32(new Float32Array([Infinity]), "w"), /^"w"\[0\] is not finite \(Infinity\)$/);
  assert.equal(r.f32(new Float32Array([NaN]), "w", 1, true).length, 1);
  assert.deepEqual(r.list([1, 2], "l", (x, p) => `${p}=${x}`), ["l[0]=1", "l[1]=2"]);
  fails(() => r.list({}, "l", (x) => x), /^"l" is not a list$/);
  fails(() => r.fail("plain"), /^plain$/);
  assert.ok(problems.length > 0);
});
