/**
 * Versions and verified downloads end to end: the real CLI against a local
 * HTTP server posing as kernel.org and busybox.net, and Debian's packages
 * as the offline fallback.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { cli, debianKernelSource, onDeno, tempDir } from "../helpers.ts";
import { startFixtureServer, type FixtureServer } from "../fixtures/http-server.ts";
import { serveUpstream } from "../fixtures/upstream.ts";
import { FIXTURE_RELEASES } from "../fixtures/kernel-org.ts";

const skip = onDeno ? "spawns the CLI; runs under Node" : false;
let server: FixtureServer;
let upstream: Record<string, string>;

async function freshCache(): Promise<Record<string, string>> {
  return { ...upstream, MICROFORGE_CACHE: await tempDir("cache-") };
}

before(async () => {
  if (skip) return;
  server = await startFixtureServer();
  upstream = await serveUpstream(server);
});
after(async () => await server?.close());

test("versions kernel lists releases with the default marked; --resolve prints one", { skip }, async () => {
  const env = await freshCache();
  const list = await cli(["versions", "kernel"], { env });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^kernel versions from kernel\.org:/);
  assert.match(list.stdout, /6\.1\.63\s+longterm\s+← default \(longterm\)/);
  assert.match(list.stdout, /4\.14\.330\s+longterm, EOL/);
  assert.doesNotMatch(list.stdout, /next-/);
  const lts = await cli(["versions", "kernel", "--channel", "longterm", "--json"], { env });
  assert.deepEqual(JSON.parse(lts.stdout).versions.map((v: { version: string }) => v.version), ["6.1.63", "5.15.139", "5.10.201", "5.4.261", "4.19.299", "4.14.330"]);
  const r = await cli(["versions", "kernel", "--resolve", "^6.1", "--json"], { env });
  const j = JSON.parse(r.stdout);
  assert.equal(j.version, "6.6.2");
  assert.equal(j.moniker, "stable");
  assert.equal(j.url, `${server.url}/pub/linux/kernel/v6.x/linux-6.6.2.tar.xz`);
  assert.equal(j.checksums, `${server.url}/pub/linux/kernel/v6.x/sha256sums.asc`);
  const none = await cli(["versions", "kernel", "--resolve", "6.2"], { env });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /No kernel version from kernel\.org matches "6\.2"[\s\S]*available: 6\.1\.63/);
});

test("fetch kernel downloads once, verifies against sha256sums.asc, and extracts", { skip }, async () => {
  const env = await freshCache();
  const before = server.hits("/pub/linux/kernel/v6.x/linux-6.1.63.tar.xz");
  const r = await cli(["fetch", "kernel", "6.1", "--extract", "--json"], { env });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.version, "6.1.63");
  assert.match(j.verified, /sha256sums\.asc/);
  assert.match(await readFile(join(j.tree, "Makefile"), "utf8"), /fixture for 6\.1\.63/);
  const again = await cli(["fetch", "kernel", "6.1", "--json"], { env });
  assert.equal(JSON.parse(again.stdout).sha256, j.sha256);
  assert.equal(server.hits("/pub/linux/kernel/v6.x/linux-6.1.63.tar.xz") - before, 1);
});

test("a mainline snapshot needs --allow-unverified", { skip }, async () => {
  const env = await freshCache();
  const r = await cli(["fetch", "kernel", "mainline"], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /linux-6\.7-rc2\.tar\.gz is a mainline snapshot[\s\S]*--allow-unverified/);
  const ok = await cli(["fetch", "kernel", "mainline", "--allow-unverified", "--json"], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(JSON.parse(ok.stdout).verified, /unverified/);
});

test("a tarball that does not match sha256sums.asc is refused and not cached", { skip }, async () => {
  const bad = await startFixtureServer();
  try {
    const env = { ...(await serveUpstream(bad)), MICROFORGE_CACHE: await tempDir("cache-") };
    bad.route("/pub/linux/kernel/v5.x/linux-5.15.139.tar.xz", { body: "not the tarball" });
    const r = await cli(["fetch", "kernel", "5.15"], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Checksum mismatch for .*linux-5\.15\.139\.tar\.xz/);
    const blobs = await readdir(join(env.MICROFORGE_CACHE, "blobs", "sha256")).catch(() => []);
    assert.deepEqual(blobs, []);
  } finally {
    await bad.close();
  }
});

test("busybox from busybox.net is pinned in the lock file (trust on first use, opted into: it has no checksums)", { skip }, async () => {
  const env = { ...(await freshCache()), MICROFORGE_ALLOW_UNVERIFIED: "1" };
  const lock = join(await tempDir("lock-"), "microforge.lock.json");
  const r = await cli(["fetch", "busybox", "latest", "--busybox-source", "busybox.net", "--lock", lock, "--json"], { env });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.source, "busybox.net");
  assert.equal(j.url, `${server.url}/downloads/binaries/1.35.0-x86_64-linux-musl/busybox`);
  const locked = JSON.parse(await readFile(lock, "utf8"));
  assert.equal(locked.artifacts.busybox.sha256, j.sha256);
  // 1.31.0's multiarch binary on the fixture is a dynamic program: refused
  const old = await cli(["fetch", "busybox", "1.31", "--busybox-source", "busybox.net"], { env });
  assert.equal(old.code, 1);
  assert.match(old.stderr, /dynamically linked/);
});

test("lock round trip: a locked run keeps the old version after upstream moves on; --locked refuses a changed spec", { skip }, async () => {
  const moving = await startFixtureServer();
  try {
    const env = { ...(await serveUpstream(moving)), MICROFORGE_CACHE: await tempDir("cache-") };
    const lock = join(await tempDir("lock-"), "microforge.lock.json");
    const first = await cli(["fetch", "kernel", "longterm", "--lock", lock, "--json"], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).version, "6.1.63");
    // upstream releases 6.1.64
    await serveUpstream(moving, { releases: FIXTURE_RELEASES.map((r) => (r.version === "6.1.63" ? { ...r, version: "6.1.64" } : r)) });
    const resolved = await cli(["versions", "kernel", "--resolve", "longterm"], { env });
    assert.equal(resolved.stdout.trim(), "6.1.64");
    const again = await cli(["fetch", "kernel", "longterm", "--lock", lock, "--json"], { env });
    assert.equal(JSON.parse(again.stdout).version, "6.1.63");
    const strict = await cli(["fetch", "kernel", "6.6", "--lock", lock, "--locked"], { env });
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /--locked: .* would change: kernel is locked to spec "longterm" but "6\.6" was asked for/);
    const updated = await cli(["fetch", "kernel", "longterm", "--lock", lock, "--update", "--json"], { env });
    assert.equal(JSON.parse(updated.stdout).version, "6.1.64");
    assert.equal(JSON.parse(await readFile(lock, "utf8")).artifacts.kernel.version, "6.1.64");
  } finally {
    await moving.close();
  }
});

test("offline: auto falls back to Debian's packages and says so; unknown versions list what Debian has", { skip }, async () => {
  const env = { MICROFORGE_KERNEL_RELEASES_URL: "http://127.0.0.1:9/releases.json", MICROFORGE_BUSYBOX_URL: "http://127.0.0.1:9/", MICROFORGE_CACHE: await tempDir("cache-") };
  const list = await cli(["versions", "kernel", "--json"], { env });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stderr, /kernel\.org is not reachable .*; using Debian's linux-source packages/);
  const versions = JSON.parse(list.stdout).versions.map((v: { version: string }) => v.version);
  assert.ok(versions.some((v: string) => v.startsWith("6.1.")), versions.join());
  const r = await cli(["versions", "kernel", "--resolve", "6.1"], { env });
  assert.match(r.stdout, /^6\.1\.\d+$/m);
  const none = await cli(["versions", "kernel", "--resolve", "5.15"], { env });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /No kernel version from Debian packages matches "5\.15"[\s\S]*available: .*6\.1\./);
  // busybox.net publishes no checksums, so auto asks it only when opted into; then it says why it fell back.
  const quiet = await cli(["fetch", "busybox", "--json"], { env });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(JSON.parse(quiet.stdout).source, "debian");
  assert.doesNotMatch(quiet.stderr, /busybox\.net/);
  const bb = await cli(["fetch", "busybox", "--json"], { env: { ...env, MICROFORGE_ALLOW_UNVERIFIED: "1" } });
  assert.equal(bb.code, 0, bb.stderr);
  assert.equal(JSON.parse(bb.stdout).source, "debian");
  assert.match(bb.stderr, /busybox\.net: .*; using debian/);
  const strict = await cli(["fetch", "kernel", "--kernel-source", "kernel.org"], { env });
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /releases\.json/);
});

test("Debian's real linux-source-6.1 tarball, served as linux-6.1.y, downloads, verifies and extracts", { skip }, async () => {
  const { file: real, version } = await debianKernelSource("6.1");
  const { sha256File } = await import("../../lib/util/hash.ts");
  const sha = await sha256File(real);
  const srv = await startFixtureServer();
  try {
    const releases = [{ version, moniker: "longterm" as const }];
    const env = { ...(await serveUpstream(srv, { releases, latestStable: version, tarballs: { [version]: { file: real, sha256: sha } } })), MICROFORGE_CACHE: await tempDir("cache-") };
    const r = await cli(["fetch", "kernel", "longterm", "--extract", "--json", "--quiet"], { env });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.sha256, sha);
    assert.match(await readFile(join(j.tree, "Makefile"), "utf8"), /^VERSION = 6\nPATCHLEVEL = 1\n/m);
    assert.ok((await stat(join(j.tree, "arch", "x86", "Kconfig"))).isFile());
  } finally {
    await srv.close();
  }
});
