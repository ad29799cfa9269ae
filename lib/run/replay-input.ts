/**
 * A run's stdin that a second attempt can read again from the start: a run
 * restored from a broken snapshot is rerun cold, and what the first attempt
 * already took from a pipe must reach the second. Chunks are kept until
 * {@linkcode ReplayableInput.settle} (the attempt is known to be the last)
 * or until they pass a cap, after which there is nothing to replay.
 */

/** Keep at most this much for a second attempt. */
const CAP_BYTES = 16 * 2 ** 20;

/** An async iterable over `source` that can be iterated again from the start (see the module doc). */
export class ReplayableInput implements AsyncIterable<Uint8Array> {
  #source: AsyncIterator<Uint8Array>;
  /** The chunks read and kept; `#chunks[k]` is chunk number `#base + k`. */
  #chunks: Uint8Array[] = [];
  #base = 0;
  #bytes = 0;
  #done = false;
  #pull?: Promise<void>;
  #keeping = true;
  /** Each iteration's number: only the newest one reads on, older ones stop. */
  #generation = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /** Whether a new iteration would see everything from the first chunk. */
  get replayable(): boolean {
    return this.#base === 0;
  }

  /** No more attempts: forget chunks once read. */
  settle(): void {
    this.#keeping = false;
  }

  /** Read from the first kept chunk on; an older iteration stops (without ending the source). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    const generation = ++this.#generation;
    for (let i = this.#base;;) {
      if (generation !== this.#generation) return;
      if (i < this.#base + this.#chunks.length) {
        const chunk = this.#chunks[i++ - this.#base];
        if (!this.#keeping || this.#bytes > CAP_BYTES) this.#forget(i);
        yield chunk;
        continue;
      }
      if (this.#done) return;
      await (this.#pull ??= this.#source.next().then((r) => {
        this.#pull = undefined;
        if (r.done) this.#done = true;
        else {
          this.#chunks.push(r.value);
          this.#bytes += r.value.length;
        }
      }));
    }
  }

  #forget(upTo: number): void {
    while (this.#base < upTo && this.#chunks.length) {
      this.#bytes -= this.#chunks.shift()!.length;
      this.#base++;
    }
  }
}
