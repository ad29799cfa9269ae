/**
 * Repro bundles on real boots: `run --bundle DIR -- CMD` writes the folder,
 * `rerun DIR` boots those bytes again and exits with the command's status,
 * a changed file is refused, and `--bundle-on-failure` writes only for a
 * failure (a panicking init gives its decoded trace). Debian's 6.1 kernel,
 * the one the other e2e tests build, so it is cached.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sha256File } from "../../lib/util/hash.ts";
import { cli, onDeno, tempDir } from "../helpers.ts";

const skip = onDeno ? "boots real VMs from the CLI; runs under Node" : false;
const KERNEL = ["--kernel-source", "debian", "--kernel-version", "6.1", "--accel", "tcg"];

test("a bundle of sh -c 'exit 7' holds the run and reruns to exit 7", { skip }, async () => {
  const dir = join(await tempDir("bundle-"), "b");
  const r = await cli(["run", "--quiet", ...KERNEL, "--bundle", dir, "--", "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7"]);
  assert.equal(r.code, 7, r.stderr);
  assert.equal(r.stdout, "to-stdout\n");
  const names = (await readdir(dir)).sort();
  for (const f of [".config", "command.txt", "console.log", "exit-code", "initramfs.cpio", "lock.json", "manifest.json", "qemu.sh", "stderr", "stdout"]) assert.ok(names.includes(f), `${f} in ${names}`);
  assert.ok(names.includes("vmlinux") || names.includes("bzImage"), names.join(" "));
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
  assert.equal(manifest.exitCode, 7);
  assert.deepEqual(manifest.command, ["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7"]);
  for (const [name, f] of Object.entries(manifest.files) as [string, { sha256: string }][]) assert.equal(await sha256File(join(dir, name)), f.sha256, name);
  assert.equal(await readFile(join(dir, "exit-code"), "utf8"), "7\n");
  assert.equal(await readFile(join(dir, "stdout"), "utf8"), "to-stdout\n");
  assert.equal(await readFile(join(dir, "stderr"), "utf8"), "to-stderr\n");
  // The whole boot log: the kernel was not quiet.
  assert.match(await readFile(join(dir, "console.log"), "utf8"), /Linux version /);
  const lock = JSON.parse(await readFile(join(dir, "lock.json"), "utf8"));
  assert.equal(lock.artifacts.kernel.source, "debian");
  assert.equal(lock.artifacts.kernel.version, manifest.kernel.version);
  assert.match(lock.artifacts.busybox.sha256, /^[0-9a-f]{64}$/);
  assert.match(await readFile(join(dir, ".config"), "utf8"), /^CONFIG_VIRTIO_CONSOLE=y$/m);
  assert.ok(((await stat(join(dir, "qemu.sh"))).mode & 0o111) !== 0);

  const again = await cli(["rerun", "--quiet", "--accel", "tcg", dir]);
  assert.equal(again.code, 7, again.stderr);
  assert.equal(again.stdout, "to-stdout\n");
  assert.equal(again.stderr, "to-stderr\n");

  // A changed byte is refused before anything boots.
  const copy = join(await tempDir("bundle-changed-"), "b");
  await cp(dir, copy, { recursive: true });
  const initrd = join(copy, "initramfs.cpio");
  const bytes = await readFile(initrd);
  bytes[bytes.length - 1] ^= 1;
  await writeFile(initrd, bytes);
  const changed = await cli(["rerun", "--quiet", "--accel", "tcg", copy]);
  assert.equal(changed.code, 2);
  assert.match(changed.stderr, /initramfs\.cpio has sha256 [0-9a-f]{64}, not /);
});

test("--bundle-on-failure writes nothing for a success and the decoded panic for a failure", { skip }, async () => {
  const base = await tempDir("bundle-fail-");
  const ok = await cli(["run", "--quiet", ...KERNEL, "--bundle-on-failure", join(base, "ok"), "--", "true"]);
  assert.equal(ok.code, 0, ok.stderr);
  await assert.rejects(stat(join(base, "ok")), { code: "ENOENT" });
  assert.deepEqual(await readdir(base), []);

  const dir = join(base, "panic");
  const r = await cli(["run", "--quiet", ...KERNEL, "--append", "rdinit=/bin/false", "--timeout", "120", "--bundle-on-failure", dir, "--", "true"]);
  assert.equal(r.code, 255, r.stderr);
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
  assert.equal(manifest.exitCode, 255);
  assert.match(manifest.error, /panic/i);
  assert.match(await readFile(join(dir, "console.log"), "utf8"), /Kernel panic/);
  // Decoded against the kept vmlinux: each frame a function with its file (line numbers need --features debug).
  const panic = await readFile(join(dir, "panic.txt"), "utf8");
  assert.match(panic, /^Kernel panic - not syncing/m);
  assert.match(panic, /^panic \((?:\?\?|[\w./-]+\.c):(?:\?|\d+)\)/m);
});

test("--bundle is refused before any work for an existing folder or without a command", { skip }, async () => {
  const base = await tempDir("bundle-refused-");
  await writeFile(join(base, "x"), "");
  const full = await cli(["run", "--quiet", ...KERNEL, "--bundle", base, "--", "true"]);
  assert.equal(full.code, 2);
  assert.match(full.stderr, /not empty/);
  const shell = await cli(["run", "--quiet", ...KERNEL, "--bundle", join(base, "new")], { input: "exit 3\n" });
  assert.equal(shell.code, 2);
  assert.match(shell.stderr, /needs `-- CMD/);
});
