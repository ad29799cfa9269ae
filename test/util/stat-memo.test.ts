import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { memoByStat } from "../../lib/util/stat-memo.ts";
import { tempDir } from "../helpers.ts";

test("a value is reused while the watched files are unchanged, recomputed when one changes", async () => {
  const dir = await tempDir("memo-");
  const env = { MICROFORGE_CACHE: join(dir, "cache") };
  const file = join(dir, "input");
  await writeFile(file, "one");
  let calls = 0;
  const compute = () => Promise.resolve(`value ${++calls}`);
  assert.equal(await memoByStat("hash of input", [file], compute, env), "value 1");
  assert.equal(await memoByStat("hash of input", [file], compute, env), "value 1");
  await appendFile(file, " two");
  assert.equal(await memoByStat("hash of input", [file], compute, env), "value 2");
  assert.equal(await memoByStat("hash of input", [file], compute, env), "value 2");
  // Another question about the same file has its own memo.
  assert.equal(await memoByStat("size of input", [file], compute, env), "value 3");
});

test("a missing watched file is part of the key; a damaged memo is a miss", async () => {
  const dir = await tempDir("memo-");
  const env = { MICROFORGE_CACHE: join(dir, "cache") };
  const file = join(dir, "later");
  let calls = 0;
  const compute = () => Promise.resolve(++calls);
  assert.equal(await memoByStat("q", [file], compute, env), 1);
  assert.equal(await memoByStat("q", [file], compute, env), 1);
  await writeFile(file, "now it exists");
  assert.equal(await memoByStat("q", [file], compute, env), 2);
  const { readdir } = await import("node:fs/promises");
  for (const f of await readdir(join(dir, "cache", "memo"))) await writeFile(join(dir, "cache", "memo", f), "{not json");
  assert.equal(await memoByStat("q", [file], compute, env), 3);
});
