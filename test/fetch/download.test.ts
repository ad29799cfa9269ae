import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { urlRecordPath } from "../../lib/fetch/blob-store.ts";
import { sha256Hex } from "../../lib/util/hash.ts";
import { download, type DownloadOptions } from "../../lib/fetch/download.ts";
import { ChecksumError, DownloadError } from "../../lib/util/errors.ts";
import { fetchText } from "../../lib/fetch/text.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import { startFixtureServer, type FixtureServer } from "../fixtures/http-server.ts";
import { repoRoot, tempDir, tsRunner } from "../helpers.ts";

const body = new Uint8Array(randomBytes(300_000));
const sha = sha256Hex(body);

async function withServer(fn: (server: FixtureServer, cacheDir: string) => Promise<void>): Promise<void> {
  const server = await startFixtureServer();
  try {
    await fn(server, await tempDir("dl-"));
  } finally {
    await server.close();
  }
}

/** Quiet, fast-retrying options against the fixture server. */
function opts(server: FixtureServer, cacheDir: string, path: string, more: Partial<DownloadOptions> = {}): DownloadOptions {
  return { url: `${server.url}${path}`, cacheDir, log: memoryLogger(), progress: false, retryDelayMs: 10, ...more };
}

/** Every file under the cache (directories left empty are fine). */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

/** The failure names the URL and matches `what`; the cache holds nothing; a good retry then works. */
async function failsCleanly(server: FixtureServer, cacheDir: string, path: string, what: RegExp, more: Partial<DownloadOptions> = {}): Promise<void> {
  const url = `${server.url}${path}`;
  await assert.rejects(download(opts(server, cacheDir, path, more)), (err: unknown) => {
    assert.ok(err instanceof DownloadError || err instanceof ChecksumError, String(err));
    assert.ok(err.message.includes(url), err.message);
    assert.match(err.message, what);
    assert.match(err.message, /\n {2}→ \S/, "has a hint");
    return true;
  });
  assert.deepEqual(await files(cacheDir), []);
  server.route(path, { body });
  const got = await download(opts(server, cacheDir, path, { sha256: sha }));
  assert.equal(got.cached, false);
  assert.deepEqual(new Uint8Array(await readFile(got.path)), body);
}

test("a good download is verified, stored read-only once, and then served without a request", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/a.tar.xz", { body });
    server.route("/moved", { redirect: "/a.tar.xz" });
    const got = await download(opts(server, cacheDir, "/moved", { sha256: sha }));
    assert.deepEqual(got, { path: join(cacheDir, "blobs", "sha256", sha), sha256: sha, size: body.length, cached: false });
    assert.equal((await stat(got.path)).mode & 0o777, 0o444);
    assert.deepEqual(new Uint8Array(await readFile(got.path)), body);
    const again = await download(opts(server, cacheDir, "/moved", { sha256: sha.toUpperCase() }));
    assert.deepEqual(again, { ...got, cached: true });
    assert.equal(server.hits("/moved") + server.hits("/a.tar.xz"), 2);
    const record = JSON.parse(await readFile(urlRecordPath(cacheDir, `${server.url}/moved`), "utf8"));
    assert.equal(record.sha256, sha);
  });
});

test("HTTP 404 is not retried and names the status", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/gone", { status: 404 });
    await failsCleanly(server, cacheDir, "/gone", /failed: HTTP 404 Not Found\n.*not on the server/);
    assert.equal(server.hits("/gone"), 2); // the failure and the good retry
  });
});

test("a connection reset mid-body gives up after the retries and keeps nothing", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/r", { body, resetAfter: 100_000 });
    // A RST drops bytes the client had not read yet, so the count varies; and
    // Deno's fetch does not say why a body broke off, so "reset" is not promised.
    const what = /(connection reset after|truncated at) \d+ of 300000 bytes.* \(gave up after 2 attempts\)/;
    await failsCleanly(server, cacheDir, "/r", what, { retries: 1 });
    assert.equal(server.hits("/r"), 3);
  });
});

test("a truncated body is an error saying how many bytes came of how many", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/t", { body, truncateAfter: 123_456 });
    await failsCleanly(server, cacheDir, "/t", /truncated at 123456 of 300000 bytes/, { retries: 0 });
  });
});

test("a wrong sha256 is a ChecksumError, not retried, and the bytes are not kept", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/c", { body });
    const wrong = "0".repeat(64);
    await failsCleanly(server, cacheDir, "/c", new RegExp(`expected sha256 ${wrong}, got ${sha}`), { sha256: wrong });
    assert.equal(server.hits("/c"), 2);
  });
});

test("a server that stops sending is aborted after stallTimeoutMs", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/s", { body, stallAfter: 70_000 });
    const started = Date.now();
    await failsCleanly(server, cacheDir, "/s", /stalled: no data for 0\.2 s after 70000 of 300000 bytes/, { stallTimeoutMs: 200, retries: 0 });
    assert.ok(Date.now() - started < 1500);
  });
});

test("a server that never answers times out after connectTimeoutMs", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/slow", { body, delayMs: 5000 });
    await failsCleanly(server, cacheDir, "/slow", /no response within 0\.2 s/, { connectTimeoutMs: 200, retries: 0 });
  });
});

test("a transfer succeeds on retry after one HTTP 500 and after one reset", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/f", [{ status: 500 }, { body, resetAfter: 1000 }, { body }]);
    const log = memoryLogger();
    const got = await download(opts(server, cacheDir, "/f", { sha256: sha, log }));
    assert.equal(got.size, body.length);
    assert.equal(server.hits("/f"), 3);
    assert.match(log.lines.join("\n"), /HTTP 500 Internal Server Error; retrying in 0 s \(attempt 2 of 3\)/);
  });
});

test("plain http is refused unless allowHttp (loopback excepted), before any request", async () => {
  const cacheDir = await tempDir("dl-");
  let calls = 0;
  const fetch = (() => (calls++, Promise.resolve(new Response(body)))) as typeof globalThis.fetch;
  const url = "http://mirror.example/a.tar.xz";
  await assert.rejects(download({ url, cacheDir, fetch, quiet: true }), /Download of http:\/\/mirror\.example\/a\.tar\.xz failed: plain http:\/\/ is refused[^]*allowHttp/);
  await assert.rejects(download({ url: "ftp://mirror.example/a", cacheDir, fetch, quiet: true }), /ftp: scheme is not supported/);
  assert.equal(calls, 0);
  const got = await download({ url, cacheDir, fetch, quiet: true, allowHttp: true });
  assert.equal(got.sha256, sha);
  assert.equal(calls, 1);
});

test("trust on first use: the sha256 is recorded, reused, and enforced until refresh", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/tofu", { body });
    const first = await download(opts(server, cacheDir, "/tofu"));
    assert.equal(first.sha256, sha);
    assert.deepEqual(await download(opts(server, cacheDir, "/tofu")), { ...first, cached: true });
    assert.equal(server.hits("/tofu"), 1);
    // Upstream changes and the blob is gone: the recorded sha256 still holds.
    const other = new Uint8Array(randomBytes(1000));
    server.route("/tofu", { body: other });
    await rm(first.path, { force: true });
    await assert.rejects(download(opts(server, cacheDir, "/tofu")), ChecksumError);
    const renewed = await download(opts(server, cacheDir, "/tofu", { refresh: true }));
    assert.equal(renewed.sha256, sha256Hex(other));
    assert.equal((await download(opts(server, cacheDir, "/tofu"))).sha256, sha256Hex(other));
  });
});

test("a cached file whose bytes changed is removed with a warning and fetched again", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/d.tar.xz", { body });
    const first = await download(opts(server, cacheDir, "/d.tar.xz", { sha256: sha }));
    const damaged = new Uint8Array(body);
    damaged[1000] ^= 1;
    await chmod(first.path, 0o644);
    await writeFile(first.path, damaged);
    const log = memoryLogger();
    const again = await download(opts(server, cacheDir, "/d.tar.xz", { sha256: sha, log }));
    assert.equal(again.cached, false);
    assert.equal(server.hits("/d.tar.xz"), 2);
    assert.deepEqual(new Uint8Array(await readFile(again.path)), body);
    assert.match(log.lines.join("\n"), new RegExp(`warning: the cached file .*${sha} is damaged \\(sha256 [0-9a-f]{16}…, expected ${sha.slice(0, 16)}…\\); removed it: fetching ${server.url}/d\\.tar\\.xz again`));
    // Trust on first use: the recorded sha256 is the reference.
    await chmod(again.path, 0o644);
    await writeFile(again.path, damaged);
    assert.equal((await download(opts(server, cacheDir, "/d.tar.xz"))).cached, false);
    assert.equal(server.hits("/d.tar.xz"), 3);
  });
});

test("two concurrent downloads of one URL in one process make one request", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/once", { body, delayMs: 100 });
    const [a, b] = await Promise.all([download(opts(server, cacheDir, "/once")), download(opts(server, cacheDir, "/once"))]);
    assert.equal(server.hits("/once"), 1);
    assert.equal(a.path, b.path);
    assert.deepEqual([a.cached, b.cached].sort(), [false, true]);
  });
});

test("two processes downloading one URL make one request and get the same file", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/shared", { body, delayMs: 300 });
    const child = join(repoRoot, "test", "fixtures", "download-child.ts");
    const runs = [1, 2].map(() => {
      const [cmd, ...args] = tsRunner();
      const p = spawn(cmd, [...args, child, `${server.url}/shared`, cacheDir], { stdio: ["pipe", "pipe", "inherit"] });
      let out = "";
      const ready = new Promise<void>((resolve) => p.stdout.on("data", (d) => (out += d, out.includes("ready\n") && resolve())));
      const exited = new Promise<number | null>((resolve) => p.on("close", resolve));
      return { p, ready, done: exited.then((code) => ({ code, out })) };
    });
    await Promise.all(runs.map((r) => r.ready));
    runs.forEach((r) => r.p.stdin.end("go\n"));
    const results = await Promise.all(runs.map((r) => r.done));
    const got = results.map(({ code, out }) => {
      assert.equal(code, 0, out);
      return JSON.parse(out.split("\n").filter(Boolean).at(-1)!);
    });
    assert.equal(server.hits("/shared"), 1);
    assert.equal(got[0].path, got[1].path);
    assert.equal(got[0].sha256, sha);
    assert.deepEqual(got.map((g) => g.cached).sort(), [false, true]);
    const waiter = got.find((g) => g.cached);
    assert.match(waiter.log.join("\n"), /waiting for pid \d+ on .* \(download of http:\/\/127\.0\.0\.1:\d+\/shared\)/);
  });
});

test("progress: a redrawn line on a tty, one line otherwise, nothing when quiet", async () => {
  await withServer(async (server, cacheDir) => {
    server.route("/p.bin", { body, chunkDelayMs: 30 });
    let drawn = "";
    const progressStream = { write: (t: string) => (drawn += t) };
    await download(opts(server, cacheDir, "/p.bin", { progress: true, progressStream, name: "kernel" }));
    const lines = drawn.split("\r").filter(Boolean);
    assert.ok(lines.length >= 2, "redrawn while it runs");
    assert.ok(lines.every((l) => l.includes("\x1b[K")), "each redraw clears the rest of the line");
    assert.match(lines.at(-1)!.replace("\x1b[K", ""), /^kernel {2}300\.0 kB of 300\.0 kB {2}[\d.]+ [kM]?B\/s\n$/);
    const log = memoryLogger();
    server.route("/q.bin", { body: "hello" });
    await download(opts(server, cacheDir, "/q.bin", { log }));
    assert.deepEqual(log.lines, [`downloading q.bin (5 B) from ${server.url}/q.bin`]);
    const quiet = memoryLogger();
    server.route("/r.bin", { body: "quiet" });
    await download(opts(server, cacheDir, "/r.bin", { log: quiet, quiet: true, progress: true, progressStream }));
    assert.deepEqual(quiet.lines, []);
  });
});

test("fetchText gets a small document with retries, and refuses 404 and oversized bodies", async () => {
  await withServer(async (server) => {
    server.route("/releases.json", [{ status: 503 }, { body: '{"releases":[]}' }]);
    assert.equal(await fetchText(`${server.url}/releases.json`, { retryDelayMs: 10 }), '{"releases":[]}');
    assert.equal(server.hits("/releases.json"), 2);
    server.route("/missing", { status: 404 });
    await assert.rejects(fetchText(`${server.url}/missing`), /\/missing failed: HTTP 404/);
    server.route("/big", { body });
    await assert.rejects(fetchText(`${server.url}/big`, { maxBytes: 1000 }), /larger than 1000 bytes/);
  });
});
