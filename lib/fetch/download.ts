/**
 * Downloads into the content-addressed cache: a file known by sha256 (or a
 * URL fetched before) is served from the store without network; otherwise
 * one transfer per URL at a time (across processes), streamed to a temp file
 * while hashed, checked for length and sha256, then renamed into the store.
 * On any failure nothing is left under a final name. A cached file is hashed
 * again before it is handed out; a damaged one is fetched again. A transfer
 * that cannot fit on the cache's disk stops before it starts (or at the
 * first ENOSPC) with an error naming the directory and the size.
 */
import { type FileHandle, open, rm } from "node:fs/promises";
import { sha256Hasher, sha256Hex } from "../util/hash.ts";
import { join } from "node:path";
import { adoptBlob, blobDir, isSha256, readUrlRecord, type StoredBlob, type UrlRecord, verifiedBlob, writeUrlRecord } from "./blob-store.ts";
import { cacheRoot, ensureDir, formatSize, freeBytes, tempPathFor, writeError } from "../util/cache-dir.ts";
import { ChecksumError, DownloadError } from "../util/errors.ts";
import { withMutex } from "./mutex.ts";
import { checkUrl, type HttpOptions, openUrl, withRetries } from "./http.ts";
import { type Logger, stderrLogger } from "../util/log.ts";

/** Options for {@linkcode download}. */
export interface DownloadOptions extends HttpOptions {
  url: string;
  /** Expected sha256. Without it, trust on first use: the first transfer's sha256 is recorded and later ones must match. */
  sha256?: string;
  /** Name shown in progress lines (default the last URL path segment). */
  name?: string;
  /** Cache root (default {@linkcode cacheRoot}). */
  cacheDir?: string;
  /** Redraw a progress line on stderr (default: stderr is a terminal). */
  progress?: boolean;
  /** Where the progress line is drawn (default stderr). */
  progressStream?: { write(text: string): unknown };
  /** Without `sha256`: ignore what the URL gave before, fetch again and record the new sha256. */
  refresh?: boolean;
}

/** A file in the cache. */
export interface Downloaded {
  path: string;
  sha256: string;
  size: number;
  /** True when no transfer was needed. */
  cached: boolean;
}

/** Fetch `options.url` into the cache (or find it there) and return the stored file. */
export async function download(options: DownloadOptions): Promise<Downloaded> {
  const { url } = options;
  checkUrl(url, options.allowHttp);
  const expected = options.sha256?.toLowerCase();
  if (expected !== undefined && !isSha256(expected)) {
    throw new DownloadError(url, `the expected checksum ${JSON.stringify(options.sha256)} is not a sha256 (64 hex digits)`, "fix the checksum in the recipe or the lock file");
  }
  const cacheDir = options.cacheDir ?? cacheRoot();
  const log = options.log ?? stderrLogger({ quiet: options.quiet });
  const first = await lookup(cacheDir, url, expected, () => options.refresh === true, log);
  if (first.blob) return { ...first.blob, cached: true };
  return await withMutex(`url-${sha256Hex(url)}`, async () => {
    // Another caller may have finished the same transfer while we waited; with
    // `refresh`, only a record newer than the one we were told to ignore counts.
    const again = await lookup(cacheDir, url, expected, (r) => options.refresh === true && r.fetchedAt === first.seen, log);
    if (again.blob) return { ...again.blob, cached: true };
    return await withRetries(url, { ...options, log }, () => transfer(cacheDir, again.expected, { ...options, log }));
  }, { cacheDir, what: `download of ${url}`, log: options.quiet ? { step() {}, warn: (m) => log.warn(m) } : log });
}

/** The stored (and re-verified) file for this call if there is one, and the sha256 a transfer must match. */
async function lookup(cacheDir: string, url: string, expected: string | undefined, ignore: (record: UrlRecord) => boolean, log: Logger): Promise<{ blob?: StoredBlob; expected?: string; seen?: string }> {
  const damaged = { step: log.step, warn: (m: string) => log.warn(`${m}: fetching ${url} again`) };
  if (expected) return { blob: await verifiedBlob(cacheDir, expected, damaged), expected };
  const record = await readUrlRecord(cacheDir, url);
  if (!record || ignore(record)) return { seen: record?.fetchedAt };
  return { blob: await verifiedBlob(cacheDir, record.sha256, damaged), expected: record.sha256, seen: record.fetchedAt };
}

async function transfer(cacheDir: string, expected: string | undefined, options: DownloadOptions & { log: Logger }): Promise<Downloaded> {
  const { url } = options;
  const response = await openUrl(url, options);
  const temp = tempPathFor(join(blobDir(cacheDir), "incoming"));
  const name = displayName(options);
  const needs = response.length;
  // Refuse before the transfer what cannot fit, rather than fill the disk and fail at the end.
  const free = needs === undefined ? undefined : await freeBytes(cacheDir);
  if (needs !== undefined && free !== undefined && free < needs) {
    response.cancel();
    throw await writeError(Object.assign(new Error("not enough space"), { code: "ENOSPC" }), temp, { root: cacheDir, needs, what: name });
  }
  const meter = startMeter(options, response.length);
  const hash = sha256Hasher();
  let size = 0;
  let file: FileHandle | undefined;
  try {
    await ensureDir(blobDir(cacheDir)).catch(async (err) => {
      throw await writeError(err, temp, { root: cacheDir, needs, what: name });
    });
    file = await open(temp, "wx").catch(async (err) => {
      throw await writeError(err, temp, { root: cacheDir, needs, what: name });
    });
    try {
      for await (const chunk of response.chunks()) {
        hash.update(chunk);
        await writeAll(file, chunk);
        size += chunk.length;
        meter.update(size);
      }
      await file.datasync();
      await file.close();
      file = undefined;
    } catch (err) {
      throw await writeError(err, temp, { root: cacheDir, needs, what: needs === undefined ? `${name} (more than ${formatSize(size)})` : name });
    }
    const actual = hash.digest("hex");
    if (expected && actual !== expected) throw new ChecksumError(url, expected, actual);
    const blob = await adoptBlob(cacheDir, temp, actual);
    await writeUrlRecord(cacheDir, { url, sha256: actual, size, fetchedAt: new Date().toISOString() });
    meter.done();
    return { ...blob, cached: false };
  } catch (err) {
    meter.fail();
    response.cancel();
    await file?.close().catch(() => {});
    await rm(temp, { force: true });
    throw err;
  }
}

async function writeAll(file: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let at = 0; at < chunk.length;) {
    const { bytesWritten } = await file.write(chunk, at, chunk.length - at);
    at += bytesWritten;
  }
}


/** The name shown in progress lines and messages: `options.name`, else the last URL path segment. */
function displayName(options: DownloadOptions): string {
  return options.name ?? (new URL(options.url).pathname.split("/").filter(Boolean).at(-1) || options.url);
}

interface Meter {
  update(bytes: number): void;
  done(): void;
  fail(): void;
}

/** Progress: a redrawn line on a terminal, one log line otherwise, nothing when quiet. */
function startMeter(options: DownloadOptions & { log: Logger }, length: number | undefined): Meter {
  const name = displayName(options);
  const none = { update() {}, done() {}, fail() {} };
  if (options.quiet) return none;
  const tty = options.progress ?? process.stderr.isTTY === true;
  if (!tty) {
    options.log.step(`downloading ${name} (${length === undefined ? "size unknown" : formatSize(length)}) from ${options.url}`);
    return none;
  }
  const out = options.progressStream ?? process.stderr;
  const started = Date.now();
  let drawn = 0;
  let current = 0;
  const draw = () => {
    const secs = Math.max((Date.now() - started) / 1000, 0.001);
    const total = length === undefined ? "" : ` of ${formatSize(length)}`;
    out.write(`\r${name}  ${formatSize(current)}${total}  ${formatSize(current / secs)}/s\x1b[K`);
  };
  return {
    update(bytes) {
      current = bytes;
      if (Date.now() - drawn < 100) return;
      drawn = Date.now();
      draw();
    },
    done() {
      draw();
      out.write("\n");
    },
    fail() {
      out.write("\r\x1b[K");
    },
  };
}
