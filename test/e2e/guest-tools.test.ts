/**
 * Tools of your own in the busybox guest, on real boots: a host binary with
 * its libraries (`--binary`), and a Debian package with its dependencies
 * (`--package`), pinned in the lock and fetched again with `--locked` into
 * an emptied package cache. The default Debian 6.1 kernel.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { packageRootDir } from "../../lib/fetch/debian-packages.ts";
import { cli, onDeno, tempDir, testCache } from "../helpers.ts";

const skip = onDeno ? "boots real VMs from the CLI; runs under Node" : false;
const KERNEL = ["--kernel-source", "debian", "--kernel-version", "6.1", "--accel", "tcg"];

test("--binary /usr/bin/strace runs strace in the guest", { skip }, async () => {
  const r = await cli(["run", "--quiet", ...KERNEL, "--binary", "/usr/bin/strace", "--", "strace", "-V"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^strace -- version \d+\.\d+/m);
});

test("--binary of a missing file, or of a script whose interpreter is not in the image, fails before QEMU starts", { skip }, async () => {
  const missing = await cli(["run", "--quiet", ...KERNEL, "--binary", "/nonexistent/tool", "--", "true"]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /Cannot add \/nonexistent\/tool: no such file/);
  const script = join(await tempDir("script-"), "tool.py");
  await writeFile(script, "#!/usr/bin/no-such-python3\nprint(1)\n");
  await chmod(script, 0o755);
  const r = await cli(["run", "--quiet", ...KERNEL, "--binary", script, "--", "true"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /no-such-python3/);
  // Neither got as far as QEMU: no console lines in the message.
  assert.doesNotMatch(missing.stderr + r.stderr, /console/);
});

test("--package jq runs jq, pinned in the lock; --locked with an emptied package cache gets the same bytes", { skip }, async () => {
  const dir = await tempDir("package-");
  const lock = join(dir, "microforge.lock.json");
  const r = await cli(["run", "--quiet", ...KERNEL, "--package", "jq", "--lock", lock, "--", "jq", "-n", "6*7"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "42\n");
  const pinned = JSON.parse(await readFile(lock, "utf8")).artifacts;
  const debs = Object.entries(pinned).filter(([k]) => k.startsWith("deb:")) as [string, { version: string; sha256: string }][];
  assert.ok(debs.some(([k]) => k === "deb:jq"), Object.keys(pinned).join(" "));
  assert.ok(debs.some(([k]) => k === "deb:libc6"), "jq's dependencies are pinned too");
  for (const [, e] of debs) assert.match(e.sha256, /^[0-9a-f]{64}$/);
  // Empty the package cache of these packages (their unpacked roots and .debs; this test owns them), then rebuild with --locked.
  for (const [, e] of debs) {
    await rm(packageRootDir(testCache, e.sha256), { recursive: true, force: true });
    await rm(join(testCache, "blobs", "sha256", e.sha256), { force: true });
  }
  const again = await cli(["run", "--quiet", ...KERNEL, "--package", "jq", "--lock", lock, "--locked", "--", "jq", "-n", "6*7"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, "42\n");
  assert.deepEqual(JSON.parse(await readFile(lock, "utf8")).artifacts, pinned);
});
