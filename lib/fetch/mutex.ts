/**
 * An inter-process lock: a file `<cache>/locks/<key>.lock` holding
 * {pid, hostname, createdAt, token}, created atomically with link(2) so it is
 * never seen half-written. Waiters poll. The holder refreshes the file's
 * mtime, so a lock is stale when its pid is gone (same host), that pid now
 * belongs to a process started after the lock was taken, or it was not
 * refreshed for `staleMs`; a stale lock is broken with a warning. Callers in
 * one process queue in memory first, so they never poll for each other. A
 * process that exits or is signalled removes the locks it holds.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { link, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { cacheRoot, ensureDir, tempPathFor, writeError } from "../util/cache-dir.ts";
import { MutexError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import type { Logger } from "../util/log.ts";
import { onExitOrSignal } from "../util/reaper.ts";

/** What a lock file holds. */
export interface MutexInfo {
  pid: number;
  hostname: string;
  createdAt: string;
  /** Random id of this acquisition, so a holder never removes someone else's lock. */
  token: string;
}

/** Options for {@linkcode withMutex}. */
export interface MutexOptions {
  /** Cache root holding `locks/` (default {@linkcode cacheRoot}). */
  cacheDir?: string;
  /** What the lock protects, for messages (default the key). */
  what?: string;
  /** Poll interval while waiting (default 100 ms). */
  pollMs?: number;
  /** A lock not refreshed for this long is stale (default 60 s; the holder refreshes every staleMs/4). */
  staleMs?: number;
  /** Give up waiting after this long with a {@linkcode MutexError} (default: wait as long as the holder is alive). */
  timeoutMs?: number;
  /** Where "waiting for ..." and "breaking stale lock" go. */
  log?: Logger;
}

const queues = new Map<string, Promise<void>>();
/** token → lock file, for the locks this process holds. */
const held = new Map<string, string>();

/** At exit or on a signal: remove the lock files we still hold (unless someone broke and replaced them). */
function releaseHeld(): string | void {
  let n = 0;
  for (const [token, path] of held) {
    try {
      if (JSON.parse(readFileSync(path, "utf8")).token !== token) continue;
      rmSync(path, { force: true });
      n++;
    } catch { /* gone already */ }
  }
  held.clear();
  if (n) return `released ${n} cache ${n === 1 ? "lock" : "locks"}`;
}

/** The lock file for `key`; keys that are not plain file names are hashed. */
export function mutexPath(cacheDir: string, key: string): string {
  const name = /^[\w.-]{1,120}$/.test(key) ? key : sha256Hex(key);
  return join(cacheDir, "locks", `${name}.lock`);
}

/** Run `fn` holding the lock `key` (in this process and across processes on this cache). */
export async function withMutex<T>(key: string, fn: () => Promise<T>, options: MutexOptions = {}): Promise<T> {
  const path = mutexPath(options.cacheDir ?? cacheRoot(), key);
  const before = queues.get(path) ?? Promise.resolve();
  let done!: () => void;
  const turn = new Promise<void>((resolve) => (done = resolve));
  const mine = before.then(() => turn);
  queues.set(path, mine);
  await before;
  try {
    const release = await acquire(path, key, options);
    try {
      return await fn();
    } finally {
      await release();
    }
  } finally {
    done();
    if (queues.get(path) === mine) queues.delete(path);
  }
}

async function acquire(path: string, key: string, options: MutexOptions): Promise<() => Promise<void>> {
  const pollMs = options.pollMs ?? 100;
  const staleMs = options.staleMs ?? 60_000;
  const what = options.what ?? key;
  const started = Date.now();
  let announced = false;
  await ensureDir(join(path, "..")).catch(async (err) => {
    throw await writeError(err, path, { what: `the lock for ${what}` });
  });
  for (;;) {
    const info: MutexInfo = { pid: process.pid, hostname: hostname(), createdAt: new Date().toISOString(), token: randomBytes(8).toString("hex") };
    if (await create(path, info, what)) return holding(path, info, staleMs);
    const holder = await inspect(path);
    if (!holder) continue; // released between our attempt and our look
    const stale = staleReason(holder.info, Date.now() - holder.mtimeMs, staleMs);
    if (stale) {
      options.log?.warn(`breaking stale lock ${path} (${stale})`);
      await breakLock(path, holder.info);
      continue;
    }
    const owner = holder.info ? `pid ${holder.info.pid} on ${holder.info.hostname}` : "another process";
    if (options.timeoutMs !== undefined && Date.now() - started >= options.timeoutMs) {
      throw new MutexError(
        `Timed out after ${(options.timeoutMs / 1000).toFixed(1)} s waiting for the lock on ${what}, held by ${owner}`,
        `wait for that process to finish, or remove ${path} if it is not running`,
      );
    }
    if (!announced) options.log?.step(`waiting for ${owner} (${what})`);
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Create the lock file with its content in one step; false when it already exists. */
async function create(path: string, info: MutexInfo, what: string): Promise<boolean> {
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, JSON.stringify(info));
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw await writeError(err, path, { what: `the lock for ${what}` });
  } finally {
    await rm(tmp, { force: true });
  }
}

function holding(path: string, info: MutexInfo, staleMs: number): () => Promise<void> {
  if (!held.size) onExitOrSignal(releaseHeld);
  held.set(info.token, path);
  const refresh = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, Math.max(10, staleMs / 4));
  (refresh as { unref?: () => void }).unref?.();
  return async () => {
    clearInterval(refresh);
    held.delete(info.token);
    const now = await inspect(path);
    if (now?.info?.token === info.token) await rm(path, { force: true });
  };
}

/** The lock's content and mtime; `undefined` when it is gone. */
async function inspect(path: string): Promise<{ info?: MutexInfo; mtimeMs: number } | undefined> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([readFile(path, "utf8"), stat(path)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed?.pid === "number" && typeof parsed.token === "string") return { info: parsed, mtimeMs };
  } catch { /* unreadable: judged by age alone */ }
  return { mtimeMs };
}

/** Why a lock is stale, or `undefined` when its holder may still be working. */
function staleReason(info: MutexInfo | undefined, ageMs: number, staleMs: number): string | undefined {
  if (ageMs > staleMs) return `not refreshed for ${Math.round(ageMs / 1000)} s`;
  if (!info) return ageMs > 1000 ? "unreadable lock file" : undefined;
  if (info.hostname !== hostname()) return undefined;
  if (info.pid === process.pid) {
    // Our pid but not our lock: left by an earlier process that had the same pid (containers reuse low pids).
    return held.has(info.token) ? undefined : `pid ${info.pid} left it and that pid is now this process`;
  }
  if (!pidAlive(info.pid)) return `pid ${info.pid} is no longer running`;
  const started = processStartMs(info.pid);
  // Slack for clock steps between taking the lock and now: /proc's start time is relative to boot.
  if (started !== undefined && started > Date.parse(info.createdAt) + 10_000) {
    return `pid ${info.pid} left it and that pid is now another process, started after the lock was taken`;
  }
  return undefined;
}

/** When process `pid` started (ms since the epoch), from /proc on Linux; `undefined` elsewhere. */
function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
    // USER_HZ is 100 on every Linux ABI Node and Deno run on (it is fixed for userspace, see man 5 proc).
    return Number.isFinite(ticks) && btime ? btime * 1000 + ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Remove a stale lock, unless someone replaced it since we looked (then put theirs back). */
async function breakLock(path: string, seen: MutexInfo | undefined): Promise<void> {
  const aside = `${path}.stale-${randomBytes(4).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch {
    return; // someone else broke or released it first
  }
  const moved = await inspect(aside);
  if (seen && moved?.info?.token !== seen.token) await link(aside, path).catch(() => {});
  await rm(aside, { force: true });
}
