import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cli, onDeno, tempDir } from "../helpers.ts";

test("cache ls lists entries; clean --older-than removes old ones and orphaned temp files", { skip: onDeno ? "spawns the CLI; runs under Node" : false }, async () => {
  const cache = await tempDir("cache-");
  const env = { MICROFORGE_CACHE: cache };
  const blobs = join(cache, "blobs", "sha256");
  await mkdir(blobs, { recursive: true });
  const [oldBlob, newBlob] = ["a".repeat(64), "b".repeat(64)];
  await writeFile(join(blobs, oldBlob), "old");
  await writeFile(join(blobs, newBlob), "new");
  await writeFile(join(blobs, "incoming.tmp-999999-abcdef"), "half");
  // A kernel's kept O= directory is an entry like the others.
  const buildDir = join(cache, "build", "c".repeat(64));
  await mkdir(join(buildDir, "init"), { recursive: true });
  await writeFile(join(buildDir, "init", "main.o"), "object");
  const longAgo = new Date(Date.now() - 40 * 86_400_000);
  await utimes(join(blobs, oldBlob), longAgo, longAgo);
  await utimes(buildDir, longAgo, longAgo);
  const ls = await cli(["cache", "ls"], { env });
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`blobs .* 40d  ${oldBlob}`));
  assert.match(ls.stdout, / build .* 40d {2}c{64}/);
  const dry = await cli(["cache", "clean", "--older-than", "30d", "--dry-run"], { env });
  assert.match(dry.stdout, /would remove blobs\/a{64}/);
  assert.equal((await readdir(blobs)).length, 3);
  const clean = await cli(["cache", "clean", "--older-than", "30d"], { env });
  assert.equal(clean.code, 0, clean.stderr);
  assert.deepEqual(await readdir(blobs), [newBlob]);
  assert.match(clean.stdout, /removed build\/c{64}/);
  assert.deepEqual(await readdir(join(cache, "build")), []);
  const bad = await cli(["cache", "clean"], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /needs --older-than AGE or --all/);
});
