/**
 * Gzip an initramfs as several gzip members, each ending on a cpio record
 * boundary, and keep the compressed member of each large file in a cache.
 * The kernel unpacks concatenated compressed archives (init/initramfs.c:
 * `unpack_to_rootfs` loops over members and only needs each to end between
 * records), and so do gzip and cpio. Rebuilding an image whose busybox did
 * not change then skips compressing busybox, most of the work.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./cache-dir.ts";
import { type CpioRecord, recordBytes } from "./cpio.ts";
import { type GzipLevel, gzipStream } from "./gzip.ts";

/** Files at least this big get a gzip member of their own. */
export const LARGE_FILE = 256 * 1024;

/** Bump when the compressor or the member layout changes, so old cache entries are not reused. */
const FORMAT = "fflate-0.8/v1";

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** The compressed member for one large-file record, from `cacheDir` when it is there. */
async function largeMember(rec: CpioRecord & { body: { source: string } }, level: GzipLevel, cacheDir?: string): Promise<Uint8Array> {
  const data = await readFile(rec.body.source);
  const key = createHash("sha256").update(`${FORMAT}\0${level}\0`).update(rec.header).update(data).digest("hex");
  const file = cacheDir ? join(cacheDir, `${key}.gz`) : undefined;
  if (file) {
    try {
      return await readFile(file);
    } catch {
      // not cached yet
    }
  }
  const member = await collect(gzipStream(recordBytes([{ ...rec, body: data }]), level));
  if (file) await writeFileAtomic(file, member);
  return member;
}

/**
 * Compress cpio `records` into gzip members: each file of {@linkcode LARGE_FILE}
 * bytes or more alone (cached in `cacheDir` when given), runs of the rest together.
 */
export async function* gzipMembers(records: AsyncIterable<CpioRecord>, level: GzipLevel, cacheDir?: string): AsyncGenerator<Uint8Array> {
  let run: CpioRecord[] = [];
  for await (const rec of records) {
    const body = rec.body;
    if (body && !(body instanceof Uint8Array) && body.size >= LARGE_FILE) {
      if (run.length) yield* gzipStream(recordBytes(run), level);
      run = [];
      yield await largeMember({ ...rec, body }, level, cacheDir);
    } else run.push(rec);
  }
  if (run.length) yield* gzipStream(recordBytes(run), level);
}
