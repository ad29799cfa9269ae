/**
 * Debian packages into the image with the real apt: jq and its closure are
 * fetched, pinned, fetched again from the lock into an empty cache, and run
 * from a staging root built from the extra content (chroot; we run as root).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, copyFile, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fetchPackages } from "../../lib/fetch/debian-packages.ts";
import { packageContent } from "../../lib/initramfs/package-content.ts";
import { readLock } from "../../lib/sources/lock-file.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import { runProcess } from "../../lib/util/process.ts";
import { onDeno, tempDir, testCache } from "../helpers.ts";

const skip = onDeno ? "Node only: the Deno suite runs the unit tests" : !existsSync("/usr/bin/apt-get") ? "needs apt" : false;

test("jq and its dependencies are fetched, pinned by sha256, fetched again --locked, and jq runs from the unpacked tree", { skip, timeout: 300_000 }, async () => {
  const dir = await tempDir("packages-");
  // A cache of its own under the test cache, so emptying it touches nothing else.
  const env = { ...process.env, MICROFORGE_CACHE: join(testCache, "packages-e2e") };
  const lockPath = join(dir, "microforge.lock.json");
  const first = await fetchPackages(["jq"], { env, log: memoryLogger(), lock: { path: lockPath, mode: "reuse" } });
  const names = first.map((p) => p.name);
  for (const n of ["jq", "libjq1", "libonig5", "libc6"]) assert.ok(names.includes(n), `${n} in ${names.join(" ")}`);
  const lock = await readLock(lockPath);
  for (const p of first) {
    const e = lock.artifacts[`deb:${p.name}`];
    assert.equal(e?.sha256, p.sha256, p.name);
    assert.equal(e.url, `debian:${p.name}=${p.version}`);
  }
  assert.deepEqual(lock.artifacts["deb:jq"].depends, ["libjq1", "libc6"]);

  await rm(env.MICROFORGE_CACHE, { recursive: true, force: true });
  const again = await fetchPackages(["jq"], { env, log: memoryLogger(), lock: { path: lockPath, mode: "locked" } });
  assert.deepEqual(again.map((p) => [p.name, p.sha256]), first.map((p) => [p.name, p.sha256]));

  const stage = join(dir, "stage");
  for (const item of await packageContent(again.map((p) => p.root))) {
    const dest = join(stage, item.dest);
    await mkdir("dir" in item ? dest : dirname(dest), { recursive: true });
    if ("symlink" in item) await symlink(item.symlink, dest);
    else if ("source" in item) await copyFile(item.source, dest).then(() => chmod(dest, item.mode ?? 0o644));
    else if ("content" in item) await writeFile(dest, item.content);
  }
  // No /etc/ld.so.cache: Debian's loader finds the multiarch libraries on its own.
  assert.ok(!existsSync(join(stage, "etc", "ld.so.cache")));
  const r = await runProcess(["chroot", stage, "/usr/bin/jq", "-n", "6*7"], { nothrow: true });
  assert.equal(r.stdout.trim(), "42", r.stderr);
});
