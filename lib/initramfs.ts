/**
 * Writing an initramfs file: cpio newc, gzip (in members), atomically (temp + rename),
 * hashing as it goes. Nothing half-written is left under the final name.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { type CpioEntry, type CpioOptions, cpioRecords, normalizeEntries, recordBytes } from "./cpio.ts";
import { tempPathFor } from "./cache-dir.ts";
import type { GzipLevel } from "./gzip.ts";
import { gzipMembers } from "./gzip-members.ts";

/** How to pack: cpio settings plus compression. */
export interface PackOptions extends CpioOptions {
  /** Gzip level (default 9); `false` writes a plain cpio archive. */
  gzip?: GzipLevel | false;
  /** Keep compressed members of large files here and reuse them (see gzip-members.ts). */
  memberCache?: string;
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
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const hash = createHash("sha256");
  let size = 0;
  const records = cpioRecords(entries, { mtime: sourceDateEpoch(), ...options });
  const bytes = options.gzip === false ? recordBytes(records) : gzipMembers(records, options.gzip ?? 9, options.memberCache);
  const out = createWriteStream(tmp, { mode: 0o644 });
  try {
    for await (const chunk of bytes) {
      hash.update(chunk);
      size += chunk.length;
      if (!out.write(chunk)) await once(out, "drain");
    }
    await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
    await rename(tmp, path);
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
  return { path, size, sha256: hash.digest("hex"), entries: normalizeEntries(entries).length };
}
