/**
 * Skipping a pack whose inputs did not change. An image is named by its
 * sha256, which is only known once it is written; this remembers, for the
 * inputs of a pack (every entry's metadata, the bytes of in-memory files and
 * the inode, size and mtime of host files, as git's index does), which image
 * they gave. A warm `run` then reuses the image instead of writing 2 MB and
 * hashing it again. The image must still look as it did when it was written
 * (any write to it changes its mtime), or it is packed again.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type CpioEntry, normalizeEntries } from "./cpio.ts";
import { sha256Hex } from "../util/hash.ts";
import { fileSignature } from "../util/stat-memo.ts";
import { writeFileAtomic } from "../util/cache-dir.ts";
import type { PackResult } from "./pack.ts";

/** Bump when the pack's output for the same inputs changes (cpio writer, gzip members). */
const FORMAT = "pack-memo/v1";

/** The key of packing `entries` with `settings` (gzip level, mtime, owner): a sha256. */
export async function packInputKey(entries: readonly CpioEntry[], settings: Record<string, unknown>): Promise<string> {
  const parts: string[] = [FORMAT, JSON.stringify(settings)];
  for (const e of normalizeEntries(entries)) {
    const meta = { ...e } as Record<string, unknown>;
    if ("data" in e) meta.data = sha256Hex(e.data);
    if ("source" in e) meta.source = `${e.source}=${await fileSignature(e.source)}`;
    parts.push(JSON.stringify(meta));
  }
  return sha256Hex(parts.join("\n"));
}

/** Where the memo of `key` lives under the initramfs directory `dir`. */
function memoPath(dir: string, key: string): string {
  return join(dir, "inputs", `${key}.json`);
}

/** The image packed before from the inputs `key`, if it is still there untouched. */
export async function packedBefore(dir: string, key: string): Promise<PackResult | undefined> {
  try {
    const memo = JSON.parse(await readFile(memoPath(dir, key), "utf8"));
    const path = join(dir, String(memo.image));
    if (memo.key !== key || memo.signature === "missing" || memo.signature !== (await fileSignature(path))) return undefined;
    return { path, size: memo.size, sha256: memo.sha256, entries: memo.entries };
  } catch {
    return undefined;
  }
}

/** Remember that the inputs `key` gave `result` (in `dir`); only saves time, so a failed write is ignored. */
export async function rememberPack(dir: string, key: string, result: PackResult): Promise<void> {
  const image = result.path.slice(dir.length + 1);
  const memo = { key, image, signature: await fileSignature(result.path), size: result.size, sha256: result.sha256, entries: result.entries };
  await writeFileAtomic(memoPath(dir, key), JSON.stringify(memo) + "\n").catch(() => undefined);
}
