import { test } from "node:test";
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { emptyLock, lockedEntry, readLock, stableJson, writeLock } from "../../lib/sources/lock-file.ts";
import { LockFileError } from "../../lib/util/errors.ts";
import { tempDir } from "../helpers.ts";

const entry = { spec: "longterm", version: "6.1.63", source: "kernel.org", url: "https://x/linux-6.1.63.tar.xz", sha256: "a".repeat(64) };

test("a lock round-trips with sorted keys", async () => {
  const path = join(await tempDir("lock-"), "microforge.lock.json");
  assert.deepEqual(await readLock(path), emptyLock());
  const lock = emptyLock();
  lock.artifacts.kernel = { ...entry };
  lock.artifacts.busybox = { spec: "latest", version: "1.35.0", source: "busybox.net", url: "https://y/busybox", sha256: "b".repeat(64) };
  await writeLock(path, lock);
  const text = await readFile(path, "utf8");
  assert.ok(text.indexOf('"busybox"') < text.indexOf('"kernel"'));
  assert.ok(text.indexOf('"sha256"') < text.indexOf('"source"'));
  assert.deepEqual(await readLock(path), lock);
  assert.equal(stableJson({ b: 1, a: { d: 1, c: 2 } }), '{\n  "a": {\n    "c": 2,\n    "d": 1\n  },\n  "b": 1\n}\n');
});

test("a broken lock file is an error that says how to recover", async () => {
  const path = join(await tempDir("lock-"), "microforge.lock.json");
  await writeFile(path, "{ not json");
  await assert.rejects(readLock(path), /is not valid JSON[\s\S]*--update/);
  await writeFile(path, JSON.stringify({ version: 1, artifacts: { kernel: { ...entry, sha256: "zz" } } }));
  await assert.rejects(readLock(path), /entry kernel has no valid version and sha256/);
});

test("reuse, update and locked modes", () => {
  const lock = { version: 1 as const, artifacts: { kernel: { ...entry } } };
  assert.deepEqual(lockedEntry(lock, "kernel", "longterm", "auto", "reuse", "L"), entry);
  assert.equal(lockedEntry(lock, "kernel", "longterm", "auto", "update", "L"), undefined);
  assert.equal(lockedEntry(lock, "kernel", "6.6", "auto", "reuse", "L"), undefined);
  assert.throws(() => lockedEntry(lock, "kernel", "6.6", "auto", "locked", "L"), (err: unknown) => {
    assert.ok(err instanceof LockFileError);
    assert.match(err.message, /--locked: L would change: kernel is locked to spec "longterm" but "6\.6" was asked for/);
    return true;
  });
  assert.throws(() => lockedEntry(lock, "busybox", "latest", "auto", "locked", "L"), /it has no entry for busybox/);
  assert.throws(() => lockedEntry(lock, "kernel", "longterm", "debian", "locked", "L"), /locked to source kernel\.org but debian/);
});

test("a lock path that is a directory, a FIFO or under a file is refused, not read or blocked on", async () => {
  const dir = await tempDir("lock-");
  execFileSync("mkfifo", [join(dir, "fifo.json")]);
  await writeFile(join(dir, "file"), "");
  await assert.rejects(readLock(dir), (err: unknown) => err instanceof LockFileError && /^Lock file .* is a directory\n {2}→ pass the path of a lock file \(e\.g\. microforge\.lock\.json\); a missing one is created$/.test(err.message));
  await assert.rejects(readLock(join(dir, "fifo.json")), /Lock file .*fifo\.json is a FIFO/);
  await assert.rejects(readLock(join(dir, "file", "lock.json")), /cannot exist: a part of its path is a file/);
  await writeFile(join(dir, "array.json"), "[1, 2]");
  await assert.rejects(readLock(join(dir, "array.json")), /is not a microforge lock file[\s\S]*--update/);
});

test("a file source matches a lock entry of source path with the same absolute path", () => {
  const lock = { version: 1 as const, artifacts: { busybox: { spec: "latest", version: "1.35.0", source: "path", url: "/bin/busybox", sha256: "b".repeat(64) } } };
  assert.equal(lockedEntry(lock, "busybox", "latest", "/bin/busybox", "locked", "L"), lock.artifacts.busybox);
  assert.equal(lockedEntry(lock, "busybox", "latest", "/bin/../bin/busybox", "locked", "L"), lock.artifacts.busybox);
  assert.throws(() => lockedEntry(lock, "busybox", "latest", "/usr/local/bin/busybox", "locked", "L"), /busybox is locked to \/bin\/busybox but \/usr\/local\/bin\/busybox was asked for/);
  assert.throws(() => lockedEntry({ version: 1, artifacts: { busybox: { ...lock.artifacts.busybox, source: "host" } } }, "busybox", "latest", "/bin/busybox", "locked", "L"), /locked to source host but \/bin\/busybox was asked for/);
});
