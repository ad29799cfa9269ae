/**
 * `microforge.lock.json`: what each artifact resolved to (version, URL,
 * sha256), so re-runs get the same bytes. Keys are written in a stable order
 * so the file diffs well. `--update` re-resolves; `--locked` refuses changes.
 */
import { readFile, stat } from "node:fs/promises";
import { fileKind } from "../util/file-kind.ts";
import { resolve } from "node:path";
import { writeFileAtomic } from "../util/cache-dir.ts";
import { LockFileError } from "../util/errors.ts";

/** The lock file's name, beside the recipe. */
export const LOCK_FILE_NAME = "microforge.lock.json";

/** One resolved artifact. */
export interface LockEntry {
  /** What was asked for ("longterm", "^1.35"). */
  spec: string;
  /** What it resolved to ("6.1.63"). */
  version: string;
  /** Which source provided it ("kernel.org", "busybox.net", "debian", "path"). */
  source: string;
  /** Where the bytes came from (URL, Debian package=version, or path). */
  url: string;
  sha256: string;
  /** Later steps add more (e.g. a config hash). */
  [extra: string]: unknown;
}

/** The lock file's content. */
export interface LockFile {
  version: 1;
  artifacts: Record<string, LockEntry>;
}

/** How to treat the lock: reuse entries, re-resolve (`update`), or fail on any change (`locked`). */
export type LockMode = "reuse" | "update" | "locked";

/** An empty lock. */
export function emptyLock(): LockFile {
  return { version: 1, artifacts: {} };
}

/** Read `path`; a missing file is an empty lock, a broken one an error. */
export async function readLock(path: string): Promise<LockFile> {
  let text: string;
  try {
    // Only a regular file is read: a directory would fail late, and a FIFO would block forever.
    const s = await stat(path);
    if (!s.isFile()) {
      throw new LockFileError(`Lock file ${path} is ${fileKind(s)}`, `pass the path of a lock file (e.g. ${LOCK_FILE_NAME}); a missing one is created`);
    }
    text = await readFile(path, "utf8");
  } catch (err) {
    if (err instanceof LockFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return emptyLock();
    if (code === "ENOTDIR") throw new LockFileError(`Lock file ${path} cannot exist: a part of its path is a file`, "fix the path given with --lock");
    throw new LockFileError(`Cannot read ${path}: ${(err as Error).message}`, "check its permissions");
  }
  let data: LockFile;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new LockFileError(`${path} is not valid JSON: ${(err as Error).message}`, `fix it, or delete it and run with --update to re-resolve`);
  }
  if (data?.version !== 1 || typeof data.artifacts !== "object" || data.artifacts === null) {
    throw new LockFileError(`${path} is not a microforge lock file (expected {"version": 1, "artifacts": {...}})`, "delete it and run with --update");
  }
  for (const [name, e] of Object.entries(data.artifacts)) {
    if (typeof e?.version !== "string" || typeof e.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(e.sha256)) {
      throw new LockFileError(`${path}: entry ${name} has no valid version and sha256`, "delete the entry and run with --update");
    }
  }
  return data;
}

/** JSON with object keys sorted at every level. */
export function stableJson(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === "object"
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]))
      : v;
  return JSON.stringify(sort(value), null, 2) + "\n";
}

/** Write the lock atomically. */
export async function writeLock(path: string, lock: LockFile): Promise<void> {
  await writeFileAtomic(path, stableJson(lock));
}

/** Source names that are not paths. */
const SOURCE_KEYWORDS = ["auto", "kernel.org", "busybox.net", "debian", "host"];

/**
 * The locked entry for `name` to reuse, or undefined when it must be resolved.
 * With `locked`, a missing entry or a changed spec is a {@linkcode LockFileError} saying what differs.
 */
export function lockedEntry(lock: LockFile, name: string, spec: string, source: string, mode: LockMode, mutexPath: string): LockEntry | undefined {
  const entry = lock.artifacts[name];
  if (mode === "update") return undefined;
  // A source that is not a keyword is a file, recorded as source "path" with its absolute path as the url.
  const path = SOURCE_KEYWORDS.includes(source) ? undefined : resolve(source);
  const differs = !entry
    ? `it has no entry for ${name}`
    : entry.spec !== spec
    ? `${name} is locked to spec ${JSON.stringify(entry.spec)} but ${JSON.stringify(spec)} was asked for`
    : path !== undefined
    ? entry.source === "path" && entry.url === path ? undefined : `${name} is locked to ${entry.source === "path" ? entry.url : `source ${entry.source}`} but ${path} was asked for`
    : source !== "auto" && entry.source !== source
    ? `${name} is locked to source ${entry.source} but ${source} was asked for`
    : undefined;
  if (!differs) return entry;
  if (mode === "locked") {
    throw new LockFileError(`--locked: ${mutexPath} would change: ${differs}`, "run without --locked (or with --update) to re-resolve and rewrite the lock");
  }
  return undefined;
}
