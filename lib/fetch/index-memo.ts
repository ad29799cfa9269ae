/**
 * A release list (kernel.org's `releases.json`) remembered for a few
 * minutes, the way package managers keep their index: an unpinned `run` or
 * `emit` resolves "longterm" on every start, and asking kernel.org each
 * time costs a TLS round trip (~100–300 ms online, and 10–25 ms to find out
 * we are offline). What was resolved from the list is pinned by the lock
 * file, not here; this only spares the repeated question.
 *
 * - A list is reused for `MICROFORGE_INDEX_TTL` seconds (default 600; 0
 *   asks every time); a failed fetch for at most 60 s of it, so an offline
 *   machine does not wait for the network on every run but sees it again
 *   within a minute.
 * - `fresh` asks now (and remembers the answer): `versions` and `--update`
 *   pass it, since their job is to see upstream as it is.
 * - A list that does not parse is never kept; a damaged memo is a miss.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { cacheRoot, writeFileAtomic } from "../util/cache-dir.ts";
import { DownloadError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";

/** How long a list is reused by default, in seconds. */
export const DEFAULT_INDEX_TTL_S = 600;
/** The longest a failed fetch is remembered, in seconds. */
export const FAILURE_TTL_S = 60;

/** Options of {@linkcode rememberedIndex}. */
export interface IndexMemoOptions {
  env?: Record<string, string | undefined>;
  /** Ask upstream now, whatever is remembered. */
  fresh?: boolean;
  /** The clock, in epoch milliseconds (tests). */
  now?: () => number;
}

/** What the memo file holds: the list's text, or why fetching it failed, and when. */
interface IndexMemo {
  url: string;
  at: number;
  text?: string;
  failure?: { detail: string; hint: string };
}

/** `MICROFORGE_INDEX_TTL` in seconds; a value that is not a number ≥ 0 is the default. */
export function indexTtlSeconds(env: Record<string, string | undefined> = process.env): number {
  const raw = env.MICROFORGE_INDEX_TTL;
  const n = raw === undefined || raw.trim() === "" ? NaN : Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_INDEX_TTL_S;
}

/** Where the list of `url` is remembered: beside the other memos, one file per URL. */
function memoPath(url: string, env: Record<string, string | undefined>): string {
  return join(cacheRoot(env), "memo", `${sha256Hex(`index ${url}`).slice(0, 32)}.json`);
}

async function readMemo(path: string, url: string): Promise<IndexMemo | undefined> {
  try {
    const memo = JSON.parse(await readFile(path, "utf8")) as IndexMemo;
    if (memo.url !== url || typeof memo.at !== "number") return undefined;
    if (typeof memo.text !== "string" && typeof memo.failure?.detail !== "string") return undefined;
    return memo;
  } catch {
    return undefined;
  }
}

/**
 * `parse(text)` of the list at `url`: the remembered text while it is young
 * enough, else `load()`'s (then remembered). A {@linkcode DownloadError} from
 * `load()` is remembered too, briefly, and thrown again until then with its age.
 */
export async function rememberedIndex<T>(url: string, load: () => Promise<string>, parse: (text: string) => T, options: IndexMemoOptions = {}): Promise<T> {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const ttlMs = indexTtlSeconds(env) * 1000;
  const path = memoPath(url, env);
  const memo = ttlMs > 0 && !options.fresh ? await readMemo(path, url) : undefined;
  const age = memo ? now() - memo.at : Infinity;
  if (memo && age >= 0) {
    if (memo.text !== undefined && age < ttlMs) {
      try {
        return parse(memo.text);
      } catch {
        // Kept by another version of microforge, or damaged: fetch it again.
      }
    } else if (memo.failure && age < Math.min(ttlMs, FAILURE_TTL_S * 1000)) {
      const wait = Math.ceil((Math.min(ttlMs, FAILURE_TTL_S * 1000) - age) / 1000);
      throw new DownloadError(url, `${memo.failure.detail} (${Math.round(age / 1000)} s ago; asked again in ${wait} s)`, `${memo.failure.hint}; \`microforge versions kernel\` asks again now`);
    }
  }
  const remember = (m: Omit<IndexMemo, "url" | "at">) =>
    // Only saves time: a memo that cannot be written is no reason to fail.
    ttlMs > 0 ? writeFileAtomic(path, JSON.stringify({ url, at: now(), ...m } satisfies IndexMemo) + "\n").catch(() => undefined) : undefined;
  let text: string;
  try {
    text = await load();
  } catch (err) {
    if (err instanceof DownloadError) await remember({ failure: { detail: err.detail, hint: err.hint } });
    throw err;
  }
  const value = parse(text);
  await remember({ text });
  return value;
}
