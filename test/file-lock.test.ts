import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { lockPath, withLock } from "../lib/file-lock.ts";
import { LockError } from "../lib/errors.ts";
import { memoryLogger } from "../lib/log.ts";
import { tempDir } from "./helpers.ts";

async function plantLock(path: string, info: object, ageMs = 0): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify(info));
  const then = new Date(Date.now() - ageMs);
  await utimes(path, then, then);
}

async function deadPid(): Promise<number> {
  const child = spawn("true");
  await new Promise((resolve) => child.on("close", resolve));
  return child.pid!;
}

test("a lock left by a dead pid is broken with a warning", async () => {
  const cacheDir = await tempDir("lock-");
  const pid = await deadPid();
  await plantLock(lockPath(cacheDir, "k"), { pid, hostname: hostname(), createdAt: new Date().toISOString(), token: "old" });
  const log = memoryLogger();
  const started = Date.now();
  assert.equal(await withLock("k", () => Promise.resolve("ran"), { cacheDir, log }), "ran");
  assert.ok(Date.now() - started < 500);
  assert.match(log.lines.join("\n"), new RegExp(`warning: breaking stale lock .*k\\.lock \\(pid ${pid} is no longer running\\)`));
  await assert.rejects(stat(lockPath(cacheDir, "k")), /ENOENT/);
});

test("a lock not refreshed for staleMs is broken even when its pid looks alive", async () => {
  const cacheDir = await tempDir("lock-");
  await plantLock(lockPath(cacheDir, "k"), { pid: 1, hostname: "elsewhere", createdAt: "2020-01-01T00:00:00Z", token: "old" }, 5000);
  const log = memoryLogger();
  await withLock("k", () => Promise.resolve(), { cacheDir, log, staleMs: 1000 });
  assert.match(log.lines.join("\n"), /breaking stale lock .* \(not refreshed for 5 s\)/);
});

test("a live holder on another host makes us wait; timeoutMs gives a LockError naming it", async () => {
  const cacheDir = await tempDir("lock-");
  const path = lockPath(cacheDir, "https://example.org/a b");
  await plantLock(path, { pid: 4242, hostname: "builder-7", createdAt: new Date().toISOString(), token: "theirs" });
  const log = memoryLogger();
  await assert.rejects(withLock("https://example.org/a b", () => Promise.resolve(), { cacheDir, log, timeoutMs: 200, pollMs: 20, what: "download of a" }), (err: unknown) => {
    assert.ok(err instanceof LockError);
    assert.match(err.message, /Timed out after 0\.2 s waiting for the lock on download of a, held by pid 4242 on builder-7/);
    assert.ok(err.hint.includes(path));
    return true;
  });
  assert.deepEqual(log.lines, ["waiting for pid 4242 on builder-7 (download of a)"]);
  assert.equal(JSON.parse(await readFile(path, "utf8")).token, "theirs", "their lock is untouched");
});

test("callers in one process run one at a time, and the lock file is gone afterwards", async () => {
  const cacheDir = await tempDir("lock-");
  const order: string[] = [];
  const job = (name: string) => withLock("same", async () => {
    order.push(`${name}+`);
    const info = JSON.parse(await readFile(lockPath(cacheDir, "same"), "utf8"));
    assert.equal(info.pid, process.pid);
    await new Promise((resolve) => setTimeout(resolve, 20));
    order.push(`${name}-`);
  }, { cacheDir });
  await Promise.all([job("a"), job("b"), job("c")]);
  assert.deepEqual(order, ["a+", "a-", "b+", "b-", "c+", "c-"]);
  await assert.rejects(stat(lockPath(cacheDir, "same")), /ENOENT/);
});

test("the holder keeps its lock fresh, so a long job is not taken for stale", async () => {
  const cacheDir = await tempDir("lock-");
  const path = lockPath(cacheDir, "long");
  await withLock("long", async () => {
    const then = new Date(Date.now() - 10_000);
    await utimes(path, then, then);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(Date.now() - (await stat(path)).mtimeMs < 1000);
  }, { cacheDir, staleMs: 200 });
});
