/**
 * The content-addressed store under the cache root: each file is kept once,
 * read-only, at `<cache>/blobs/sha256/<hex>`, and a URL index at
 * `<cache>/urls/<sha256 of url>.json` remembers what a URL gave before.
 * A blob is hashed again when it is used ({@linkcode verifiedBlob}): a
 * damaged one is removed, never handed out.
 */
import { chmod, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { ensureDir, writeError, writeFileAtomic } from "../util/cache-dir.ts";
import type { Logger } from "../util/log.ts";
import { memoByStat } from "../util/stat-memo.ts";
import { sha256File, sha256Hex } from "../util/hash.ts";

/** What a URL gave when it was last fetched. */
export interface UrlRecord {
  url: string;
  sha256: string;
  size: number;
  /** ISO 8601 time of the transfer. */
  fetchedAt: string;
}

/** A file in the store. */
export interface StoredBlob {
  path: string;
  sha256: string;
  size: number;
}

/** True for a lower-case 64-digit hex sha256. */
export function isSha256(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}

/** The directory holding the blobs; temp files for incoming blobs go here too, so rename is atomic. */
export function blobDir(cacheDir: string): string {
  return join(cacheDir, "blobs", "sha256");
}

/** Where the blob with this sha256 lives (whether or not it exists). */
export function blobPath(cacheDir: string, sha256: string): string {
  if (!isSha256(sha256)) throw new TypeError(`Not a sha256: ${JSON.stringify(sha256)}`);
  return join(blobDir(cacheDir), sha256);
}

/** The stored blob with this sha256, or `undefined` when it is not in the store. */
export async function findBlob(cacheDir: string, sha256: string): Promise<StoredBlob | undefined> {
  const path = blobPath(cacheDir, sha256);
  try {
    const info = await stat(path);
    return info.isFile() ? { path, sha256, size: info.size } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The stored blob with this sha256 if its bytes still hash to it. A damaged
 * blob (a flipped bit, a truncated file) is removed with a warning on `log`
 * and `undefined` is returned, as for a missing one, so the caller fetches it again.
 */
export async function verifiedBlob(cacheDir: string, sha256: string, log?: Logger): Promise<StoredBlob | undefined> {
  const found = await findBlob(cacheDir, sha256);
  if (!found) return undefined;
  // Re-hashed whenever the file changed (size, mtime, inode): a warm run must not
  // spend a second hashing a 138 MB tarball it only needs the name of. Any
  // write to it (a flipped byte included) changes its mtime; rot below the
  // filesystem is caught where the bytes are used (xz's CRC when extracting).
  const actual = await memoByStat(`sha256 of blob ${found.path}`, [found.path], () => sha256File(found.path), { MICROFORGE_CACHE: cacheDir })
    .catch((err: Error) => `unreadable (${err.message})`);
  if (actual === sha256) return found;
  log?.warn(`the cached file ${found.path} is damaged (sha256 ${actual.slice(0, 16)}…, expected ${sha256.slice(0, 16)}…); removed it`);
  await rm(found.path, { force: true });
  return undefined;
}

/**
 * Move a finished temp file (already hashed by the caller) into the store as
 * read-only; the temp file is gone afterwards either way.
 */
export async function adoptBlob(cacheDir: string, tempFile: string, sha256: string): Promise<StoredBlob> {
  const path = blobPath(cacheDir, sha256);
  try {
    await chmod(tempFile, 0o444);
    await ensureDir(blobDir(cacheDir));
    // Same content under the same name: replacing an existing blob is harmless.
    await rename(tempFile, path);
  } catch (err) {
    throw await writeError(err, path, { root: cacheDir });
  } finally {
    await rm(tempFile, { force: true });
  }
  const { size } = await stat(path);
  return { path, sha256, size };
}

/** Store small in-memory bytes (fixtures, generated files) and return the blob. */
export async function putBlob(cacheDir: string, data: Uint8Array): Promise<StoredBlob> {
  const sha256 = sha256Hex(data);
  const found = await findBlob(cacheDir, sha256);
  if (found) return found;
  await writeFileAtomic(blobPath(cacheDir, sha256), data, 0o444);
  return { path: blobPath(cacheDir, sha256), sha256, size: data.length };
}

/** The URL index file for `url`: `<cache>/urls/<sha256 of url>.json`. */
export function urlRecordPath(cacheDir: string, url: string): string {
  return join(cacheDir, "urls", `${sha256Hex(url)}.json`);
}

/** What `url` gave before, or `undefined` (never fetched, or an unreadable record). */
export async function readUrlRecord(cacheDir: string, url: string): Promise<UrlRecord | undefined> {
  let record: Partial<UrlRecord>;
  try {
    record = JSON.parse(await readFile(urlRecordPath(cacheDir, url), "utf8"));
  } catch {
    return undefined;
  }
  const ok = record?.url === url && typeof record.sha256 === "string" && isSha256(record.sha256) &&
    typeof record.size === "number" && typeof record.fetchedAt === "string";
  return ok ? record as UrlRecord : undefined;
}

/** Remember what a URL gave (atomic write; the last writer wins). */
export async function writeUrlRecord(cacheDir: string, record: UrlRecord): Promise<void> {
  await writeFileAtomic(urlRecordPath(cacheDir, record.url), `${JSON.stringify(record, null, 2)}\n`);
}
