import { test } from "node:test";
import assert from "node:assert/strict";
import { checksumsUrlFor, parseKernelReleases, sha256From } from "../../lib/sources/kernel-releases.ts";
import { toSemver } from "../../lib/sources/kernel-version.ts";
import { releasesJson, sha256sumsAsc } from "../fixtures/kernel-org.ts";

const base = "https://cdn.example";

test("kernel versions coerce to semver consistently", () => {
  assert.equal(toSemver("6.6"), "6.6.0");
  assert.equal(toSemver("6.6.2"), "6.6.2");
  assert.equal(toSemver("6.7-rc2"), "6.7.0-rc2");
  assert.equal(toSemver("next-20231122"), undefined);
  assert.equal(toSemver("6"), undefined);
});

test("releases.json parses every entry with a tarball; linux-next is left out", () => {
  const r = parseKernelReleases(releasesJson(base));
  assert.equal(r.latestStable, "6.6.2");
  assert.deepEqual(r.releases.map((x) => x.version), ["6.7-rc2", "6.6.2", "6.5.12", "6.1.63", "5.15.139", "5.10.201", "5.4.261", "4.19.299", "4.14.330"]);
  const rc = r.releases[0];
  assert.equal(rc.moniker, "mainline");
  assert.equal(rc.semver, "6.7.0-rc2");
  assert.equal(rc.checksums, undefined); // git.kernel.org snapshots have no sha256sums
  const lts = r.releases.find((x) => x.version === "6.1.63")!;
  assert.equal(lts.checksums, `${base}/pub/linux/kernel/v6.x/sha256sums.asc`);
  assert.equal(r.releases.find((x) => x.version === "4.14.330")!.iseol, true);
});

test("a broken releases.json is an error that says where to look", () => {
  assert.throws(() => parseKernelReleases("<html>", "https://x/releases.json"), /https:\/\/x\/releases\.json is not valid JSON[\s\S]*MICROFORGE_KERNEL_RELEASES_URL/);
  assert.throws(() => parseKernelReleases("{}"), /has no "releases" list/);
});

test("sha256sums.asc: clearsigned, armor headers, two spaces", () => {
  const a = "a".repeat(64);
  const b = "B".repeat(64);
  const text = sha256sumsAsc({ "linux-6.6.1.tar.xz": a, "linux-6.6.2.tar.xz": b }).replace("Hash: SHA256", "Hash: SHA256\nVersion: GnuPG v2");
  assert.equal(sha256From(text, "linux-6.6.2.tar.xz"), "b".repeat(64));
  assert.equal(sha256From(text, "linux-6.6.1.tar.xz"), a);
  assert.equal(sha256From(text, "linux-6.6.3.tar.xz"), undefined);
  assert.equal(sha256From(`${a}  plain.tar.xz\n`, "plain.tar.xz"), a);
});

test("checksum URLs sit beside cdn tarballs only", () => {
  assert.equal(checksumsUrlFor("https://cdn.kernel.org/pub/linux/kernel/v6.x/linux-6.6.2.tar.xz"), "https://cdn.kernel.org/pub/linux/kernel/v6.x/sha256sums.asc");
  assert.equal(checksumsUrlFor("https://git.kernel.org/torvalds/t/linux-6.7-rc2.tar.gz"), undefined);
});
