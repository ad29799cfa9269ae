/**
 * Cache damage, through the real CLI: a flipped byte in a cached artifact
 * (kernel bzImage and PVH vmlinux, a downloaded tarball, a gzip member), an
 * entry deleted halfway, and locks left by killed processes. Each must be
 * detected on use (hashes checked; stale locks broken by pid or by age),
 * reported as a warning, and repaired: rebuilt or fetched again, with the
 * bytes the cache recorded before the damage.
 *
 * The kernel is a small one of ours (feature virtio, a LOCALVERSION no other
 * test uses), kept with its O= directory in the test cache, so a rebuild is
 * an incremental make.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, readFile, readlink, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sha256Hex } from "../../lib/util/hash.ts";
import { mutexPath } from "../../lib/fetch/mutex.ts";
import { cli, onDeno, repoRoot, tempDir, testCache, tsRunner } from "../helpers.ts";
import { type FixtureServer, startFixtureServer } from "../fixtures/http-server.ts";
import { serveUpstream } from "../fixtures/upstream.ts";

const skip = onDeno ? "Node only" : false;
const KERNEL = ["kernel", "build", "--kernel-source", "debian", "--version", "6.1", "--features", "virtio", "--set", 'CONFIG_LOCALVERSION="-mf-cache-damage"', "--json"];

let server: FixtureServer;
let upstream: Record<string, string>;
const TARBALL = "/pub/linux/kernel/v6.x/linux-6.1.63.tar.xz";
const body = new Uint8Array(randomBytes(3_000_000));

before(async () => {
  if (skip) return;
  server = await startFixtureServer();
  upstream = await serveUpstream(server, { tarballs: { "6.1.63": body } });
});
after(async () => await server?.close());

interface Started {
  pid: number;
  child: ChildProcess;
  err: () => string;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

function start(args: string[], env: Record<string, string | undefined> = {}): Started {
  const [cmd, ...pre] = tsRunner("node");
  const child = spawn(cmd, [...pre, join(repoRoot, "lib", "cli.ts"), ...args], { cwd: repoRoot, env: { ...process.env, MICROFORGE_CACHE: testCache, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stdout!.resume();
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((res) => child.on("close", (code, signal) => res({ code, signal })));
  return { pid: child.pid!, child, err: () => err, exited };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms: number): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
}

/** Live (non-zombie) processes whose command line or working directory mentions `needle`. */
async function processesUsing(needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    if (!stat || stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ").trim();
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => "");
    if (cmdline.includes(needle) || cwd.startsWith(needle)) found.push(`${pid} ${cmdline.slice(0, 80)}`);
  }
  return found;
}

/** Flip one byte in the middle of `path`; returns its offset. */
async function flipByte(path: string): Promise<number> {
  await chmod(path, 0o644);
  const data = await readFile(path);
  const at = Math.floor(data.length / 2);
  data[at] ^= 0x20;
  await writeFile(path, data);
  return at;
}

const warnings = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("! ")).map((l) => l.slice(2));
/** A warning for the table: cache paths and the fixture server's address shortened. */
const short = (w: string[]) => w.map((l) => l.replaceAll(/\S*\/(kernels|build|blobs\/sha256|gzip-members|locks)\/((?:url-|kernel-)?[0-9a-f]{12})[0-9a-f]*(\.[0-9a-f]{12})?[0-9a-f]*/g, "<cache>/$1/$2…$3").replaceAll(/http:\/\/127\.0\.0\.1:\d+/g, "<server>")).join(" / ");
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Our kernel (built once if the test cache never had it). */
async function ourKernel(): Promise<{ key: string; entry: string; buildDir: string; meta: { bzImageSha256: string; vmlinuxSha256: string } }> {
  const r = await cli(KERNEL);
  assert.equal(r.code, 0, r.stderr);
  const { key } = JSON.parse(r.stdout);
  const entry = join(testCache, "kernels", key);
  return { key, entry, buildDir: join(testCache, "build", key), meta: JSON.parse(await readFile(join(entry, "build.json"), "utf8")) };
}

for (const file of ["bzImage", "vmlinux"] as const) {
  const what = file === "bzImage" ? "the cached bzImage" : "the cached PVH vmlinux (the image QEMU boots)";
  test(`a byte flipped in ${what} → a warning naming it, rebuilt by an incremental make, the recorded bytes again`, { skip, timeout: 60 * 60_000 }, async (t) => {
    const k = await ourKernel();
    const path = join(k.entry, file);
    const want = file === "bzImage" ? k.meta.bzImageSha256 : k.meta.vmlinuxSha256;
    const at = await flipByte(path);
    const started = Date.now();
    const r = await cli(KERNEL);
    const took = Date.now() - started;
    const got = sha256Hex(await readFile(path));
    const w = warnings(r.stderr);
    t.diagnostic(`observed: byte ${at} flipped; exit ${r.code} in ${secs(took)}; warning "${short(w)}"; ${/building linux/.test(r.stderr) ? "make ran" : "make did not run"}; ${file} sha256 ${got === want ? "equals the recorded one" : "DIFFERS"}`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).cached, false, "rebuilt, not served");
    assert.ok(w.some((l) => l.includes(k.entry) && new RegExp(`${file} does not match its recorded sha256.*rebuilding it`).test(l)), r.stderr);
    assert.match(r.stderr, /building linux/);
    assert.equal(got, want);
    const again = await cli(KERNEL);
    assert.equal(JSON.parse(again.stdout).cached, true);
    assert.deepEqual(warnings(again.stderr), []);
  });
}

test("a kernel cache entry deleted halfway (vmlinux gone) → a warning that it is incomplete, rebuilt, the recorded bytes again", { skip, timeout: 60 * 60_000 }, async (t) => {
  const k = await ourKernel();
  await rm(join(k.entry, "vmlinux"));
  const started = Date.now();
  const r = await cli(KERNEL);
  const w = warnings(r.stderr);
  const got = await readFile(join(k.entry, "vmlinux")).then(sha256Hex, () => "missing");
  t.diagnostic(`observed: exit ${r.code} in ${secs(Date.now() - started)}; warning "${short(w)}"; vmlinux sha256 ${got === k.meta.vmlinuxSha256 ? "equals the recorded one" : got}`);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(w.some((l) => /damaged: vmlinux is missing; rebuilding it/.test(l)), r.stderr);
  assert.equal(got, k.meta.vmlinuxSha256);
});

test("SIGKILL during make (uncatchable; the lock stays) → the next build breaks the stale lock, stops any make still running there, completes with the recorded bytes", { skip, timeout: 60 * 60_000 }, async (t) => {
  const k = await ourKernel();
  await rm(k.entry, { recursive: true });
  // Enough work (mm/ recompiled, then the relink) that make is busy when microforge is killed.
  const objects = (await readdir(join(k.buildDir, "mm")).catch(() => [])).filter((f) => f.endsWith(".o")).map((f) => `mm/${f}`);
  for (const f of ["build.log", "vmlinux", "vmlinux.o", "arch/x86/boot/bzImage", ...objects]) await rm(join(k.buildDir, f), { force: true });
  const p = start(KERNEL);
  await until("make's first compile", async () => /^ {2}CC +mm\//m.test(await readFile(join(k.buildDir, "build.log"), "utf8").catch(() => "")) || undefined, 10 * 60_000);
  process.kill(p.pid, "SIGKILL");
  await p.exited;
  // make is in a process group of its own: SIGKILL to microforge does not reach it; it dies of SIGPIPE when it next writes.
  const orphans = await processesUsing(k.buildDir);
  const lockLeft = await stat(join(testCache, "locks", `kernel-${k.key}.lock`)).then(() => true, () => false);
  const started = Date.now();
  const r = await cli(KERNEL);
  const left = (await processesUsing(k.buildDir)).filter((l) => orphans.some((o) => o.split(" ")[0] === l.split(" ")[0]));
  const w = warnings(r.stderr);
  const got = await readFile(join(k.entry, "bzImage")).then(sha256Hex, () => "missing");
  const stopped = w.some((l) => /stopped make \(pid \d+\) left running in .* by a build that was killed/.test(l));
  t.diagnostic(`observed: right after SIGKILL ${orphans.length} processes of its make were still running and the lock was ${lockLeft ? "left" : "gone"}; next build: exit ${r.code} in ${secs(Date.now() - started)}, warnings "${short(w)}"${stopped ? "" : " (its make had died by itself)"}, ${left.length} of those processes left; bzImage ${got === k.meta.bzImageSha256 ? "as recorded" : "DIFFERS"}`);
  assert.ok(lockLeft, "the killed build's lock stayed");
  assert.equal(r.code, 0, r.stderr);
  assert.ok(w.some((l) => new RegExp(`breaking stale lock .*kernel-${k.key}\\.lock \\(pid ${p.pid} is no longer running\\)`).test(l)), r.stderr);
  assert.deepEqual(left, [], "nothing of the killed build's make is left");
  assert.equal(got, k.meta.bzImageSha256);
});

test("a byte flipped in a downloaded tarball in the cache → a warning, fetched again, verified", { skip, timeout: 5 * 60_000 }, async (t) => {
  const env = { ...upstream, MICROFORGE_CACHE: await tempDir("dmg-blob-") };
  const first = await cli(["fetch", "kernel", "6.1", "--json"], { env });
  assert.equal(first.code, 0, first.stderr);
  const { path } = JSON.parse(first.stdout);
  const hits = server.hits(TARBALL);
  await flipByte(path);
  const r = await cli(["fetch", "kernel", "6.1", "--json"], { env });
  const w = warnings(r.stderr);
  const got = sha256Hex(await readFile(path));
  t.diagnostic(`observed: exit ${r.code}; warning "${short(w)}"; ${server.hits(TARBALL) - hits} new transfer; blob sha256 ${got === sha256Hex(body) ? "verified" : "WRONG"}`);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(w.some((l) => l.includes(path) && /is damaged .*: fetching .*linux-6\.1\.63\.tar\.xz again/.test(l)), r.stderr);
  assert.equal(server.hits(TARBALL) - hits, 1);
  assert.equal(got, sha256Hex(body));
});

test("a byte flipped in a cached gzip member of the initramfs → a warning, compressed again, the same initramfs bytes", { skip, timeout: 5 * 60_000 }, async (t) => {
  const cache = await tempDir("dmg-gz-");
  const env = { MICROFORGE_CACHE: cache };
  const pack = (out: string) => cli(["initramfs", "--busybox", "host", "-o", join(cache, out), "--json"], { env });
  const first = await pack("a.cpio.gz");
  assert.equal(first.code, 0, first.stderr);
  const [member] = await readdir(join(cache, "gzip-members"));
  await flipByte(join(cache, "gzip-members", member));
  const r = await pack("b.cpio.gz");
  const w = warnings(r.stderr);
  const [a, b] = [JSON.parse(first.stdout).sha256, r.code === 0 ? JSON.parse(r.stdout).sha256 : "none"];
  const after = await readdir(join(cache, "gzip-members"));
  const repaired = after.length === 1 && sha256Hex(await readFile(join(cache, "gzip-members", after[0]))) === after[0].split(".")[1];
  t.diagnostic(`observed: exit ${r.code}; warning "${short(w)}"; initramfs sha256 ${a === b ? "same as before" : "DIFFERS"}; cached member ${repaired ? "rewritten and verified" : "not repaired"}`);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(w.some((l) => l.includes(member) && /damaged .*compressing it again/.test(l)), r.stderr);
  assert.equal(b, a);
  assert.ok(repaired);
});

test("a download lock and temp file left by a killed process (SIGKILL mid-transfer) → lock broken by pid with a warning, the next fetch completes, `cache clean` removes the temp file", { skip, timeout: 5 * 60_000 }, async (t) => {
  const cache = await tempDir("dmg-lock-");
  const env = { ...upstream, MICROFORGE_CACHE: cache };
  const blobs = join(cache, "blobs", "sha256");
  server.route(TARBALL, { body, chunkDelayMs: 200 });
  try {
    const p = start(["fetch", "kernel", "6.1", "--json"], env);
    await until("part of the tarball on disk", async () => {
      for (const f of await readdir(blobs).catch(() => [])) if (f.startsWith("incoming.tmp-") && ((await stat(join(blobs, f)).catch(() => undefined))?.size ?? 0) > 200_000) return f;
    }, 60_000);
    process.kill(p.pid, "SIGKILL");
    await p.exited;
  } finally {
    server.route(TARBALL, { body });
  }
  const locks = await readdir(join(cache, "locks"));
  const temps = (await readdir(blobs)).filter((f) => f.includes(".tmp-"));
  const r = await cli(["fetch", "kernel", "6.1", "--json"], { env });
  const w = warnings(r.stderr);
  const clean = await cli(["cache", "clean", "--older-than", "30d"], { env });
  const afterClean = await readdir(blobs);
  t.diagnostic(`observed: SIGKILL left ${locks.length} lock and ${temps.length} temp file; next fetch exit ${r.code}, warning "${short(w)}"; cache clean: ${clean.stdout.trim().split("\n").join(" / ")}; blobs/ then holds ${afterClean.length} file`);
  assert.equal(locks.length, 1);
  assert.equal(temps.length, 1);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).sha256, sha256Hex(body));
  assert.ok(w.some((l) => /breaking stale lock .*\.lock \(pid \d+ is no longer running\)/.test(l)), r.stderr);
  assert.equal(clean.code, 0, clean.stderr);
  assert.deepEqual(afterClean, [sha256Hex(body)], "only the verified blob stays");
});

test("a lock of a live pid on another host, not refreshed for 2 hours → broken by age with a warning, the fetch completes", { skip, timeout: 5 * 60_000 }, async (t) => {
  const cache = await tempDir("dmg-age-");
  const env = { ...upstream, MICROFORGE_CACHE: cache };
  const url = `${server.url}${TARBALL}`;
  const path = mutexPath(cache, `url-${sha256Hex(url)}`);
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, JSON.stringify({ pid: 1, hostname: "builder-7", createdAt: new Date(Date.now() - 7200_000).toISOString(), token: "theirs" }));
  const then = new Date(Date.now() - 7200_000);
  await utimes(path, then, then);
  const started = Date.now();
  const r = await cli(["fetch", "kernel", "6.1", "--json"], { env });
  const w = warnings(r.stderr);
  t.diagnostic(`observed: exit ${r.code} in ${secs(Date.now() - started)}; warning "${short(w)}"`);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(w.some((l) => /breaking stale lock .*\(not refreshed for 72\d\d s\)/.test(l)), r.stderr);
  assert.equal(JSON.parse(r.stdout).sha256, sha256Hex(body));
});
