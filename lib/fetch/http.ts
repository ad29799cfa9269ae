/**
 * The HTTP transport under `download()` and `fetchText()`: the plain-http
 * policy, a timeout to the response headers, a stall guard on the body, a
 * check of Content-Length against the bytes received, and retries with
 * exponential backoff for transient failures (network errors, timeouts, cut
 * bodies, HTTP 5xx; never 4xx). Every failure is a {@linkcode DownloadError}
 * naming the URL and what happened.
 */
import { DownloadError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";

/** Network options shared by `download()` and `fetchText()`. */
export interface HttpOptions {
  /** The fetch to use (tests inject one); default the runtime's `fetch`. */
  fetch?: typeof fetch;
  /** Time allowed until the response headers arrive (default 10 s). */
  connectTimeoutMs?: number;
  /** The transfer is aborted when no body bytes arrive for this long (default 30 s). */
  stallTimeoutMs?: number;
  /** Extra attempts after a transient failure (default 2). */
  retries?: number;
  /** Backoff before the first retry, doubled for each next one (default 500 ms). */
  retryDelayMs?: number;
  /**
   * Plain http:// beyond loopback: `true` for any host, or the URL of a
   * mirror the user configured (MICROFORGE_KERNEL_RELEASES_URL, ...) for its
   * host only. Default: loopback only.
   */
  allowHttp?: boolean | string;
  /** Where retry notices go. */
  log?: Logger;
  /** No retry notices. */
  quiet?: boolean;
}

/** A response with status 2xx whose body is read under the stall guard. */
export interface OpenResponse {
  /** The URL after redirects. */
  url: string;
  headers: Headers;
  /** Declared body length, when the server sent Content-Length for an unencoded body. */
  length?: number;
  /** The body in chunks; throws a DownloadError on stall, cut connection or short body. */
  chunks(): AsyncGenerator<Uint8Array>;
  /** Abandon the body. */
  cancel(): void;
}

const transient = new WeakMap<DownloadError, string>();

/** A DownloadError that a retry may cure; `detail` is kept for the "gave up" message. */
export function transientError(url: string, detail: string, hint?: string, cause?: unknown): DownloadError {
  const err = new DownloadError(url, detail, hint, { cause });
  transient.set(err, detail);
  return err;
}

/** True for failures worth retrying (network, timeouts, cut bodies, HTTP 5xx). */
export function isTransient(err: unknown): boolean {
  return err instanceof DownloadError && transient.has(err);
}

/**
 * What `allowHttp` a mirror configured in environment variable `name` grants:
 * its URL when it is plain http (so http is allowed to that host alone), else nothing.
 */
export function mirrorHttp(name: string, env: Record<string, string | undefined> = process.env): string | false {
  const url = env[name] ?? "";
  return url.startsWith("http://") ? url : false;
}

/**
 * Parse `url` and apply the policy: https always; http only to loopback
 * (127.0.0.0/8, ::1, localhost: nothing on the network can tamper), to the
 * host of a configured mirror (`allowHttp` a URL), or anywhere with
 * `allowHttp: true`; nothing else.
 */
export function checkUrl(url: string, allowHttp: boolean | string = false): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DownloadError(url, "not a valid URL", "give an absolute https:// URL");
  }
  if (parsed.protocol === "https:") return parsed;
  if (parsed.protocol === "http:") {
    if (allowHttp === true || isLoopback(parsed.hostname)) return parsed;
    const mirror = typeof allowHttp === "string" ? tryUrl(allowHttp) : undefined;
    if (mirror?.protocol === "http:" && mirror.host === parsed.host) return parsed;
    throw new DownloadError(
      url,
      "plain http:// is refused (anyone on the path could change the bytes)",
      mirror
        ? `only the mirror you configured (${mirror.host}) may use http; use the https:// URL`
        : "use the https:// URL; plain http needs a mirror you configure explicitly (MICROFORGE_KERNEL_RELEASES_URL, MICROFORGE_BUSYBOX_URL, or allowHttp in the DSL)",
    );
  }
  throw new DownloadError(url, `the ${parsed.protocol} scheme is not supported`, "give an https:// URL");
}

function tryUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Seconds for messages: "30 s", "0.2 s". */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))} s`;
}

/** GET `url` once; resolves when the headers of a 2xx response are in. */
export async function openUrl(url: string, options: HttpOptions = {}): Promise<OpenResponse> {
  checkUrl(url, options.allowHttp);
  const connectMs = options.connectTimeoutMs ?? 10_000;
  const stallMs = options.stallTimeoutMs ?? 30_000;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => (timedOut = true, controller.abort()), connectMs);
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, {
      signal: controller.signal,
      redirect: "follow",
      headers: { "accept-encoding": "identity" },
    });
  } catch (err) {
    if (timedOut) throw transientError(url, `no response within ${seconds(connectMs)}`, undefined, err);
    const reason = networkReason(err, url);
    // An unknown host will not resolve on a retry; offline machines fall back at once.
    if (reason.startsWith("cannot resolve host")) throw new DownloadError(url, reason, "check the network, or use an offline source (debian)", { cause: err });
    throw transientError(url, reason, undefined, err);
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    controller.abort();
    throw statusError(url, response);
  }
  if (response.url && response.url !== url && new URL(response.url).protocol === "http:") {
    try {
      checkUrl(response.url, options.allowHttp);
    } catch {
      controller.abort();
      throw new DownloadError(url, `redirected to plain http ${response.url}, which is refused`, "use a mirror that stays on https, or pass allowHttp: true");
    }
  }
  const declared = response.headers.get("content-length");
  const encoding = response.headers.get("content-encoding");
  const length = declared !== null && /^\d+$/.test(declared) && (!encoding || encoding === "identity") ? Number(declared) : undefined;
  return {
    url: response.url || url,
    headers: response.headers,
    length,
    chunks: () => readBody(url, response, length, stallMs, controller),
    cancel: () => controller.abort(),
  };
}

function statusError(url: string, response: Response): DownloadError {
  const detail = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  if (response.status >= 500) return transientError(url, detail, "the server failed; try again later or use another mirror");
  if (response.status === 404 || response.status === 410) {
    return new DownloadError(url, detail, "the file is not on the server: check the version and the mirror URL");
  }
  return new DownloadError(url, detail, "the server refused the request: check the URL and whether the mirror needs access rights");
}

async function* readBody(url: string, response: Response, length: number | undefined, stallMs: number, controller: AbortController): AsyncGenerator<Uint8Array> {
  let received = 0;
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => (stalled = true, controller.abort()), stallMs);
  };
  const of = length === undefined ? "" : ` of ${length}`;
  const reader = response.body?.getReader();
  try {
    arm();
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      arm();
      received += value.length;
      yield value;
    }
  } catch (err) {
    if (stalled) {
      throw transientError(url, `stalled: no data for ${seconds(stallMs)} after ${received}${of} bytes`, "the server stopped sending; try again later or use another mirror", err);
    }
    const reason = networkReason(err, url);
    const detail = reason === "connection reset" ? `connection reset after ${received}${of} bytes` : `truncated at ${received}${of} bytes (${reason})`;
    throw transientError(url, detail, "the connection was cut and nothing was kept; try again", err);
  } finally {
    clearTimeout(timer);
    if (length === undefined || received < length) controller.abort();
  }
  if (length !== undefined && received < length) {
    throw transientError(url, `truncated at ${received} of ${length} bytes (the server closed the connection early)`, "nothing was kept; try again");
  }
}

/** A short reason for a network error from Node's undici or Deno's fetch ("connection reset", ...). */
export function networkReason(err: unknown, url: string): string {
  const messages: string[] = [];
  let code: string | undefined;
  for (let e = err; e instanceof Error; e = e.cause) {
    code ??= (e as NodeJS.ErrnoException).code;
    messages.push(e.message);
  }
  const all = `${code ?? ""} ${messages.join(" | ")}`;
  const last = messages.at(-1) ?? String(err);
  if (/ECONNRESET|reset by peer|connection reset/i.test(all)) return "connection reset";
  if (/ECONNREFUSED|connection refused/i.test(all)) return "connection refused";
  if (/ENOTFOUND|EAI_AGAIN|dns error|getaddrinfo/i.test(all)) return `cannot resolve host ${new URL(url).hostname}`;
  if (/ETIMEDOUT|timed out/i.test(all)) return "connection timed out";
  if (/other side closed/i.test(all)) return "the server closed the connection";
  if (/error reading a body from connection/i.test(all)) return "the connection broke"; // Deno hides the cause
  if (/certificate|TLS|SSL/i.test(all)) return `TLS error: ${last}`;
  return last;
}

/** Run `attempt`, retrying transient failures with exponential backoff. */
export async function withRetries<T>(url: string, options: HttpOptions, attempt: () => Promise<T>): Promise<T> {
  const retries = options.retries ?? 2;
  const base = options.retryDelayMs ?? 500;
  for (let n = 0;; n++) {
    try {
      return await attempt();
    } catch (err) {
      const detail = err instanceof DownloadError ? transient.get(err) : undefined;
      if (detail === undefined || !(err instanceof DownloadError)) throw err;
      if (n >= retries) {
        if (n === 0) throw err;
        throw new DownloadError(url, `${detail} (gave up after ${n + 1} attempts)`, err.hint, { cause: err.cause });
      }
      const delay = base * 2 ** n;
      if (!options.quiet) options.log?.step(`${url}: ${detail}; retrying in ${seconds(delay)} (attempt ${n + 2} of ${retries + 1})`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
