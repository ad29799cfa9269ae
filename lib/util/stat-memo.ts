/**
 * Remembering slow answers about files outside our cache until those files
 * change, like git's index: the sha256 of a 150 MB Debian source tarball
 * (1–2 s to hash), or what `apt-cache` says (about 1 s) until the package
 * lists change. Keyed on each file's device, inode, size and mtime; a missing
 * or unreadable memo is only a miss. Also used for downloaded blobs (a write
 * to one changes its mtime), for the kernels we boot (a flipped byte is a
 * write), and for what probing a host binary says (`gcc --version`).
 */
import { readFile, stat } from "node:fs/promises";
import { sha256Hex } from "./hash.ts";
import { join } from "node:path";
import { cacheRoot, writeFileAtomic } from "./cache-dir.ts";

/** How a file looks now (device, inode, size, mtime), or "missing". */
export async function fileSignature(path: string): Promise<string> {
  try {
    // Whole milliseconds: Deno reports mtime to the millisecond, Node to the
    // nanosecond, and both runtimes share one cache.
    const s = await stat(path);
    return `${s.dev}:${s.ino}:${s.size}:${Math.floor(s.mtimeMs)}`;
  } catch {
    return "missing";
  }
}

/**
 * `compute()`'s value, reused while every file in `watch` looks the same as
 * when it was computed. `name` says what is remembered (and is part of the key).
 */
export async function memoByStat<T>(name: string, watch: readonly string[], compute: () => Promise<T>, env: Record<string, string | undefined> = process.env): Promise<T> {
  const file = join(cacheRoot(env), "memo", `${sha256Hex(name).slice(0, 32)}.json`);
  const sig = (await Promise.all(watch.map(async (p) => `${p}=${await fileSignature(p)}`))).join("\n");
  try {
    const memo = JSON.parse(await readFile(file, "utf8"));
    if (memo.name === name && memo.sig === sig) return memo.value as T;
  } catch {
    // No memo yet (or a damaged one): compute.
  }
  const value = await compute();
  // Only a value computed from files that did not change meanwhile is kept.
  const after = (await Promise.all(watch.map(async (p) => `${p}=${await fileSignature(p)}`))).join("\n");
  if (after === sig) await writeFileAtomic(file, JSON.stringify({ name, sig, value }) + "\n").catch(() => undefined);
  return value;
}
