/**
 * Resource faults, through the real CLI: the cache on a tiny full
 * filesystem (a 512 kB tmpfs) and on a read-only one (a read-only bind
 * mount: root ignores permissions, not mount flags). Writes must fail with
 * a clear error naming the cache directory, and for a full disk the space
 * needed and free; nothing half-written may stay; reading what is already
 * cached still works on a read-only cache.
 *
 * Needs root for mount(8), as CI has; the mounts live under the test cache
 * and are unmounted afterwards.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { runProcess } from "../../lib/util/process.ts";
import { cli, onDeno, tempDir } from "../helpers.ts";
import { type FixtureServer, startFixtureServer } from "../fixtures/http-server.ts";
import { serveUpstream } from "../fixtures/upstream.ts";

const root = process.getuid?.() === 0;
const skip = onDeno ? "Node only" : !root ? "needs root to mount a tmpfs" : false;

let server: FixtureServer;
let upstream: Record<string, string>;
/** A 512 kB tmpfs. */
let full: string;
/** A read-only bind mount of a cache holding a fetched busybox. */
let readonly: string;
const mounted: string[] = [];

async function mount(args: string[], dir: string): Promise<void> {
  await runProcess(["mount", ...args, dir]);
  mounted.push(dir);
}

/** Every file (not directory) under `dir` with its size. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isDirectory()) continue;
    const p = join(e.parentPath, e.name);
    out.push(`${p.slice(dir.length + 1)} ${(await stat(p)).size}`);
  }
  return out.sort();
}

/** The message line and the hint line of a failed command. */
function message(stderr: string): { first: string; hint: string } {
  const lines = stderr.split("\n");
  const i = lines.findIndex((l) => l.startsWith("microforge: "));
  return { first: lines[i] ?? "", hint: (lines[i + 1] ?? "").replace(/^ {2}→ /, "") };
}

before(async () => {
  if (skip) return;
  server = await startFixtureServer();
  upstream = await serveUpstream(server);
  const base = await tempDir("res-");
  full = join(base, "full");
  readonly = join(base, "readonly");
  await mkdir(full);
  await mount(["-t", "tmpfs", "-o", "size=512k", "tmpfs"], full);
  const r = await cli(["fetch", "busybox", "--busybox-source", "busybox.net", "--allow-unverified", "--json"], { env: { ...upstream, MICROFORGE_CACHE: readonly } });
  assert.equal(r.code, 0, r.stderr);
  await mount(["--bind", readonly], readonly);
  await runProcess(["mount", "-o", "remount,bind,ro", readonly]);
});

after(async () => {
  for (const dir of mounted.reverse()) await runProcess(["umount", "-l", dir], { nothrow: true });
  await server?.close();
});

test("the cache on a tiny 512 kB filesystem, a 2 MB download → an error naming the cache, the size and the space free; no file left", { skip, timeout: 5 * 60_000 }, async (t) => {
  const r = await cli(["fetch", "busybox", "--busybox-source", "busybox.net", "--allow-unverified", "--json"], { env: { ...upstream, MICROFORGE_CACHE: full } });
  const { first, hint } = message(r.stderr);
  const left = await filesUnder(full);
  t.diagnostic(`observed: exit ${r.code}: "${first.replace("microforge: ", "").replace(full, "<tmpfs>")}", hint ${/MICROFORGE_CACHE/.test(hint) ? "names MICROFORGE_CACHE" : "does not name MICROFORGE_CACHE"}; files left: ${left.length ? left.join(", ") : "none"}`);
  assert.equal(r.code, 1, r.stderr);
  assert.match(first, new RegExp(`^microforge: Cannot write to the cache ${full}: the disk is full \\(busybox.* needs about 2\\.0 MB, 5\\d\\d\\.\\d kB free\\)$`));
  assert.match(hint, /MICROFORGE_CACHE/);
  assert.match(hint, /microforge cache clean/);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  assert.deepEqual(left, []);
});

test("the cache on a tiny 512 kB filesystem, packing a 1 MB initramfs → an error naming the cache and the space needed; no partial file", { skip, timeout: 5 * 60_000 }, async (t) => {
  const r = await cli(["initramfs", "--busybox", "host", "--json"], { env: { MICROFORGE_CACHE: full } });
  const { first, hint } = message(r.stderr);
  const left = await filesUnder(full);
  const needs = /needs about ([\d.]+) MB, ([\d.]+) (MB|kB) free/.exec(first);
  t.diagnostic(`observed: exit ${r.code}: "${first.replace("microforge: ", "").replace(full, "<tmpfs>")}", hint ${/MICROFORGE_CACHE/.test(hint) ? "names MICROFORGE_CACHE" : "does not name MICROFORGE_CACHE"}; files left: ${left.length ? left.join(", ") : "none"}`);
  assert.equal(r.code, 1, r.stderr);
  assert.match(first, new RegExp(`^microforge: Cannot write to the cache ${full}: the disk is full \\(the initramfs needs about [\\d.]+ MB, [\\d.]+ (MB|kB) free\\)$`));
  assert.ok(needs && Number(needs[1]) > 0.9, "the size needed is about the image's");
  assert.match(hint, /MICROFORGE_CACHE/);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  // What busybox answered before the pack failed may stay in memo/, as whole JSON files; nothing else may.
  const memos = left.filter((l) => /^memo\/[0-9a-f]{32}\.json \d+$/.test(l));
  for (const m of memos) JSON.parse(await readFile(join(full, m.split(" ")[0]), "utf8"));
  assert.deepEqual(left.filter((l) => !memos.includes(l)), []);
});

test("a read-only cache → cached busybox still served; a download and an initramfs pack fail naming the cache; nothing changed", { skip, timeout: 5 * 60_000 }, async (t) => {
  const env = { ...upstream, MICROFORGE_CACHE: readonly };
  const before = await filesUnder(readonly);
  const hit = await cli(["fetch", "busybox", "--busybox-source", "busybox.net", "--allow-unverified", "--json"], { env });
  const fetch = await cli(["fetch", "kernel", "6.1"], { env });
  const pack = await cli(["initramfs", "--busybox", "host"], { env });
  const show = (r: { code: number | null; stderr: string }) => `exit ${r.code}${r.code ? `, "${message(r.stderr).first.replace("microforge: ", "").replace(readonly, "<ro>").replace(/http:\/\/127\.0\.0\.1:\d+/, "…")}"` : ""}`;
  t.diagnostic(`observed: busybox (cached): ${show(hit)}; fetch kernel: ${show(fetch)}; initramfs: ${show(pack)}; cache ${JSON.stringify(await filesUnder(readonly)) === JSON.stringify(before) ? "unchanged" : "CHANGED"}`);
  assert.equal(hit.code, 0, hit.stderr);
  for (const r of [fetch, pack]) {
    const { first, hint } = message(r.stderr);
    assert.equal(r.code, 1, r.stderr);
    assert.match(first, new RegExp(`^microforge: Cannot write to the cache ${readonly}: it is on a read-only filesystem \\(while writing .+\\)$`));
    assert.match(hint, new RegExp(`MICROFORGE_CACHE .*${readonly}`));
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  }
  assert.deepEqual(await filesUnder(readonly), before);
});
