/**
 * Gzip an initramfs as several gzip members, each ending on a cpio record
 * boundary, and keep the compressed member of each large file in a cache.
 * The kernel unpacks concatenated compressed archives (init/initramfs.c:
 * `unpack_to_rootfs` loops over members and only needs each to end between
 * records), and so do gzip and cpio. Rebuilding an image whose busybox did
 * not change then skips compressing busybox, most of the work. A cached
 * member is named `<key>.<sha256 of the member>.gz` and hashed before use: a
 * damaged one is reported and compressed again.
 */
import { readdir, readFile, rm } from "node:fs/promises";
import { sha256Hex } from "../util/hash.ts";
import { join } from "node:path";
import { writeFileAtomic } from "../util/cache-dir.ts";
import { type CpioRecord, recordBytes } from "./cpio.ts";
import { type GzipLevel, gzipStream } from "./gzip.ts";
import { gzipParts, PART } from "./gzip-parts.ts";
import { type Logger, stderrLogger } from "../util/log.ts";

/** Files at least this big get a gzip member of their own. */
export const LARGE_FILE = 256 * 1024;

/** Bump when the compressor or the member layout changes, so old cache entries are not reused. */
const FORMAT = `fflate-0.8/parts-${PART}/v2`;

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** Options of {@linkcode gzipMembers}. */
export interface GzipMembersOptions {
  /** Keep the members of large files here and reuse them. */
  cacheDir?: string;
  /** Where a damaged cached member is reported (default stderr). */
  log?: Logger;
}

const sha256 = (data: Uint8Array) => sha256Hex(data);

/** The verified cached member for `key` in `dir`; damaged ones are removed with a warning. */
async function cachedMember(dir: string, key: string, log: Logger): Promise<Uint8Array | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(`${key}.`) && n.endsWith(".gz"));
  for (const name of names) {
    const data = await readFile(join(dir, name)).catch(() => undefined);
    if (data && sha256(data) === name.slice(key.length + 1, -3)) return data;
    log.warn(`the cached gzip member ${join(dir, name)} is damaged (its sha256 does not match its name); compressing it again`);
    await rm(join(dir, name), { force: true });
  }
  return undefined;
}

/** The compressed member for one large-file record, from the cache when it is there. */
async function largeMember(rec: CpioRecord & { body: { source: string } }, level: GzipLevel, options: GzipMembersOptions): Promise<Uint8Array> {
  const data = await readFile(rec.body.source);
  const dir = options.cacheDir;
  // Hashing busybox's 2 MB takes about 4 ms: only for a cache to look in.
  const key = dir ? sha256Hex(`${FORMAT}\0${level}\0`, rec.header, data) : "";
  const log = options.log ?? stderrLogger();
  const hit = dir ? await cachedMember(dir, key, log) : undefined;
  if (hit) return hit;
  // One record, one member, compressed in parts on every core (gzip-parts.ts).
  const member = await gzipParts(await collect(recordBytes([{ ...rec, body: data }])), level);
  // The member cache only saves time: an image written elsewhere must not fail because the cache is full or read-only.
  if (dir) await writeFileAtomic(join(dir, `${key}.${sha256(member)}.gz`), member).catch((err: Error) => log.warn(`not caching the gzip member of ${rec.body.source}: ${err.message.split("\n")[0]}`));
  return member;
}

/**
 * Compress cpio `records` into gzip members: each file of {@linkcode LARGE_FILE}
 * bytes or more alone (cached in `options.cacheDir` when given), runs of the rest together.
 */
export async function* gzipMembers(records: AsyncIterable<CpioRecord>, level: GzipLevel, options: GzipMembersOptions = {}): AsyncGenerator<Uint8Array> {
  let run: CpioRecord[] = [];
  for await (const rec of records) {
    const body = rec.body;
    if (body && !(body instanceof Uint8Array) && body.size >= LARGE_FILE) {
      if (run.length) yield* gzipStream(recordBytes(run), level);
      run = [];
      yield await largeMember({ ...rec, body }, level, options);
    } else run.push(rec);
  }
  if (run.length) yield* gzipStream(recordBytes(run), level);
}
