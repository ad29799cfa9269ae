/**
 * What a run with `--bundle` keeps for the bundle while it streams: the
 * kernel console, and the command's stdout and stderr, each passed on as
 * usual and copied, up to a cap (the last bytes win, where a failure shows).
 */
import type { OutputSink } from "./exec.ts";

/** Keep at most this much of each stream: a runaway guest must not fill our memory. */
const CAP = 8 << 20;

/** A byte buffer that keeps the last {@linkcode CAP} bytes written to it. */
class TailBuffer {
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  /** Bytes dropped from the front. */
  dropped = 0;

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk.slice());
    this.#bytes += chunk.length;
    while (this.#bytes - this.#chunks[0].length >= CAP) {
      const first = this.#chunks.shift()!;
      this.#bytes -= first.length;
      this.dropped += first.length;
    }
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.#chunks);
  }
}

/** Copies of a run's console and output, and the sinks that make them. */
export class BundleRecorder {
  readonly #console = new TailBuffer();
  readonly #stdout = new TailBuffer();
  readonly #stderr = new TailBuffer();

  /** A console callback that keeps each chunk, then hands it to `next`. */
  console(next?: (chunk: string) => void): (chunk: string) => void {
    return (chunk) => {
      this.#console.push(Buffer.from(chunk));
      next?.(chunk);
    };
  }

  /** An output sink that keeps each chunk, then hands it to `next` (whose backpressure it keeps). */
  sink(stream: "stdout" | "stderr", next: OutputSink): OutputSink {
    const buf = stream === "stdout" ? this.#stdout : this.#stderr;
    return (chunk) => {
      buf.push(chunk);
      return next(chunk);
    };
  }

  /** What was kept, each with the number of leading bytes dropped by the cap. */
  get(): { console: Uint8Array; stdout: Uint8Array; stderr: Uint8Array; dropped: { console: number; stdout: number; stderr: number } } {
    return {
      console: this.#console.bytes(),
      stdout: this.#stdout.bytes(),
      stderr: this.#stderr.bytes(),
      dropped: { console: this.#console.dropped, stdout: this.#stdout.dropped, stderr: this.#stderr.dropped },
    };
  }
}
