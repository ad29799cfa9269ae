/**
 * Writing an initramfs file: cpio newc, gzip (in members), atomically (temp + rename),
 * hashing as it goes. Nothing half-written is left under the final name, and
 * a full or read-only disk is an error naming the directory.
 */
import { type FileHandle, open, rename, rm } from "node:fs/promises";
import { sha256Hasher } from "../util/hash.ts";
import { dirname, resolve } from "node:path";
import { type CpioEntry, type CpioOptions, cpioRecords, normalizeEntries, recordBytes } from "./cpio.ts";
import { ensureDir, tempPathFor, writeError } from "../util/cache-dir.ts";
import type { GzipLevel } from "./gzip.ts";
import { gzipMembers } from "./gzip-members.ts";
import type { Logger } from "../util/log.ts";

/** How to pack: cpio settings plus compression. */
export interface PackOptions extends CpioOptions {
  /** Gzip level (default 9); `false` writes a plain cpio archive. */
  gzip?: GzipLevel | false;
  /** Keep compressed members of large files here and reuse them (see gzip-members.ts). */
  memberCache?: string;
  /** Where warnings go (a damaged cached member); default stderr. */
  log?: Logger;
}

/** What was written. */
export interface PackResult {
  path: string;
  size: number;
  sha256: string;
  entries: number;
}

/** The mtime for archive entries: `SOURCE_DATE_EPOCH` when set, else 0. */
export function sourceDateEpoch(env: Record<string, string | undefined> = process.env): number {
  const v = env.SOURCE_DATE_EPOCH;
  return v && /^\d+$/.test(v) ? Number(v) : 0;
}

/** Pack `entries` into `outPath` (cpio newc, gzipped by default). */
export async function packInitramfs(entries: readonly CpioEntry[], outPath: string, options: PackOptions = {}): Promise<PackResult> {
  const path = resolve(outPath);
  const tmp = tempPathFor(path);
  const hash = sha256Hasher();
  let size = 0;
  const records = cpioRecords(entries, { mtime: sourceDateEpoch(), ...options });
  const bytes = options.gzip === false ? recordBytes(records) : gzipMembers(records, options.gzip ?? 9, { cacheDir: options.memberCache, log: options.log });
  // Iterated by hand: after a write error the rest is still counted (below).
  const chunks = bytes[Symbol.asyncIterator]();
  let out: FileHandle | undefined;
  try {
    await ensureDir(dirname(path));
    out = await open(tmp, "w", 0o644);
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      const chunk = next.value;
      hash.update(chunk);
      size += chunk.length;
      for (let at = 0; at < chunk.length;) at += (await out.write(chunk, at, chunk.length - at)).bytesWritten;
    }
    await out.close();
    out = undefined;
    await rename(tmp, path);
  } catch (err) {
    await out?.close().catch(() => undefined);
    await rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    const full = code === "ENOSPC" || code === "EDQUOT";
    // The disk is full: pack the rest without writing it, so the message can say how much space the image needs.
    if (full) for (let next = await chunks.next(); !next.done; next = await chunks.next()) size += next.value.length;
    else await chunks.return?.(undefined);
    throw await writeError(err, path, { what: "the initramfs", needs: full ? size : undefined });
  }
  return { path, size, sha256: hash.digest("hex"), entries: normalizeEntries(entries).length };
}
