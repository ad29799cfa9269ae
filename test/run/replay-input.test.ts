import { test } from "node:test";
import assert from "node:assert/strict";
import { ReplayableInput } from "../../lib/run/replay-input.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A source of `chunks`, one per tick, that records whether it was ended early. */
function source(chunks: string[]) {
  const state = { returned: false };
  const iterable: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]() {
      let i = 0;
      return {
        next: async () => (await new Promise((r) => setTimeout(r, 1)), i < chunks.length ? { done: false, value: enc.encode(chunks[i++]) } : { done: true, value: undefined }),
        return: () => ((state.returned = true), Promise.resolve({ done: true as const, value: undefined })),
      };
    },
  };
  return { iterable, state };
}

async function take(it: AsyncIterable<Uint8Array>, n = Infinity): Promise<string> {
  let out = "";
  for await (const c of it) {
    out += dec.decode(c);
    if (--n <= 0) break;
  }
  return out;
}

test("a replayable input gives a second reader everything from the start, the source read once and not ended early", async () => {
  const { iterable, state } = source(["a", "b", "c", "d"]);
  const input = new ReplayableInput(iterable);
  assert.equal(await take(input, 2), "ab");
  assert.ok(input.replayable);
  input.settle();
  assert.equal(await take(input), "abcd");
  assert.equal(state.returned, false);
});

test("a replayable input that settled forgets what it read: nothing is left to replay", async () => {
  const { iterable } = source(["a", "b"]);
  const input = new ReplayableInput(iterable);
  input.settle();
  assert.equal(await take(input), "ab");
  assert.equal(input.replayable, false);
});

test("an older reader of a replayable input stops once a new one starts, and takes no chunk from it", async () => {
  const { iterable } = source(["a", "b", "c"]);
  const input = new ReplayableInput(iterable);
  const first = input[Symbol.asyncIterator]();
  assert.equal(dec.decode((await first.next()).value), "a");
  const pending = first.next();
  const second = take(input);
  assert.deepEqual(await pending, { done: true, value: undefined });
  assert.equal(await second, "abc");
});
