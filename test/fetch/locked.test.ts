import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LockFileError, UsageError } from "../../lib/util/errors.ts";
import { readLock, writeLock } from "../../lib/sources/lock-file.ts";
import { lockedKernel, lockTreeBuild, TREE_LOCK_ENTRY } from "../../lib/fetch/locked.ts";
import { tempDir } from "../helpers.ts";

test("beforeFetch sees the resolved version and can stop the fetch, with or without a lock", async () => {
  const dir = await tempDir("locked-");
  const tarball = join(dir, "linux-6.1.63.tar.xz");
  await writeFile(tarball, "not read: beforeFetch refuses first");
  const seen: string[] = [];
  const refuse = (v: string) => {
    seen.push(v);
    throw new UsageError("refused", "by the test");
  };
  await assert.rejects(lockedKernel("6.1", { source: tarball, beforeFetch: refuse }), /^UsageError: refused/);
  const lock = join(dir, "microforge.lock.json");
  await writeLock(lock, { version: 1, artifacts: { kernel: { spec: "6.1", version: "6.1.70", source: "path", url: tarball, sha256: "0".repeat(64) } } });
  await assert.rejects(lockedKernel("6.1", { source: tarball, lock: { path: lock, mode: "reuse" }, beforeFetch: refuse }), /^UsageError: refused/);
  assert.deepEqual(seen, ["6.1.63", "6.1.70"]);
});

test("a locked tarball whose bytes differ from the pinned sha256 is refused with a hint to --update", async () => {
  const dir = await tempDir("locked-");
  const tarball = join(dir, "linux-6.1.63.tar.xz");
  await writeFile(tarball, "changed bytes");
  const lock = join(dir, "microforge.lock.json");
  await writeLock(lock, { version: 1, artifacts: { kernel: { spec: "6.1", version: "6.1.63", source: "path", url: tarball, sha256: "0".repeat(64) } } });
  await assert.rejects(lockedKernel("6.1", { source: tarball, lock: { path: lock, mode: "reuse" } }), /Checksum mismatch for .*: expected sha256 0{64} \(pinned by the lock file\), got [0-9a-f]{64}\n {2}→ .*--update/);
});

test("a kernel.org lock entry without an http(s) URL is a lock file error, not a crash", async () => {
  const dir = await tempDir("locked-");
  const lock = join(dir, "microforge.lock.json");
  await writeLock(lock, { version: 1, artifacts: { kernel: { spec: "6.1", version: "6.1.63", source: "kernel.org", url: "linux-6.1.63.tar.xz", sha256: "0".repeat(64) } } });
  await assert.rejects(lockedKernel("6.1", { source: "kernel.org", lock: { path: lock, mode: "reuse" } }), (err: unknown) => {
    assert.ok(err instanceof LockFileError);
    assert.match(err.message, /has source kernel\.org but no http\(s\) URL \("linux-6\.1\.63\.tar\.xz"\)\n {2}→ .*--update/);
    return true;
  });
});

test("a local tree's build is recorded in the lock (tree, commit, dirty, diff, image); --locked refuses any change", async () => {
  const dir = await tempDir("locked-tree-");
  const path = join(dir, "microforge.lock.json");
  const info = { path: "/src/linux", release: "6.1.192+", sha256: "a".repeat(64), configHash: "c".repeat(64), git: { commit: "f".repeat(40), dirty: true, diffSha256: "d".repeat(64) } };
  await lockTreeBuild(undefined, info); // no lock: nothing written
  assert.deepEqual((await readLock(path)).artifacts, {});
  await assert.rejects(lockTreeBuild({ path, mode: "locked" }, info), (err: Error) => err instanceof LockFileError && /kernel-tree entry differs in the entry \(there is none\)/.test(err.message));
  await lockTreeBuild({ path, mode: "reuse" }, info);
  const entry = (await readLock(path)).artifacts[TREE_LOCK_ENTRY];
  assert.deepEqual(entry, { spec: "tree", version: "6.1.192+", source: "tree", url: "/src/linux", sha256: info.sha256, configHash: info.configHash, commit: info.git.commit, dirty: true, diffSha256: info.git.diffSha256 });
  await lockTreeBuild({ path, mode: "locked" }, info); // the same build: accepted
  const edited = { ...info, sha256: "b".repeat(64), git: { ...info.git, diffSha256: "e".repeat(64) } };
  await assert.rejects(lockTreeBuild({ path, mode: "locked" }, edited), /differs in diffSha256, sha256/);
  await lockTreeBuild({ path, mode: "reuse" }, { ...edited, git: { commit: "1".repeat(40), dirty: false } });
  const clean = (await readLock(path)).artifacts[TREE_LOCK_ENTRY];
  assert.equal(clean.dirty, false);
  assert.equal("diffSha256" in clean, false);
});
