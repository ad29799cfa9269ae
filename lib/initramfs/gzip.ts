/**
 * Reproducible gzip: no name, mtime 0, and the same bytes on Node and on Deno.
 * Node's zlib and Deno's differ in output, so we use fflate (pure JS) and feed
 * it fixed-size blocks, making the result depend only on the input bytes.
 * fflate is loaded on first use: the default image is a plain cpio, and a
 * warm `run` should not pay for loading a compressor it does not call.
 */

/** Block size fed to the compressor; fixed so chunking never changes the output. */
const BLOCK = 1 << 20;

/** Gzip level 0-9 (9 = smallest). */
export type GzipLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/** Re-chunk a byte stream into fixed-size blocks (the last one may be shorter). */
export async function* fixedBlocks(source: AsyncIterable<Uint8Array>, size = BLOCK): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(size);
  let used = 0;
  for await (const chunk of source) {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(size - used, chunk.length - off);
      buf.set(chunk.subarray(off, off + n), used);
      used += n;
      off += n;
      if (used === size) {
        yield buf;
        buf = new Uint8Array(size);
        used = 0;
      }
    }
  }
  yield buf.subarray(0, used);
}

/** Compress a byte stream to one gzip member, deterministically. */
export async function* gzipStream(source: AsyncIterable<Uint8Array>, level: GzipLevel = 9): AsyncGenerator<Uint8Array> {
  const { Gzip } = await import("fflate");
  const out: Uint8Array[] = [];
  const gz = new Gzip({ level, mtime: 0 }, (chunk) => out.push(chunk));
  let pending: Uint8Array | undefined;
  for await (const block of fixedBlocks(source)) {
    if (pending) gz.push(pending, false);
    pending = block;
    yield* out.splice(0);
  }
  gz.push(pending ?? new Uint8Array(0), true);
  yield* out.splice(0);
}
