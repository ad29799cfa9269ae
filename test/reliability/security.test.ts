/**
 * Reliability, security part: crafted tarballs that try to write or point
 * outside the tree, downloads without a verifiable checksum, plain-http
 * URLs, string-command execution in our code, and random strings pushed
 * through `emit` and real shells into a fake QEMU's argv.
 *
 *   node --import tsx --test --test-reporter=./test/reliability/table-reporter.mjs test/reliability/security.test.ts
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, lstat, mkdir, open, readdir, readFile, readlink, stat, symlink, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { cli, debianKernelSource, onDeno, repoRoot, tempDir, testCache } from "../helpers.ts";
import { startFixtureServer, type FixtureServer } from "../fixtures/http-server.ts";
import { serveUpstream } from "../fixtures/upstream.ts";
import { releasesJson, type FixtureRelease } from "../fixtures/kernel-org.ts";
import { BUSYBOX_INDEX_URL } from "../../lib/sources/busybox-index.ts";
import { busyboxIndexUrl } from "../../lib/fetch/busybox-net.ts";
import { debianFile } from "../../lib/sources/debian.ts";
import { ChecksumError, MicroforgeError, UsageError, VmSpecError } from "../../lib/util/errors.ts";
import type { Runner } from "../../lib/util/process.ts";
import { checkUrl } from "../../lib/fetch/http.ts";
import { KERNEL_RELEASES_URL } from "../../lib/sources/kernel-releases.ts";
import { releasesUrl } from "../../lib/fetch/kernel-tarball.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import { formatCommand, formatScript } from "../../lib/util/shell-command.ts";
import { ShellQuoteError } from "../../lib/util/errors.ts";
import { sourceTree } from "../../lib/kernel/source-tree.ts";
import { decompressor, TarScanner } from "../../lib/kernel/tar-scan.ts";
import { prepareVm } from "../../lib/vm/prepare.ts";

/** What prepareVm takes: a kernel and an initramfs, given. */
type VmOptions = Parameters<typeof prepareVm>[0];

const skip = onDeno ? "Node only" : false;
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");
const exists = (path: string) => lstat(path).then(() => true, () => false);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// ---------------------------------------------------------------------------
// A tiny tar writer, so each archive says exactly what a test needs (ustar, pax, GNU long names, bad checksums).

interface Member {
  name: string;
  type?: "0" | "1" | "2" | "3" | "5" | "x" | "L";
  data?: Uint8Array | string;
  link?: string;
  /** Added to the header checksum: a corrupt header. */
  checksumDelta?: number;
}

function field(block: Uint8Array, at: number, length: number, value: string | Uint8Array): void {
  const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
  assert.ok(bytes.length <= length, `tar field too long: ${value}`);
  block.set(bytes, at);
}

const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, "0")}\0`;

function tarHeader(m: Member, size: number): Uint8Array {
  const h = new Uint8Array(512);
  field(h, 0, 100, m.name);
  field(h, 100, 8, octal(m.type === "5" ? 0o755 : 0o644, 8));
  field(h, 108, 8, octal(0, 8));
  field(h, 116, 8, octal(0, 8));
  field(h, 124, 12, octal(size, 12));
  field(h, 136, 12, octal(0, 12));
  field(h, 156, 1, m.type ?? "0");
  field(h, 157, 100, m.link ?? "");
  field(h, 257, 6, "ustar\0");
  field(h, 263, 2, "00");
  if (m.type === "3") {
    field(h, 329, 8, octal(1, 8));
    field(h, 337, 8, octal(3, 8));
  }
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0) + (m.checksumDelta ?? 0);
  field(h, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return h;
}

/** A pax record "LEN key=value\n", LEN counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + new TextEncoder().encode(body).length !== len) len = String(len).length + new TextEncoder().encode(body).length;
  return `${len}${body}`;
}

function tarBytes(members: Member[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    const data = typeof m.data === "string" ? new TextEncoder().encode(m.data) : m.data ?? new Uint8Array();
    parts.push(tarHeader(m, data.length), data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  return Buffer.concat(parts);
}

const TOP = "linux-9.9";
/** The members every crafted tarball starts with, so that tar alone would extract a "kernel tree". */
const kernelish = (): Member[] => [
  { name: `${TOP}/`, type: "5" },
  { name: `${TOP}/Makefile`, data: "VERSION = 9\n" },
  { name: `${TOP}/sub/`, type: "5" },
  { name: `${TOP}/sub/file.c`, data: "int x;\n" },
];

async function writeTarball(dir: string, members: Member[]): Promise<{ path: string; sha256: string }> {
  const bytes = gzipSync(tarBytes(members));
  const path = join(dir, `${TOP}.tar.gz`);
  await writeFile(path, bytes);
  return { path, sha256: sha256(bytes) };
}

/** Extract a crafted tarball into a fresh cache the way `kernel build` does; returns the error, if any. */
async function extractCrafted(members: Member[]): Promise<{ err?: unknown; cache: string; dir: string; tarball: { path: string; sha256: string } }> {
  const dir = await tempDir("sec-tar-");
  const cache = join(dir, "cache");
  const tarball = await writeTarball(dir, members);
  try {
    await sourceTree({ ...tarball, version: "9.9" }, { env: { MICROFORGE_CACHE: cache }, log: memoryLogger() });
    return { cache, dir, tarball };
  } catch (err) {
    return { err, cache, dir, tarball };
  }
}

/** Entries left under `<cache>/src` (trees and temp dirs). */
async function leftInSrc(cache: string): Promise<string[]> {
  return await readdir(join(cache, "src")).catch(() => []);
}

/** The refusal every crafted archive must end in: UnsafeArchiveError/ArchiveFormatError naming the member, nothing kept. */
async function assertRefused(r: Awaited<ReturnType<typeof extractCrafted>>, message: RegExp): Promise<string> {
  assert.ok(r.err instanceof MicroforgeError, `expected a refusal, got ${r.err === undefined ? "a successful extraction" : String(r.err)}`);
  assert.match(r.err.message, message);
  assert.match(r.err.hint, /nothing was extracted/);
  assert.deepEqual(await leftInSrc(r.cache), [], "a tree or temp dir was left in the cache");
  return r.err.summary.replace(/^Refused to extract \S+: /, "");
}

const passwdBefore = { sha: "", nlink: 0 };

// ---------------------------------------------------------------------------
// Tarballs

before(async () => {
  if (skip) return;
  passwdBefore.sha = sha256(await readFile("/etc/passwd"));
  passwdBefore.nlink = (await stat("/etc/passwd")).nlink;
});

/** /etc/passwd has the same bytes and link count as before the suite. */
async function passwdUntouched(): Promise<void> {
  assert.equal(sha256(await readFile("/etc/passwd")), passwdBefore.sha, "/etc/passwd changed");
  assert.equal((await stat("/etc/passwd")).nlink, passwdBefore.nlink, "/etc/passwd gained a hard link");
}

test("tarball member with an absolute path → refused naming the member, nothing written, no tree cached", { skip, timeout: 60_000 }, async (t) => {
  const outside = await tempDir("sec-outside-");
  const target = join(outside, "abs-pwned");
  const r = await extractCrafted([...kernelish(), { name: target, data: "pwned" }]);
  const said = await assertRefused(r, new RegExp(`member "${target}" has an absolute path`));
  assert.equal(await exists(target), false);
  assert.equal(await exists(join(r.cache, "src", target)), false);
  t.diagnostic(`observed: ${said}; ${target} absent; cache/src empty`);
});

test("tarball member `../escape` → refused naming the member, nothing written outside", { skip, timeout: 60_000 }, async (t) => {
  const r = await extractCrafted([...kernelish(), { name: `${TOP}/../../escape`, data: "pwned" }, { name: "../escape", data: "pwned" }]);
  const said = await assertRefused(r, /member "linux-9\.9\/\.\.\/\.\.\/escape" has a "\.\." component/);
  for (const p of [join(r.cache, "escape"), join(r.cache, "src", "escape"), join(r.dir, "escape")]) assert.equal(await exists(p), false, `${p} was written`);
  t.diagnostic(`observed: ${said}; no escape file in cache/, cache/src/ or the tarball's dir`);
});

test("tarball member `a/../../escape` → refused naming the member, nothing written outside", { skip, timeout: 60_000 }, async (t) => {
  const r = await extractCrafted([...kernelish(), { name: `${TOP}/a/../../escape`, data: "pwned" }]);
  const said = await assertRefused(r, /member "linux-9\.9\/a\/\.\.\/\.\.\/escape" has a "\.\." component/);
  assert.equal(await exists(join(r.cache, "src", "escape")), false);
  t.diagnostic(`observed: ${said}`);
});

test("tarball symlink `link -> /etc` → refused naming the member", { skip, timeout: 60_000 }, async (t) => {
  const r = await extractCrafted([...kernelish(), { name: `${TOP}/link`, type: "2", link: "/etc" }]);
  const said = await assertRefused(r, /member "linux-9\.9\/link" is a symlink to the absolute path "\/etc"/);
  t.diagnostic(`observed: ${said}`);
});

test("tarball symlink to an outside dir, then `link/passwd` through it → refused at the link, nothing written outside", { skip, timeout: 60_000 }, async (t) => {
  const outside = await tempDir("sec-outside-");
  const r = await extractCrafted([...kernelish(), { name: `${TOP}/link`, type: "2", link: outside }, { name: `${TOP}/link/passwd`, data: "root::0:0::/:/bin/sh\n" }]);
  const said = await assertRefused(r, /member "linux-9\.9\/link" is a symlink to the absolute path/);
  assert.deepEqual(await readdir(outside), []);
  await passwdUntouched();
  t.diagnostic(`observed: ${said}; the outside dir is still empty; /etc/passwd unchanged`);
});

test("tarball file written through an in-tree symlink (`link -> sub`, then `link/passwd`) → refused", { skip, timeout: 60_000 }, async (t) => {
  const r = await extractCrafted([...kernelish(), { name: `${TOP}/link`, type: "2", link: "sub" }, { name: `${TOP}/link/passwd`, data: "x" }]);
  const said = await assertRefused(r, /member "linux-9\.9\/link\/passwd" has a path that goes through the symlink "linux-9\.9\/link"/);
  t.diagnostic(`observed: ${said}`);
});

test("tarball symlink chain that leads out only once both exist (`l2 -> d/l1/..`, then `d/l1 -> ..`) → refused, tree removed", { skip, timeout: 60_000 }, async (t) => {
  const r = await extractCrafted([...kernelish(), { name: `${TOP}/d/`, type: "5" }, { name: `${TOP}/l2`, type: "2", link: "d/l1/.." }, { name: `${TOP}/d/l1`, type: "2", link: ".." }]);
  const said = await assertRefused(r, /member "linux-9\.9\/l2" is a symlink that resolves to .*, outside the tree/);
  t.diagnostic(`observed: ${said} (caught by resolving the extracted symlinks; each name alone stays inside)`);
});

test("tarball hard link to /etc/passwd → refused naming the member, /etc/passwd keeps its link count", { skip, timeout: 60_000 }, async (t) => {
  const r = await extractCrafted([...kernelish(), { name: `${TOP}/hl`, type: "1", link: "/etc/passwd" }]);
  const said = await assertRefused(r, /member "linux-9\.9\/hl" is a hard link to "\/etc\/passwd", outside the tree/);
  await passwdUntouched();
  t.diagnostic(`observed: ${said}; /etc/passwd nlink still ${passwdBefore.nlink}`);
});

test("tarball device node (c 1 3) → refused naming the member", { skip, timeout: 60_000 }, async (t) => {
  const r = await extractCrafted([...kernelish(), { name: `${TOP}/null`, type: "3" }]);
  const said = await assertRefused(r, /member "linux-9\.9\/null" is a character device node/);
  t.diagnostic(`observed: ${said}`);
});

test("`..` hidden in a pax path or a GNU long name (the ustar name looks harmless) → refused", { skip, timeout: 60_000 }, async (t) => {
  const pax = await extractCrafted([...kernelish(), { name: "PaxHeaders/x", type: "x", data: paxRecord("path", `${TOP}/../../escape-pax`) }, { name: `${TOP}/innocent`, data: "pwned" }]);
  const saidPax = await assertRefused(pax, /member "linux-9\.9\/\.\.\/\.\.\/escape-pax" has a "\.\." component/);
  const long = `${TOP}/${"x".repeat(120)}/../../../escape-long`;
  const gnu = await extractCrafted([...kernelish(), { name: "././@LongLink", type: "L", data: `${long}\0` }, { name: `${TOP}/innocent2`, data: "pwned" }]);
  const saidGnu = await assertRefused(gnu, /has a "\.\." component/);
  assert.ok(saidGnu.includes("x".repeat(120)), saidGnu);
  t.diagnostic(`observed: pax: ${saidPax}; GNU 'L': refused, the message names the 150-character long name`);
});

test("corrupt header, or data GNU tar would read as headers → refused before tar could resync onto a hidden member", { skip, timeout: 60_000 }, async (t) => {
  // GNU tar skips a block with a bad checksum and looks for the next valid header; a scan that did the same could miss one.
  const bad = await extractCrafted([...kernelish(), { name: `${TOP}/junk`, data: "x", checksumDelta: 1 }, { name: `${TOP}/after`, data: "y" }]);
  const saidBad = await assertRefused(bad, /not a well-formed tar archive \(header checksum mismatch in the header at byte \d+\)/);
  // A regular file named "d/" is a directory to GNU tar, which then reads its "data" as the next header.
  const hidden = tarBytes([{ name: `${TOP}/../../escape-hidden`, data: "pwned" }]).subarray(0, 1024);
  const slash = await extractCrafted([...kernelish(), { name: `${TOP}/d/`, data: hidden }]);
  const saidSlash = await assertRefused(slash, /member "linux-9\.9\/d\/" is a file named like a directory with 1024 bytes of data/);
  assert.equal(await exists(join(slash.cache, "src", "escape-hidden")), false);
  t.diagnostic(`observed: ${saidBad}; ${saidSlash}`);
});

test("tar stream cut into arbitrary chunks (1 byte, 511 bytes, random) → the scan gives the same members and refusals as in one piece", { skip, timeout: 60_000 }, (t) => {
  const benign: Member[] = [
    ...kernelish(),
    { name: "PaxHeaders/x", type: "x", data: paxRecord("path", `${TOP}/${"p".repeat(150)}`) },
    { name: `${TOP}/short`, data: "z".repeat(1000) },
    { name: "././@LongLink", type: "L", data: `${TOP}/${"l".repeat(130)}\0` },
    { name: `${TOP}/x`, type: "2", link: "sub/file.c" },
  ];
  const archives: Member[][] = [
    benign,
    [...kernelish(), { name: `${TOP}/../x`, data: "x" }],
    [...kernelish(), { name: "PaxHeaders/x", type: "x", data: paxRecord("path", "/abs") }, { name: `${TOP}/ok`, data: "x" }],
    [...kernelish(), { name: `${TOP}/l`, type: "2", link: "sub" }, { name: `${TOP}/l/x`, data: "x" }],
    [...kernelish(), { name: `${TOP}/junk`, data: "x", checksumDelta: 3 }],
  ];
  const next = prng(7);
  const verdict = (bytes: Uint8Array, size: () => number) => {
    const scanner = new TarScanner({ archive: "a.tar", stripComponents: 1 });
    let consumed = 0;
    try {
      for (let at = 0; at < bytes.length;) {
        const n = Math.min(size(), bytes.length - at);
        consumed += scanner.push(bytes.subarray(at, at + n));
        at += n;
      }
      scanner.end();
      return `ok ${scanner.members} members, symlinks ${scanner.symlinks.map((l) => l.path).join(",")}, ${consumed} bytes`;
    } catch (err) {
      return (err as Error).message;
    }
  };
  const verdicts: string[] = [];
  for (const members of archives) {
    const bytes = tarBytes(members);
    const whole = verdict(bytes, () => bytes.length);
    for (const size of [() => 1, () => 511, () => 1 + Math.floor(next() * 2000)]) assert.equal(verdict(bytes, size), whole);
    verdicts.push(whole.startsWith("ok") ? whole : whole.replace(/^Refused to extract a\.tar: /, "").split("\n")[0]);
  }
  // The pax header names "short", the GNU long name names the symlink.
  assert.match(verdicts[0], /^ok 6 members, symlinks l{130}, 7680 bytes$/);
  assert.equal(verdicts.filter((v) => !v.startsWith("ok")).length, 4);
  t.diagnostic(`observed: ${archives.length} archives × 4 chunkings agree: ${verdicts.join("; ").replace("l".repeat(130), "l×130")}`);
});

test("benign tarball given as a local path, with in-tree relative symlinks and a hard link → extracts, links intact; lock records it as the user's unverified file", { skip, timeout: 120_000 }, async (t) => {
  const dir = await tempDir("sec-benign-");
  const cache = join(dir, "cache");
  const tarball = await writeTarball(dir, [
    ...kernelish(),
    { name: `${TOP}/link`, type: "2", link: "sub/file.c" },
    { name: `${TOP}/sub/up`, type: "2", link: "../Makefile" },
    { name: `${TOP}/sub/self`, type: "2", link: "." },
    { name: `${TOP}/hard`, type: "1", link: `${TOP}/Makefile` },
  ]);
  const lock = join(dir, "microforge.lock.json");
  const r = await cli(["fetch", "kernel", "--kernel-source", tarball.path, "--extract", "--lock", lock, "--json", "--quiet"], { env: { MICROFORGE_CACHE: cache } });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(await readlink(join(j.tree, "link")), "sub/file.c");
  assert.equal(await readFile(join(j.tree, "link"), "utf8"), "int x;\n");
  assert.equal(await readFile(join(j.tree, "sub", "up"), "utf8"), "VERSION = 9\n");
  assert.equal((await stat(join(j.tree, "hard"))).ino, (await stat(join(j.tree, "Makefile"))).ino);
  assert.match(j.verified, /local file given by the user \(not verified; sha256 recorded\)/);
  const locked = JSON.parse(await readFile(lock, "utf8")).artifacts.kernel;
  assert.equal(locked.sha256, tarball.sha256);
  assert.equal(locked.source, "path");
  t.diagnostic(`observed: exit 0; tree has link -> sub/file.c, sub/up -> ../Makefile, sub/self -> ., hard = Makefile (same inode); verified: "${j.verified}"; lock pins sha256 ${tarball.sha256.slice(0, 12)}…`);
});

test("crafted tarball through the real CLI (`fetch kernel --kernel-source PATH --extract`) → exit 1 naming the member, no tree", { skip, timeout: 120_000 }, async (t) => {
  const dir = await tempDir("sec-cli-tar-");
  const cache = join(dir, "cache");
  const tarball = await writeTarball(dir, [...kernelish(), { name: `${TOP}/link`, type: "2", link: "../../../../../../etc" }]);
  const r = await cli(["fetch", "kernel", "--kernel-source", tarball.path, "--extract", "--quiet"], { env: { MICROFORGE_CACHE: cache } });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Refused to extract .*linux-9\.9\.tar\.gz: member "linux-9\.9\/link" is a symlink to "\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/etc", which points outside the tree\n {2}→ nothing was extracted/);
  assert.deepEqual(await leftInSrc(cache), []);
  t.diagnostic(`observed: exit ${r.code}; "${r.stderr.trim().split("\n")[0].replace(/^microforge: /, "").replace(dir, "…")}"; cache/src empty`);
});

test("Debian's real linux-source-6.1.tar.xz → passes the member scan (no false refusal)", { skip, timeout: 300_000 }, async (t) => {
  const { file } = await debianKernelSource("6.1");
  const head = new Uint8Array(8);
  const fh = await open(file);
  await fh.read(head, 0, 8, 0);
  await fh.close();
  const unpack = decompressor(head);
  assert.deepEqual(unpack, ["xz", "-dc"]);
  const started = performance.now();
  const child = spawn(unpack[0], [...unpack.slice(1), "--", file], { stdio: ["ignore", "pipe", "inherit"] });
  const scanner = new TarScanner({ archive: file, stripComponents: 1 });
  let bytes = 0;
  for await (const chunk of child.stdout) bytes += scanner.push(chunk);
  scanner.end();
  assert.ok(scanner.done, "no end-of-archive marker");
  // As many members as tar itself lists in this tarball (Debian's count changes with its releases).
  // Counted as it streams: the listing is megabytes, more than a captured output keeps.
  const tar = spawn("tar", ["-tJf", file], { stdio: ["ignore", "pipe", "inherit"] });
  let listed = 0;
  for await (const chunk of tar.stdout) for (const byte of chunk as Uint8Array) if (byte === 10) listed++;
  assert.equal(scanner.members, listed);
  t.diagnostic(`observed: ${scanner.members} members (${scanner.symlinks.length} symlinks), ${(bytes / 1e9).toFixed(2)} GB scanned in ${seconds(performance.now() - started)}, nothing refused`);
});

// ---------------------------------------------------------------------------
// Checksums and https

let server: FixtureServer;
let upstream: Record<string, string>;

before(async () => {
  if (skip) return;
  server = await startFixtureServer();
  upstream = await serveUpstream(server);
});
after(async () => await server?.close());

test("busybox.net binary (no published checksum) without opt-in → refused, nothing stored; MICROFORGE_ALLOW_UNVERIFIED=1 fetches and pins it", { skip, timeout: 120_000 }, async (t) => {
  const cache = await tempDir("sec-bb-");
  const lock = join(cache, "microforge.lock.json");
  const env = { ...upstream, MICROFORGE_CACHE: cache, MICROFORGE_ALLOW_UNVERIFIED: "" };
  const args = ["fetch", "busybox", "latest", "--busybox-source", "busybox.net", "--json", "--quiet"];
  const binary = "/downloads/binaries/1.35.0-x86_64-linux-musl/busybox";
  const refused = await cli(args, { env });
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /Busybox binaries from http:\/\/127\.0\.0\.1:\d+\/downloads\/binaries\/ have no published checksum, so they cannot be verified\n {2}→ pass --allow-unverified \(or set MICROFORGE_ALLOW_UNVERIFIED=1\)/);
  assert.deepEqual(await readdir(join(cache, "blobs", "sha256")).catch(() => []), []);
  assert.equal(server.hits(binary) + server.hits("/downloads/binaries/"), 0, "busybox.net was asked before the refusal");
  const allowed = await cli([...args, "--lock", lock], { env: { ...env, MICROFORGE_ALLOW_UNVERIFIED: "1" } });
  assert.equal(allowed.code, 0, allowed.stderr);
  const pinned = JSON.parse(await readFile(lock, "utf8")).artifacts.busybox.sha256;
  assert.equal(pinned, JSON.parse(allowed.stdout).sha256);
  // Pinned by the lock file, a fresh cache needs no opt-in: the bytes are checked against the pin.
  const fresh = await tempDir("sec-bb2-");
  const locked = await cli([...args, "--lock", lock], { env: { ...env, MICROFORGE_CACHE: fresh } });
  assert.equal(locked.code, 0, locked.stderr);
  t.diagnostic(`observed: exit 1 "Busybox binaries from … have no published checksum", 0 requests to the fake busybox.net, no blob; with MICROFORGE_ALLOW_UNVERIFIED=1 exit 0, sha256 ${pinned.slice(0, 12)}… pinned; with the lock and a fresh cache exit 0 without opt-in`);
});

test("mainline snapshot (no checksum) → refused without opt-in; MICROFORGE_ALLOW_UNVERIFIED=1 is an opt-in too", { skip, timeout: 120_000 }, async (t) => {
  const env = { ...upstream, MICROFORGE_CACHE: await tempDir("sec-ml-"), MICROFORGE_ALLOW_UNVERIFIED: "" };
  const refused = await cli(["fetch", "kernel", "mainline", "--quiet"], { env });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /linux-6\.7-rc2\.tar\.gz is a mainline snapshot from git\.kernel\.org, which publishes no checksum for it\n {2}→ pass --allow-unverified \(or set MICROFORGE_ALLOW_UNVERIFIED=1\)/);
  const ok = await cli(["fetch", "kernel", "mainline", "--json", "--quiet"], { env: { ...env, MICROFORGE_ALLOW_UNVERIFIED: "1" } });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(JSON.parse(ok.stdout).verified, /unverified/);
  t.diagnostic(`observed: exit 1 with the opt-in named; with the env var exit 0, verified: "${JSON.parse(ok.stdout).verified}"`);
});

test("kernel tarball that does not match sha256sums.asc → ChecksumError, no blob kept, nothing extracted", { skip, timeout: 120_000 }, async (t) => {
  const bad = await startFixtureServer();
  try {
    const env = { ...(await serveUpstream(bad)), MICROFORGE_CACHE: await tempDir("sec-sum-") };
    bad.route("/pub/linux/kernel/v6.x/linux-6.1.63.tar.xz", { body: "not the tarball" });
    const r = await cli(["fetch", "kernel", "6.1", "--extract", "--quiet"], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Checksum mismatch for .*linux-6\.1\.63\.tar\.xz: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}/);
    assert.deepEqual(await readdir(join(env.MICROFORGE_CACHE, "blobs", "sha256")).catch(() => []), []);
    assert.deepEqual(await leftInSrc(env.MICROFORGE_CACHE), []);
    t.diagnostic(`observed: exit 1 "Checksum mismatch …"; blobs/ and src/ empty`);
  } finally {
    await bad.close();
  }
});

test("Debian .deb whose sha256 differs from apt's index → refused before dpkg-deb unpacks it", { skip, timeout: 60_000 }, async (t) => {
  const cache = await tempDir("sec-deb-");
  const good = new TextEncoder().encode("a genuine package");
  const calls: string[] = [];
  const fakeApt = (payload: Uint8Array): Runner => async (argv, options = {}) => {
    calls.push(argv.slice(0, 2).join(" "));
    if (argv[0] === "apt-get") await writeFile(join(options.cwd!, "busybox-static_1.35.0_amd64.deb"), payload);
    if (argv[0] === "dpkg-deb") {
      await mkdir(join(argv[3], "bin"), { recursive: true });
      await writeFile(join(argv[3], "bin", "busybox"), "unpacked");
    }
    return { code: 0, signal: null, stdout: "", stderr: "" };
  };
  const pkg = { name: "busybox-static", version: "1:1.35.0-4", upstream: "1.35.0", sha256: sha256(good), size: good.length };
  const env = { ...process.env, MICROFORGE_CACHE: cache };
  await assert.rejects(debianFile(pkg, "bin/busybox", { run: fakeApt(new TextEncoder().encode("tampered")), env, log: memoryLogger() }), (err: unknown) => {
    assert.ok(err instanceof ChecksumError, String(err));
    assert.match(err.message, new RegExp(`Checksum mismatch for debian:busybox-static=1:1\\.35\\.0-4: expected sha256 ${pkg.sha256}`));
    return true;
  });
  assert.deepEqual(calls, ["apt-get download"], "dpkg-deb ran on an unverified .deb");
  assert.deepEqual(await readdir(join(cache, "debian")).catch(() => []), []);
  assert.deepEqual((await readdir(join(cache, "tmp")).catch(() => [])).filter((d) => d.startsWith("deb-")), []);
  // The same call with the genuine bytes goes through: the check is not a blanket refusal.
  calls.length = 0;
  const path = await debianFile(pkg, "bin/busybox", { run: fakeApt(good), env, log: memoryLogger() });
  assert.equal(await readFile(path, "utf8"), "unpacked");
  assert.deepEqual(calls, ["apt-get download", "dpkg-deb -x"]);
  t.diagnostic("observed: ChecksumError naming the package and both sha256s; dpkg-deb never ran; no debian/ dir or temp dir left; genuine bytes unpack");
});

test("default source URLs → all https; no plain http:// URL in lib/ but loopback", { skip, timeout: 30_000 }, async (t) => {
  const defaults = { KERNEL_RELEASES_URL, BUSYBOX_INDEX_URL, "releasesUrl({})": releasesUrl({}), "busyboxIndexUrl({})": busyboxIndexUrl({}) };
  for (const [name, url] of Object.entries(defaults)) assert.match(url, /^https:\/\//, `${name} is ${url}`);
  const found: string[] = [];
  for (const file of await sourceFiles(["lib"])) {
    const code = stripComments(await readFile(file, "utf8"));
    // A bare "http://" is a scheme test; a URL has a host after it.
    for (const m of code.matchAll(/http:\/\/[^\s"'`)]+/g)) {
      if (/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(m[0]) || m[0].startsWith("http://www.w3.org/")) continue;
      found.push(`${relative(repoRoot, file)}: ${m[0]}`);
    }
  }
  assert.deepEqual(found, []);
  t.diagnostic(`observed: ${[...new Set(Object.values(defaults))].join(", ")}; 0 other http:// literals in lib/ code`);
});

test("plain http to a host nobody configured (releases.json pointing elsewhere, or an https mirror) → refused before any request", { skip, timeout: 120_000 }, async (t) => {
  assert.throws(() => checkUrl("http://mirror.example/a.tar.xz"), /plain http:\/\/ is refused/);
  assert.throws(() => checkUrl("http://evil.example/a", "http://mirror.example/releases.json"), /only the mirror you configured \(mirror\.example\) may use http/);
  assert.throws(() => checkUrl("http://mirror.example:81/a", "http://mirror.example/releases.json"), /plain http:\/\/ is refused/);
  assert.equal(checkUrl("http://mirror.example/pub/a.tar.xz", "http://mirror.example/releases.json").host, "mirror.example");
  assert.equal(checkUrl("http://127.0.0.1:8/a").hostname, "127.0.0.1");
  assert.throws(() => checkUrl("ftp://mirror.example/a"), /the ftp: scheme is not supported/);
  // A loopback mirror configured over http whose release list sends the tarballs to another host over http.
  const srv = await startFixtureServer();
  try {
    const releases: FixtureRelease[] = [{ version: "6.1.63", moniker: "longterm" }];
    srv.route("/releases.json", { body: releasesJson("http://kernel-mirror.example", releases, "6.1.63") });
    const env = { MICROFORGE_KERNEL_RELEASES_URL: `${srv.url}/releases.json`, MICROFORGE_CACHE: await tempDir("sec-http-") };
    const r = await cli(["fetch", "kernel", "6.1", "--kernel-source", "kernel.org", "--quiet"], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Download of http:\/\/kernel-mirror\.example\/pub\/linux\/kernel\/v6\.x\/sha256sums\.asc failed: plain http:\/\/ is refused .*\n {2}→ only the mirror you configured \(127\.0\.0\.1:\d+\) may use http/);
    t.diagnostic(`observed: checkUrl refuses http to unconfigured hosts (and other ports of the mirror), allows the mirror's host and loopback; CLI exit 1 "plain http:// is refused" for http://kernel-mirror.example/… (no DNS lookup: refused, not "cannot resolve")`);
  } finally {
    await srv.close();
  }
});

// ---------------------------------------------------------------------------
// No shell: a scan of our code for string-command execution

/** Every .ts/.js/.mjs file under `dirs` (relative to the repo). */
async function sourceFiles(dirs: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\.(ts|js|mjs)$/.test(e.name)) out.push(p);
    }
  };
  for (const d of dirs) await walk(join(repoRoot, d));
  return out.sort();
}

/**
 * Blank out comments (and, with `strings: false`, the contents of string and
 * template literals), keeping every offset and newline, so code patterns are
 * found in code only. Template `${...}` expressions stay code.
 */
function stripComments(src: string, strings = true): string {
  const out = src.split("");
  const blank = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (out[i] !== "\n") out[i] = " ";
  };
  const stack: string[] = []; // "`" for a template, "{" for a brace inside ${...}
  let i = 0;
  let lastSignificant = "";
  while (i < src.length) {
    const c = src[i];
    const inTemplate = stack.at(-1) === "`";
    if (inTemplate) {
      if (c === "\\") {
        if (!strings) blank(i, i + 2);
        i += 2;
      } else if (c === "`") {
        stack.pop();
        i++;
        lastSignificant = "`";
      } else if (c === "$" && src[i + 1] === "{") {
        stack.push("{");
        i += 2;
        lastSignificant = "{";
      } else {
        if (!strings) blank(i, i + 1);
        i++;
      }
      continue;
    }
    if (c === "/" && src[i + 1] === "/") {
      const end = src.indexOf("\n", i);
      blank(i, end < 0 ? src.length : end);
      i = end < 0 ? src.length : end;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      blank(i, end < 0 ? src.length : end + 2);
      i = end < 0 ? src.length : end + 2;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      if (!strings) blank(i + 1, j);
      i = j + 1;
      lastSignificant = c;
    } else if (c === "`") {
      stack.push("`");
      i++;
    } else if (c === "/" && (lastSignificant === "" || "(,=:[!&|?{};+-*%<>~^".includes(lastSignificant) || /\b(return|typeof|case|of|in)$/.test(src.slice(Math.max(0, i - 8), i).trimEnd()))) {
      // A regular expression literal.
      let j = i + 1;
      let cls = false;
      while (j < src.length && src[j] !== "\n" && (cls || src[j] !== "/")) {
        if (src[j] === "\\") j++;
        else if (src[j] === "[") cls = true;
        else if (src[j] === "]") cls = false;
        j++;
      }
      if (!strings) blank(i + 1, j);
      i = j + 1;
      lastSignificant = "/";
    } else {
      if (c === "{" && stack.length) stack.push("{");
      else if (c === "}" && stack.at(-1) === "{") stack.pop();
      if (!/\s/.test(c)) lastSignificant = c;
      i++;
    }
  }
  return out.join("");
}

/** The text of a call's arguments starting at the "(" at `open`, and each top-level argument. */
function callArgs(code: string, withStrings: string, open: number): { text: string; args: string[] } {
  let depth = 0;
  let start = open + 1;
  const args: string[] = [];
  for (let i = open; i < code.length; i++) {
    const c = code[i];
    if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) {
      depth--;
      if (depth === 0) {
        args.push(withStrings.slice(start, i).trim());
        return { text: withStrings.slice(open + 1, i), args: args.filter((a, n) => a || n > 0) };
      }
    } else if (c === "," && depth === 1) {
      args.push(withStrings.slice(start, i).trim());
      start = i + 1;
    }
  }
  return { text: withStrings.slice(open + 1), args };
}

interface Finding {
  file: string;
  line: number;
  what: string;
}

/** String-command execution in one file's source. */
function shellFindings(file: string, src: string): Finding[] {
  const withStrings = stripComments(src, true);
  const code = stripComments(src, false);
  const findings: Finding[] = [];
  const lineOf = (at: number) => src.slice(0, at).split("\n").length;
  const add = (at: number, what: string) => findings.push({ file, line: lineOf(at), what });

  // child_process: which names (and namespaces) this file has.
  const named = new Map<string, string>();
  const namespaces: string[] = [];
  for (const m of withStrings.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*["'](?:node:)?child_process["']|(?:const|let|var)\s*\{([^}]*)\}\s*=\s*(?:await\s+import|require)\(\s*["'](?:node:)?child_process["']\s*\)/g)) {
    for (const part of (m[1] ?? m[2]).split(",")) {
      const [orig, alias] = part.trim().split(/\s+as\s+|\s*:\s*/);
      if (orig) named.set((alias ?? orig).trim(), orig.trim());
    }
  }
  for (const m of withStrings.matchAll(/import\s+(?:\*\s+as\s+)?(\w+)\s+from\s*["'](?:node:)?child_process["']|(?:const|let|var)\s+(\w+)\s*=\s*require\(\s*["'](?:node:)?child_process["']\s*\)/g)) namespaces.push(m[1] ?? m[2]);
  const calls: { at: number; fn: string }[] = [];
  for (const [local, orig] of named) {
    for (const m of code.matchAll(new RegExp(`(?<![\\w$.])${local.replace("$", "\\$")}\\s*\\(`, "g"))) calls.push({ at: m.index + m[0].length - 1, fn: orig });
  }
  for (const ns of namespaces) {
    for (const m of code.matchAll(new RegExp(`(?<![\\w$.])${ns}\\.(\\w+)\\s*\\(`, "g"))) calls.push({ at: m.index + m[0].length - 1, fn: m[1] });
  }
  for (const { at, fn } of calls) {
    const { text, args } = callArgs(code, withStrings, at);
    if (fn === "exec" || fn === "execSync") add(at, `child_process.${fn} runs its command through a shell`);
    else if (/\bshell\s*:(?!\s*false\b)/.test(text)) add(at, `${fn}(..., { shell }) runs its command through a shell`);
    else if (/^(["'`]).*\s.*\1$/s.test(args[0] ?? "") && !(args[1] ?? "").startsWith("[")) add(at, `${fn} with one command string holding spaces`);
  }
  // zx: $`...` quotes what it interpolates; $("...") / $.sync("...") takes a ready-made string. $({ opts }) returns a tag.
  for (const m of code.matchAll(/(?<![\w$.])\$(\.sync)?\s*\(/g)) {
    const at = m.index + m[0].length - 1;
    const first = callArgs(code, withStrings, at).args[0] ?? "";
    if (!first.startsWith("{")) add(at, `zx $${m[1] ?? ""}(...) called with a string instead of as a template tag`);
  }
  for (const m of code.matchAll(/new\s+Deno\.Command\s*\(/g)) {
    const text = callArgs(code, withStrings, m.index + m[0].length - 1).text;
    if (/["'`](?:\/\w+)*\/?(?:ba|da|z|k)?sh["'`]/.test(text) && /["'`]-c["'`]/.test(text)) add(m.index, "Deno.Command running sh -c");
  }
  // argv arrays that start a shell on a string: ["sh", "-c", cmd].
  for (const m of withStrings.matchAll(/\[\s*(["'`])(?:\/(?:usr\/)?bin\/)?(?:ba|da|z|k)?sh\1\s*,\s*(["'`])-c\2/g)) add(m.index, "an argv that runs `sh -c` on a string");
  if (/\bshell\s*:\s*true\b/.test(code)) add(code.search(/\bshell\s*:\s*true\b/), "`shell: true`");
  return findings;
}

/** Exceptions to the scan, each with its reason. None are needed: the /init template is guest-side text, not host execution. */
const SHELL_EXCEPTIONS: { file: string; what: RegExp; reason: string }[] = [];

test("string-command execution (exec, shell: true, one-string spawn, zx $(string), sh -c) in lib/, bin/, scripts/ → none", { skip, timeout: 60_000 }, async (t) => {
  // The detector first proves it sees each kind, and stays quiet on the look-alikes we do use.
  const planted: Record<string, string> = {
    exec: `import { exec } from "node:child_process";\nexec("ls -l " + dir);`,
    execSync: `const { execSync: run } = require("child_process");\nrun(cmd);`,
    namespace: `import * as cp from "node:child_process";\ncp.exec(cmd);`,
    shellTrue: `import { spawn } from "node:child_process";\nspawn("make", ["-j2"], { stdio: "inherit", shell: true });`,
    shellVar: `import { execFile } from "node:child_process";\nexecFile(cmd, [], { shell: useShell });`,
    oneString: `import { spawn, spawnSync } from "node:child_process";\nspawnSync("tar -xf file.tar");`,
    zxString: `import { $ } from "zx";\nawait $("rm -rf " + dir);`,
    zxSync: `import { $ } from "zx";\n$.sync(\`ls \${dir}\`);`,
    deno: `new Deno.Command("bash", { args: ["-c", line] }).outputSync();`,
    shDashC: `await runProcess(["/bin/sh", "-c", line]);`,
  };
  const clean = [
    `import { spawn } from "node:child_process";\nconst m = /(\\d+)/.exec(line);\nspawn(argv[0], argv.slice(1), { stdio: "inherit", shell: false });`,
    `import { $ } from "zx";\nawait $\`tar -xf \${file}\`;\nawait $({ cwd })\`ls\`;\nconst doc = "run $(date) or \`id\` in sh -c, shell: true";`,
    `// exec("rm -rf /") in a comment\nconst re = /\\$\\(/;\nconst { shell: old, ...rest } = vars;`,
  ];
  const caught = Object.entries(planted).filter(([name, src]) => shellFindings(name, src).length > 0).map(([name]) => name);
  assert.deepEqual(caught, Object.keys(planted), "the detector misses a planted case");
  for (const src of clean) assert.deepEqual(shellFindings("clean", src), [], `false positive on:\n${src}`);

  const files = await sourceFiles(["lib", "bin", "scripts"]);
  let lines = 0;
  const findings: Finding[] = [];
  for (const file of files) {
    const src = await readFile(file, "utf8");
    lines += src.split("\n").length;
    findings.push(...shellFindings(relative(repoRoot, file), src).filter((f) => !SHELL_EXCEPTIONS.some((e) => e.file === f.file && e.what.test(f.what))));
  }
  assert.deepEqual(findings.map((f) => `${f.file}:${f.line}: ${f.what}`), []);
  t.diagnostic(`observed: ${files.length} files (${lines} lines) in lib/, bin/, scripts/: 0 findings, 0 exceptions; the detector caught ${caught.length}/${Object.keys(planted).length} planted cases and 0 false positives on ${clean.length} look-alikes`);
});

// ---------------------------------------------------------------------------
// Random strings through emit and real shells into a fake QEMU

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with SECURITY_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const POOLS: string[][] = [
  [..."abcxyzABC019_-./"],
  [..." \t\n'\"`$();|&<>*?[]{}~#!=,:\\%^@+"],
  ["$(", "`", "${", "$HOME", "'\\''", "\r", "\x1b[31m", "\x01", "\x7f", "--", ",,", "-o", "=y"],
  ["é", "ß", "ü", "中文", "日本", "\u202E", "\u200F", "\u200B", "עברית", "مرحبا", "🚀", "👩‍💻", "e\u0301", "\uFEFF", "\u00A0", "\u2028"],
];

function randomString(next: () => number): string {
  const length = Math.floor(next() * 20);
  let s = "";
  for (let i = 0; i < length; i++) {
    const pool = POOLS[Math.floor(next() * POOLS.length)];
    s += pool[Math.floor(next() * pool.length)];
  }
  return s;
}

/** The nasty cases every run includes; `M` is replaced by the marker directory. */
const FIXED = [
  "two words", "it's", "say \"hi\"", "$(touch /tmp/pwned)", "$(touch M/p1)", "`touch M/p2`", "x;touch M/p3", "x|touch M/p4",
  "x&&touch M/p5", "line\ntouch M/p6", "tab\there", "*", "~", "~root", "-rf", "--help", "a,b", "a,,b", ",", "k=v", "=",
  "\u202Eevil.txt", "🚀 rocket", "日本語", "", " ", "'", "\"", "\\", "$HOME", "${PATH}", "!", "#", "\r", "-", "..", ".",
];

interface Rig {
  fake: string;
  out: string;
  marker: string;
  kernel: string;
  initrd: string;
  env: Record<string, string | undefined>;
  shells: string[][];
}

let rig: Rig;

before(async () => {
  if (skip) return;
  const dir = await tempDir("sec-emit-");
  const marker = join(dir, "marker");
  await mkdir(marker);
  await mkdir(join(dir, "bin"));
  // The fake QEMU: says nothing to `-L help` (so qboot is found in the usual dirs), records its argv NUL-separated.
  const fake = join(dir, "bin", "qemu-system-x86_64");
  await writeFile(fake, `#!/bin/sh\n[ "$1" = -L ] && exit 0\n: > "$FAKE_QEMU_OUT"\nfor a; do printf '%s\\0' "$a" >> "$FAKE_QEMU_OUT"; done\n`);
  await chmod(fake, 0o755);
  // Real images when the test cache has them (links to them); any regular file does for emit.
  const built = (await readdir(join(testCache, "kernels")).catch(() => [])).map((k) => join(testCache, "kernels", k, "vmlinux"));
  const images = (await readdir(join(testCache, "initramfs")).catch(() => [])).map((f) => join(testCache, "initramfs", f));
  const firstFile = async (paths: string[], fallback: string) => {
    for (const p of paths) if (await stat(p).then((s) => s.isFile(), () => false)) return p;
    await writeFile(fallback, "stand-in image");
    return fallback;
  };
  const shells = [["sh", "-c"], ["bash", "-c"], ["busybox", "sh", "-c"]].filter(([cmd]) => spawnSync(cmd, cmd === "busybox" ? ["sh", "-c", "true"] : ["-c", "true"], { stdio: "ignore" }).status === 0);
  rig = {
    fake,
    out: join(dir, "argv.bin"),
    marker,
    kernel: await firstFile(built, join(dir, "vmlinux")),
    initrd: await firstFile(images, join(dir, "initrd")),
    env: { ...process.env, MICROFORGE_QEMU: fake, MICROFORGE_CACHE: testCache },
    shells,
  };
});

/** A directory named `name` (or a safe stand-in when no file system allows it) under a fresh dir. */
async function dirNamed(base: string, name: string): Promise<string> {
  const safe = name.replaceAll("/", "∕");
  const dir = join(base, safe === "" || safe === "." || safe === ".." ? `x${safe}` : safe);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Run `text` with `shell` against the fake QEMU; the argv it received. */
function runEmitted(shell: string[], text: string): string[] {
  // stdin closed: with a pipe there, bash takes ~0.3 s to start under spawnSync.
  const r = spawnSync(shell[0], [...shell.slice(1), text], { env: { PATH: process.env.PATH, FAKE_QEMU_OUT: rig.out }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  assert.equal(r.status, 0, `${shell.join(" ")} exited ${r.status}: ${r.stderr}\n--- text ---\n${text}`);
  const seen = readFileSync(rig.out, "utf8");
  assert.ok(seen.endsWith("\0"), `the fake QEMU recorded ${JSON.stringify(seen)}`);
  return seen.slice(0, -1).split("\0");
}

/** A refusal the property accepts: a clear VmSpecError/UsageError/ShellQuoteError with a hint. */
function assertClearRefusal(err: unknown, s: string): void {
  const ok = err instanceof VmSpecError || err instanceof UsageError || err instanceof ShellQuoteError;
  assert.ok(ok, `${JSON.stringify(s)} failed with ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`);
  assert.ok((err as MicroforgeError).hint, `no hint for ${JSON.stringify(s)}`);
}

let shellRuns = 0;

/** Build the VM in-process, print it three ways and run them: each run must give the fake exactly toArgv(). */
async function throughShells(options: VmOptions, s: string, seed: number): Promise<"passed" | "refused"> {
  let argv: string[];
  let texts: string[];
  try {
    const vm = await prepareVm({ ...options, accel: "tcg", env: rig.env, quiet: true, log: memoryLogger() });
    argv = vm.toArgv();
    texts = [formatCommand(argv, { oneLine: true, comments: ["a comment"] }), formatCommand(argv), formatScript(argv, ["a script"])];
  } catch (err) {
    assertClearRefusal(err, s);
    return "refused";
  }
  assert.equal(argv[0], rig.fake);
  // Every shell runs the one-line form; sh (dash, the POSIX one) runs the multi-line form and the script too.
  const runs = [...rig.shells.map((shell) => [shell, texts[0]] as const), [rig.shells[0], texts[1]] as const, [rig.shells[0], texts[2]] as const];
  for (const [shell, text] of runs) {
    assert.deepEqual(runEmitted(shell, text), argv.slice(1), `seed ${seed}, string ${JSON.stringify(s)}, ${shell[0]}, text:\n${text}`);
    shellRuns++;
  }
  return "passed";
}

test("200+ random and nasty strings as dir names, kernel arguments and 9p share paths through emit → each refused clearly or in QEMU's argv unchanged (sh, bash, busybox sh)", { skip, timeout: 600_000 }, async (t) => {
  const seed = Number(process.env.SECURITY_SEED) || (Date.now() % 2 ** 31);
  const next = prng(seed);
  const pwnedBefore = await stat("/tmp/pwned").then((s) => s.mtimeMs, () => undefined);
  const strings = [...FIXED.map((s) => s.replaceAll("M/", `${rig.marker}/`)), ...Array.from({ length: 200 }, () => randomString(next))];
  const base = await tempDir("sec-prop-");
  const tally = { dir: { passed: 0, refused: 0 }, append: { passed: 0, refused: 0 }, share: { passed: 0, refused: 0 } };
  const started = performance.now();
  for (const [i, s] of strings.entries()) {
    const dir = await dirNamed(join(base, String(i)), s);
    await symlink(rig.kernel, join(dir, "vmlinux"));
    await symlink(rig.initrd, join(dir, "initrd"));
    tally.dir[await throughShells({ kernel: join(dir, "vmlinux"), initrd: join(dir, "initrd") }, s, seed)]++;
    const asArg = await throughShells({ kernel: rig.kernel, initrd: rig.initrd, append: [s] }, s, seed);
    // Whitespace, a double quote or nothing cannot be one kernel argument: those must be refused, never split.
    if (!s || /["\s]/.test(s)) assert.equal(asArg, "refused", `kernel argument ${JSON.stringify(s)} was not refused`);
    tally.append[asArg]++;
    tally.share[await throughShells({ kernel: rig.kernel, initrd: rig.initrd, shares: [{ path: dir }] }, s, seed)]++;
  }
  // Only the DSL can pass a NUL byte (argv cannot): it must be refused, not cut short.
  assert.equal(await throughShells({ kernel: rig.kernel, initrd: rig.initrd, append: ["a\0b"] }, "a\0b", seed), "refused");
  assert.deepEqual(await readdir(rig.marker), [], "an injected command ran");
  assert.equal(await stat("/tmp/pwned").then((s) => s.mtimeMs, () => undefined), pwnedBefore, "/tmp/pwned was touched");
  // Paths never need refusing: any name a file system allows goes through quoting.
  assert.equal(tally.dir.refused + tally.share.refused, 0);
  t.diagnostic(`observed: seed ${seed}; ${strings.length} strings (${FIXED.length} fixed) × 3 roles; dir names ${tally.dir.passed} passed, kernel args ${tally.append.passed} passed / ${tally.append.refused} refused (VmSpecError: space, quote, empty), share paths ${tally.share.passed} passed; ${shellRuns} shell runs (one-line under ${rig.shells.map((s) => s[0]).join(", ")}; multi-line and script under sh) gave the fake QEMU exactly toArgv(); NUL refused (ShellQuoteError); marker dir empty, /tmp/pwned untouched; ${seconds(performance.now() - started)}`);
});

test("nasty strings through the real `microforge emit` CLI (--one-line, --script) → same text as in-process, argv unchanged under sh, or exit 2 naming the argument", { skip, timeout: 300_000 }, async (t) => {
  const cases = ["two words", "it's", "$(touch M/c1)", "`touch M/c2`", "x;touch M/c3", "line\ntouch M/c4", "-rf", "a,b", "\u202Eevil 🚀", "", "~", "k=v"].map((s) => s.replaceAll("M/", `${rig.marker}/`));
  const base = await tempDir("sec-cli-emit-");
  const strip = (text: string) => text.split("\n").filter((l) => !l.startsWith("#")).join("\n");
  const asArg = async (s: string) => await prepareVm({ kernel: rig.kernel, initrd: rig.initrd, append: [s], accel: "tcg", env: rig.env, quiet: true, log: memoryLogger() }).then(() => true, (err) => (assertClearRefusal(err, s), false));
  let passed = 0;
  let refused = 0;
  for (const [i, s] of cases.entries()) {
    // The string names the directory of the kernel, initrd and share, and is the kernel argument when it can be one.
    const dir = await dirNamed(join(base, String(i)), s);
    await symlink(rig.kernel, join(dir, "vmlinux"));
    await symlink(rig.initrd, join(dir, "initrd"));
    const arg = await asArg(s);
    const options: VmOptions = { kernel: join(dir, "vmlinux"), initrd: join(dir, "initrd"), append: arg ? [s] : [], shares: [{ path: dir }] };
    const flags = [`--kernel=${options.kernel}`, `--initrd=${options.initrd}`, ...(arg ? [`--append=${s}`] : []), `--share=${dir}`, "--accel=tcg", "--quiet"];
    const mode = i % 4 === 3 ? "--script" : "--one-line";
    const r = await cli(["emit", mode, ...flags], { env: rig.env });
    assert.equal(r.code, 0, `${JSON.stringify(s)}: ${r.stderr}`);
    const expected = (await prepareVm({ ...options, accel: "tcg", env: rig.env, quiet: true, log: memoryLogger() })).toArgv();
    const inProcess = mode === "--script" ? formatScript(expected) : formatCommand(expected, { oneLine: true });
    assert.equal(strip(r.stdout), strip(inProcess), `emit printed other text than formatCommand(toArgv()) for ${JSON.stringify(s)}`);
    assert.deepEqual(runEmitted(["sh", "-c"], r.stdout), expected.slice(1));
    passed++;
    // Two of the refused kernel arguments go through the CLI too: a usage error naming the flag, not a split argument.
    if (!arg && refused < 2) {
      const no = await cli(["emit", "--one-line", `--kernel=${rig.kernel}`, `--initrd=${rig.initrd}`, `--append=${s}`, "--accel=tcg", "--quiet"], { env: rig.env });
      assert.equal(no.code, 2, `${JSON.stringify(s)}: ${no.stderr}`);
      assert.match(no.stderr, /Kernel argument .* is refused: it is empty or holds a space, double quote or newline \(--append\)/);
      assert.equal(no.stdout, "");
      refused++;
    }
  }
  assert.deepEqual(await readdir(rig.marker), []);
  t.diagnostic(`observed: ${passed} CLI emits with the string in the kernel/initrd/share paths (and in --append when a kernel argument can hold it) printed exactly formatCommand/formatScript(toArgv()), comments aside, and sh gave the fake QEMU that argv; ${refused} CLI runs with an impossible --append exited 2 "Kernel argument … is refused (--append)"; marker dir empty`);
});
