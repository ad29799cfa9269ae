/**
 * A small GET for index pages, releases.json and checksum files, with the
 * same timeouts, retries and http policy as `download()`. Nothing is cached
 * here: such documents change upstream, and what was resolved from them is
 * pinned by the caller (the lock file). kernel.org's release list is kept
 * for a few minutes by index-memo.ts, which calls this.
 */
import { DownloadError } from "../util/errors.ts";
import { type HttpOptions, openUrl, withRetries } from "./http.ts";

/** Options for {@linkcode fetchText}. */
export interface FetchTextOptions extends HttpOptions {
  /** Refuse bodies larger than this (default 16 MiB): an index page is small. */
  maxBytes?: number;
}

/** GET `url` and return the body as UTF-8 text; throws {@linkcode DownloadError}. */
export async function fetchText(url: string, options: FetchTextOptions = {}): Promise<string> {
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  return await withRetries(url, options, async () => {
    const response = await openUrl(url, options);
    if (response.length !== undefined && response.length > maxBytes) {
      response.cancel();
      throw tooBig(url, maxBytes);
    }
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of response.chunks()) {
      size += chunk.length;
      if (size > maxBytes) throw tooBig(url, maxBytes);
      parts.push(chunk);
    }
    const body = new Uint8Array(size);
    let at = 0;
    for (const part of parts) body.set(part, (at += part.length) - part.length);
    return new TextDecoder().decode(body);
  });
}

function tooBig(url: string, maxBytes: number): DownloadError {
  return new DownloadError(url, `the body is larger than ${maxBytes} bytes, too large for a text document`, "check that the URL points to an index or checksum file, not an artifact");
}
