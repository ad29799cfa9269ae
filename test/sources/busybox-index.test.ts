import { test } from "node:test";
import assert from "node:assert/strict";
import { binaryUrl, parseBusyboxIndex } from "../../lib/sources/busybox-index.ts";
import { resolveSpec } from "../../lib/sources/version-spec.ts";
import { busyboxIndexHtml, busyboxDirHtml } from "../fixtures/busybox-net.ts";

const base = "https://busybox.example/downloads/binaries/";

test("the index gives one x86_64 build per version, preferring x86_64-linux-musl", () => {
  const builds = parseBusyboxIndex(busyboxIndexHtml(), base);
  const byVersion = Object.fromEntries(builds.map((b) => [b.version, b.variant]));
  assert.deepEqual(byVersion, { "1.35.0": "x86_64-linux-musl", "1.31.0": "defconfig-multiarch-musl", "1.30.0": "defconfig-multiarch-musl", "1.21.1": "" });
  assert.equal(builds.find((b) => b.version === "1.35.0")!.dir, `${base}1.35.0-x86_64-linux-musl/`);
});

test("version specs resolve among busybox builds", () => {
  const builds = parseBusyboxIndex(busyboxIndexHtml(), base);
  assert.equal(resolveSpec("latest", builds).version, "1.35.0");
  assert.equal(resolveSpec("^1.30", builds).version, "1.35.0");
  assert.equal(resolveSpec("1.31", builds).version, "1.31.0");
  assert.throws(() => resolveSpec("1.36", builds, { what: "busybox" }), /No busybox version matches "1\.36"[\s\S]*1\.35\.0/);
});

test("the binary in a version directory: busybox, or busybox-x86_64 in multiarch builds", () => {
  const builds = parseBusyboxIndex(busyboxIndexHtml(), base);
  const musl = builds.find((b) => b.version === "1.35.0")!;
  assert.equal(binaryUrl(musl, busyboxDirHtml(["busybox", "busybox_WGET"])), `${musl.dir}busybox`);
  const multi = builds.find((b) => b.version === "1.31.0")!;
  assert.equal(binaryUrl(multi, busyboxDirHtml(["busybox-i686", "busybox-x86_64"])), `${multi.dir}busybox-x86_64`);
  assert.equal(binaryUrl(multi, busyboxDirHtml(["busybox-armv7l"])), undefined);
});
