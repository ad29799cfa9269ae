/** Whole lines out of a stream of text chunks (a console, make's output). */

/** Longest unfinished line kept: a stream without newlines must not grow without bound. */
const MAX_PARTIAL = 4096;

/** A line splitter: `feed(chunk)` calls `onLine` for each complete line (LF or CRLF); `partial` is what is not yet ended. */
export interface LineSplitter {
  feed(chunk: string): void;
  readonly partial: string;
}

/** Split text chunks into lines for `onLine`; the unfinished rest waits for the next chunk (its last 4096 characters). */
export function lineSplitter(onLine: (line: string) => void): LineSplitter {
  let partial = "";
  return {
    feed(chunk) {
      const parts = (partial + chunk).split(/\r?\n/);
      partial = parts.pop() ?? "";
      if (partial.length > MAX_PARTIAL) partial = partial.slice(-MAX_PARTIAL);
      for (const line of parts) onLine(line);
    },
    get partial() {
      return partial;
    },
  };
}
