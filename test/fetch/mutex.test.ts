import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { mutexPath, withMutex } from "../../lib/fetch/mutex.ts";
import { MutexError } from "../../lib/util/errors.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import { onDeno, repoRoot, tempDir, tsRunner } from "../helpers.ts";

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
  await plantLock(mutexPath(cacheDir, "k"), { pid, hostname: hostname(), createdAt: new Date().toISOString(), token: "old" });
  const log = memoryLogger();
  const started = Date.now();
  assert.equal(await withMutex("k", () => Promise.resolve("ran"), { cacheDir, log }), "ran");
  assert.ok(Date.now() - started < 500);
  assert.match(log.lines.join("\n"), new RegExp(`warning: breaking stale lock .*k\\.lock \\(pid ${pid} is no longer running\\)`));
  await assert.rejects(stat(mutexPath(cacheDir, "k")), /ENOENT/);
});

test("a lock whose pid now belongs to a process started after the lock was taken is broken", async () => {
  const cacheDir = await tempDir("lock-");
  const sleeper = spawn("sleep", ["30"]);
  try {
    await plantLock(mutexPath(cacheDir, "k"), { pid: sleeper.pid, hostname: hostname(), createdAt: new Date(Date.now() - 60_000).toISOString(), token: "old" });
    const log = memoryLogger();
    await withMutex("k", () => Promise.resolve(), { cacheDir, log });
    assert.match(log.lines.join("\n"), new RegExp(`breaking stale lock .* \\(pid ${sleeper.pid} left it and that pid is now another process, started after the lock was taken\\)`));
  } finally {
    sleeper.kill();
  }
});

test("a process that is killed by a signal removes the lock it holds and its temp files", async () => {
  const cacheDir = await tempDir("lock-");
  const code = [
    `import { withMutex } from ${JSON.stringify(join(repoRoot, "lib", "fetch", "mutex.ts"))};`,
    `import { tempPathFor } from ${JSON.stringify(join(repoRoot, "lib", "util", "cache-dir.ts"))};`,
    `import { writeFileSync } from "node:fs";`,
    `await withMutex("held", async () => {`,
    `  writeFileSync(tempPathFor(${JSON.stringify(join(cacheDir, "half"))}), "half-written");`,
    `  process.stdout.write("holding\\n");`,
    `  await new Promise((r) => setTimeout(r, 60_000));`,
    `}, { cacheDir: ${JSON.stringify(cacheDir)} });`,
  ].join("\n");
  const script = join(cacheDir, "hold.ts");
  await writeFile(script, code);
  const [cmd, ...args] = tsRunner();
  const child = spawn(cmd, [...args, script], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  await new Promise<void>((resolve) => child.stdout.on("data", (d) => String(d).includes("holding") && resolve()));
  assert.deepEqual((await readdir(cacheDir)).filter((n) => n.startsWith("half")).length, 1);
  child.kill("SIGTERM");
  const [exitCode, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on("close", (c, s) => resolve([c, s])));
  // Deno's child_process reports an exit status of 128 + N as signal N.
  assert.ok(exitCode === 143 || (onDeno && signal === "SIGTERM"), `exit ${exitCode} ${signal}`);
  assert.match(err, /interrupted by SIGTERM: removed 1 unfinished temp file; released 1 cache lock/);
  await assert.rejects(stat(mutexPath(cacheDir, "held")), /ENOENT/);
  assert.deepEqual((await readdir(cacheDir)).filter((n) => n.startsWith("half")), []);
});

test("a lock not refreshed for staleMs is broken even when its pid looks alive", async () => {
  const cacheDir = await tempDir("lock-");
  await plantLock(mutexPath(cacheDir, "k"), { pid: 1, hostname: "elsewhere", createdAt: "2020-01-01T00:00:00Z", token: "old" }, 5000);
  const log = memoryLogger();
  await withMutex("k", () => Promise.resolve(), { cacheDir, log, staleMs: 1000 });
  assert.match(log.lines.join("\n"), /breaking stale lock .* \(not refreshed for 5 s\)/);
});

test("a live holder on another host makes us wait; timeoutMs gives a MutexError naming it", async () => {
  const cacheDir = await tempDir("lock-");
  const path = mutexPath(cacheDir, "https://example.org/a b");
  await plantLock(path, { pid: 4242, hostname: "builder-7", createdAt: new Date().toISOString(), token: "theirs" });
  const log = memoryLogger();
  await assert.rejects(withMutex("https://example.org/a b", () => Promise.resolve(), { cacheDir, log, timeoutMs: 200, pollMs: 20, what: "download of a" }), (err: unknown) => {
    assert.ok(err instanceof MutexError);
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
  const job = (name: string) => withMutex("same", async () => {
    order.push(`${name}+`);
    const info = JSON.parse(await readFile(mutexPath(cacheDir, "same"), "utf8"));
    assert.equal(info.pid, process.pid);
    await new Promise((resolve) => setTimeout(resolve, 20));
    order.push(`${name}-`);
  }, { cacheDir });
  await Promise.all([job("a"), job("b"), job("c")]);
  assert.deepEqual(order, ["a+", "a-", "b+", "b-", "c+", "c-"]);
  await assert.rejects(stat(mutexPath(cacheDir, "same")), /ENOENT/);
});

test("the holder keeps its lock fresh, so a long job is not taken for stale", async () => {
  const cacheDir = await tempDir("lock-");
  const path = mutexPath(cacheDir, "long");
  await withMutex("long", async () => {
    const then = new Date(Date.now() - 10_000);
    await utimes(path, then, then);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(Date.now() - (await stat(path)).mtimeMs < 1000);
  }, { cacheDir, staleMs: 200 });
});
