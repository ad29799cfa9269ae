/**
 * CRC-32 (ISO-HDLC, the one gzip's trailer carries), for gzip members whose
 * deflate stream is made in parts (gzip-parts.ts). zlib's own where the
 * runtime has it (Node ≥ 20.15, Deno 2: 0.2 ms for busybox's 2 MB), else
 * table-driven here (4–8 ms, on the pack's critical path).
 */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The CRC-32 of `data`, continuing from `crc` (default: a fresh one). */
export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** The CRC-32 of `data`: zlib's `crc32` where the runtime has it (loaded on first use), else {@linkcode crc32}. */
export async function crc32Fast(data: Uint8Array): Promise<number> {
  const zlib: { crc32?: (data: Uint8Array) => number } = await import("node:zlib");
  return typeof zlib.crc32 === "function" ? zlib.crc32(data) >>> 0 : crc32(data);
}
