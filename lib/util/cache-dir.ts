/**
 * The cache root and atomic writes into it: nothing half-written is ever
 * visible under its final name (write to a temp name, then rename). Temp
 * names handed out here are removed when the process exits or is signalled,
 * and a full, read-only or forbidden disk becomes a {@linkcode CacheWriteError}
 * that names the directory and the space needed.
 */
import { existsSync, rmSync } from "node:fs";
import { mkdir, rename, rm, statfs, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { CacheWriteError, MicroforgeError, WriteError } from "./errors.ts";
import { onExitOrSignal } from "./reaper.ts";

/** `MICROFORGE_CACHE`, else `$XDG_CACHE_HOME/microforge`, else `~/.cache/microforge`. */
export function cacheRoot(env: Record<string, string | undefined> = process.env): string {
  if (env.MICROFORGE_CACHE) return resolve(env.MICROFORGE_CACHE);
  const xdg = env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(xdg, "microforge");
}

/** Temp paths this process handed out; whatever still exists at exit is unfinished work. */
const temps = new Set<string>();

function removeTemps(): string | void {
  let n = 0;
  for (const path of temps) {
    if (!existsSync(path)) continue;
    try {
      rmSync(path, { recursive: true, force: true, maxRetries: 3 });
      n++;
    } catch { /* the next `cache clean` removes it: its pid is gone */ }
  }
  temps.clear();
  if (n) return `removed ${n} unfinished temp ${n === 1 ? "file" : "files"}`;
}

/**
 * A unique sibling temp path for `target`, in the same directory so rename is
 * atomic. If the process exits or is signalled while the path still exists,
 * it is removed.
 */
export function tempPathFor(target: string): string {
  if (!temps.size) onExitOrSignal(removeTemps);
  if (temps.size >= 256) for (const p of temps) if (!existsSync(p)) temps.delete(p);
  const path = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  temps.add(path);
  return path;
}

/** "138 MB", "12.3 kB", "512 B". */
export function formatSize(bytes: number): string {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(bytes >= 1e8 ? 0 : 1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

/** Bytes free for us on the filesystem holding `path` (its nearest existing parent); `undefined` when unknown. */
export async function freeBytes(path: string): Promise<number | undefined> {
  for (let p = resolve(path); ; p = dirname(p)) {
    try {
      const s = await statfs(p);
      return Number(s.bavail) * Number(s.bsize);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || p === dirname(p)) return undefined;
    }
  }
}

const WHY: Record<string, string> = {
  ENOSPC: "the disk is full",
  EDQUOT: "the disk quota is used up",
  EROFS: "it is on a read-only filesystem",
  EACCES: "permission denied",
  EPERM: "permission denied",
};

/** Options of {@linkcode writeError}. */
export interface WriteErrorOptions {
  /** Bytes the write needs in all, when known. */
  needs?: number;
  /** What was being written, for the message (default the path). */
  what?: string;
  /** The cache root (default {@linkcode cacheRoot} of `env`). */
  root?: string;
  env?: Record<string, string | undefined>;
}

/**
 * `err` as a {@linkcode CacheWriteError} (path inside the cache) or
 * {@linkcode WriteError} when it says the disk is full, read-only or not
 * writable for us; any other error is returned as it is.
 */
export async function writeError(err: unknown, path: string, options: WriteErrorOptions = {}): Promise<unknown> {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (err instanceof MicroforgeError || !code || !(code in WHY)) return err;
  const root = resolve(options.root ?? cacheRoot(options.env));
  const inCache = !relative(root, resolve(path)).startsWith("..");
  const dir = inCache ? root : dirname(resolve(path));
  const what = options.what ?? (inCache ? relative(root, resolve(path)) : path);
  let detail = WHY[code];
  if (code === "ENOSPC" || code === "EDQUOT") {
    const free = await freeBytes(dir);
    const parts = [options.needs !== undefined ? `${what} needs about ${formatSize(options.needs)}` : `while writing ${what}`, free !== undefined ? `${formatSize(free)} free` : ""];
    detail += ` (${parts.filter(Boolean).join(", ")})`;
  } else detail += ` (while writing ${what})`;
  const full = code === "ENOSPC" || code === "EDQUOT";
  if (inCache) {
    const hint = full
      ? `free space there (\`microforge cache clean --older-than 30d\`), or set MICROFORGE_CACHE to a directory on a disk with room`
      : `set MICROFORGE_CACHE to a directory you can write to (it is ${root} now)`;
    return new CacheWriteError(root, code, `Cannot write to the cache ${root}: ${detail}`, hint, { cause: err });
  }
  const hint = full ? "free space on that disk, or write the file somewhere else" : "write the file somewhere you have write access to";
  return new WriteError(dir, code, `Cannot write to ${dir}: ${detail}`, hint, { cause: err });
}

/**
 * `mkdir -p dir`, failing with the real reason: Node's recursive mkdir says
 * ENOENT where the disk is read-only, so the first missing level is retried
 * on its own to get the error that explains it.
 */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    let missing = resolve(dir);
    while (dirname(missing) !== missing && !existsSync(dirname(missing))) missing = dirname(missing);
    await mkdir(missing);
    throw err;
  }
}

/** Write `data` to `target` atomically, creating parent directories. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tempPathFor(target);
  try {
    await ensureDir(dirname(target));
    await writeFile(tmp, data, { mode });
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    const size = typeof data === "string" ? Buffer.byteLength(data) : data.length;
    throw await writeError(err, target, { needs: size });
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
