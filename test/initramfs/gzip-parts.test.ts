import { test } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { gunzipSync as fflateGunzip } from "fflate";
import { gzipParts, PART } from "../../lib/initramfs/gzip-parts.ts";
import { crc32, crc32Fast } from "../../lib/initramfs/crc32.ts";

/** Bytes that compress somewhat, like a binary: a repeating pattern with noise. */
function sample(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = 12345;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = i % 97 < 60 ? (i * 7) & 0xff : x >>> 24;
  }
  return out;
}

test("crc32 is the gzip trailer's CRC-32", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test("crc32Fast (the runtime's zlib) agrees with the table-driven crc32", async () => {
  assert.equal(await crc32Fast(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(await crc32Fast(new Uint8Array(0)), 0);
  for (const size of [1, 1000, PART + 7]) {
    const input = sample(size);
    assert.equal(await crc32Fast(input), crc32(input), `${size} bytes`);
  }
});

test("a member made in parts gunzips (zlib and fflate) to its input, at part boundaries and off them", async () => {
  for (const size of [0, 1, PART - 1, PART, PART + 1, 3 * PART + 12345]) {
    const input = sample(size);
    const gz = await gzipParts(input, 9);
    assert.deepEqual(new Uint8Array(gunzipSync(gz)), input, `zlib, ${size} bytes`);
    assert.deepEqual(fflateGunzip(gz), input, `fflate, ${size} bytes`);
  }
});

test("the bytes do not depend on how many cores made them, and the parts cost little", async () => {
  const input = sample(5 * PART + 999);
  const one = await gzipParts(input, 9, 1);
  const two = await gzipParts(input, 9, 2);
  const four = await gzipParts(input, 9, 4);
  assert.deepEqual(two, one);
  assert.deepEqual(four, one);
  const { gzipSync } = await import("fflate");
  assert.ok(one.length <= gzipSync(input, { level: 9 }).length * 1.01, "within 1% of one stream");
});
