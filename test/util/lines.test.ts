import { test } from "node:test";
import assert from "node:assert/strict";
import { lineSplitter } from "../../lib/util/lines.ts";

test("lines split across chunks, LF or CRLF, come out whole; the unfinished rest waits", () => {
  const got: string[] = [];
  const split = lineSplitter((l) => got.push(l));
  split.feed("one\r\ntw");
  split.feed("o\nthr");
  assert.deepEqual(got, ["one", "two"]);
  assert.equal(split.partial, "thr");
  split.feed("ee\n");
  assert.deepEqual(got, ["one", "two", "three"]);
  assert.equal(split.partial, "");
});

test("a stream without newlines keeps only the last 4096 characters of its unfinished line", () => {
  const split = lineSplitter(() => assert.fail("no line ended"));
  split.feed("x".repeat(10_000) + "end");
  assert.equal(split.partial.length, 4096);
  assert.ok(split.partial.endsWith("end"));
});
