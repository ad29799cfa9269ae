/**
 * The cache root and atomic writes into it: nothing half-written is ever
 * visible under its final name (write to a temp name, then rename).
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";

/** `MICROFORGE_CACHE`, else `$XDG_CACHE_HOME/microforge`, else `~/.cache/microforge`. */
export function cacheRoot(env: Record<string, string | undefined> = process.env): string {
  if (env.MICROFORGE_CACHE) return resolve(env.MICROFORGE_CACHE);
  const xdg = env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(xdg, "microforge");
}

/** A unique sibling temp path for `target`, in the same directory so rename is atomic. */
export function tempPathFor(target: string): string {
  return `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Write `data` to `target` atomically, creating parent directories. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  try {
    await writeFile(tmp, data, { mode });
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** True when `name` is a temp file of {@linkcode tempPathFor} whose writer process is gone. */
export function isOrphanTemp(name: string): boolean {
  const m = /\.tmp-(\d+)-[a-z0-9]+$/.exec(name);
  if (!m) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}
