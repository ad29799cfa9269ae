import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BundleError } from "../../lib/util/errors.ts";
import { sha256File } from "../../lib/util/hash.ts";
import { emptyLock } from "../../lib/sources/lock-file.ts";
import { MicroVM } from "../../lib/vm/microvm.ts";
import { BundleRecorder } from "../../lib/run/bundle-recorder.ts";
import { type BundleContent, bundleSpec, checkBundleTarget, readBundle, writeBundle } from "../../lib/run/bundle.ts";
import { tempDir } from "../helpers.ts";

async function content(dir: string, patch: Partial<BundleContent> = {}): Promise<BundleContent> {
  await writeFile(join(dir, "bzImage"), "kernel bytes");
  await writeFile(join(dir, "img.cpio"), "initramfs bytes");
  const lock = emptyLock();
  lock.artifacts.kernel = { spec: "6.1", version: "6.1.1", source: "debian", url: "debian:linux-source-6.1=6.1.1-1", sha256: "a".repeat(64) };
  return {
    vm: new MicroVM({ kernel: join(dir, "bzImage"), initrd: join(dir, "img.cpio"), bios: "/usr/share/qemu/qboot.rom", qemu: "/usr/bin/qemu-system-x86_64", accel: "tcg", memory: "256M", append: ["foo=bar"] }),
    command: ["sh", "-c", "exit 7"],
    exitCode: 7,
    console: new TextEncoder().encode("Linux version 6.1.1\n"),
    stdout: new TextEncoder().encode("out\n"),
    stderr: new Uint8Array(),
    config: "CONFIG_X=y\n",
    lock,
    kernel: { version: "6.1.1", release: "6.1.1" },
    run: { quietKernel: false, timeoutMs: 5000 },
    now: () => new Date("2026-01-02T03:04:05Z"),
    ...patch,
  };
}

test("writeBundle writes every file with its sha256 in the manifest, and a script that runs from the folder", async () => {
  const base = await tempDir("bundle-unit-");
  const dir = join(base, "b");
  const m = await writeBundle(dir, await content(base));
  assert.deepEqual((await readdir(dir)).sort(), [".config", "bzImage", "command.txt", "console.log", "exit-code", "initramfs.cpio", "lock.json", "manifest.json", "qemu.sh", "stderr", "stdout"]);
  assert.equal(m.created, "2026-01-02T03:04:05.000Z");
  assert.deepEqual(m.vm.append, ["foo=bar"]);
  assert.equal(m.vm.kernel, "bzImage");
  assert.equal(m.vm.initrd, "initramfs.cpio");
  assert.equal("qemu" in m.vm || "bios" in m.vm, false);
  for (const [name, f] of Object.entries(m.files)) assert.equal(f.sha256, await sha256File(join(dir, name)), name);
  assert.equal(await readFile(join(dir, "bzImage"), "utf8"), "kernel bytes");
  assert.equal(await readFile(join(dir, "command.txt"), "utf8"), "sh -c 'exit 7'\n");
  assert.deepEqual(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")), m);
  const script = await readFile(join(dir, "qemu.sh"), "utf8");
  assert.match(script, /^cd "\$\(dirname "\$0"\)" \|\| exit 1$/m);
  assert.match(script, /-kernel bzImage\b/);
  assert.match(script, /-initrd initramfs\.cpio\b/);
  assert.doesNotMatch(script, new RegExp(base));
  assert.ok(((await stat(join(dir, "qemu.sh"))).mode & 0o111) !== 0);
  // No panic, no panic.txt; nothing left beside the bundle.
  assert.deepEqual((await readdir(base)).sort(), ["b", "bzImage", "img.cpio"]);
});

test("readBundle gives the manifest back and bundleSpec points into the folder, on this host's QEMU", async () => {
  const base = await tempDir("bundle-unit-");
  const dir = join(base, "b");
  await writeBundle(dir, await content(base, { decodedPanic: "panic (kernel/panic.c:1)" }));
  const b = await readBundle(dir);
  assert.equal(b.manifest.exitCode, 7);
  assert.equal(await readFile(join(dir, "panic.txt"), "utf8"), "panic (kernel/panic.c:1)\n");
  const spec = bundleSpec(b, { qemu: "/q", bios: "/b" });
  assert.equal(spec.kernel, join(dir, "bzImage"));
  assert.equal(spec.initrd, join(dir, "initramfs.cpio"));
  assert.equal(spec.qemu, "/q");
  assert.equal(spec.memory, "256M");
});

test("readBundle refuses a changed, missing or foreign file, naming it", async () => {
  const base = await tempDir("bundle-unit-");
  const dir = join(base, "b");
  await writeBundle(dir, await content(base));
  await writeFile(join(dir, "initramfs.cpio"), "other bytes");
  await assert.rejects(readBundle(dir), (e: unknown) => e instanceof BundleError && /initramfs\.cpio has sha256 [0-9a-f]{64}, not [0-9a-f]{64}/.test(e.message) && e.exitCode === 2);
  const missing = join(base, "m");
  await writeBundle(missing, await content(base));
  await rm(join(missing, "stdout"));
  await assert.rejects(readBundle(missing), /stdout is missing/);
  const other = join(base, "o");
  await mkdir(other);
  await assert.rejects(readBundle(other), /no manifest\.json/);
  await writeFile(join(other, "manifest.json"), "{not json");
  await assert.rejects(readBundle(other), /not JSON/);
  await writeFile(join(other, "manifest.json"), JSON.stringify({ format: 99 }));
  await assert.rejects(readBundle(other), /format 99/);
});

test("checkBundleTarget takes a new path or an empty folder, and refuses the rest", async () => {
  const base = await tempDir("bundle-unit-");
  await checkBundleTarget(join(base, "new"));
  await checkBundleTarget(base);
  await writeFile(join(base, "f"), "");
  await assert.rejects(checkBundleTarget(base), (e: unknown) => e instanceof BundleError && /not empty/.test(e.message));
  await assert.rejects(checkBundleTarget(join(base, "f"), "--bundle-on-failure"), /--bundle-on-failure\): it is a (regular )?file/);
  await assert.rejects(checkBundleTarget(join(base, "no", "such")), /there is no directory/);
});

test("a bundle that cannot be written leaves nothing behind", async () => {
  const base = await tempDir("bundle-unit-");
  const c = await content(base);
  await rm(join(base, "img.cpio"));
  await assert.rejects(writeBundle(join(base, "b"), c));
  assert.deepEqual((await readdir(base)).sort(), ["bzImage"]);
});

test("BundleRecorder passes output on, keeps a copy, and keeps only the tail of a flood", () => {
  const rec = new BundleRecorder();
  const seen: string[] = [];
  const sink = rec.sink("stdout", (c) => void seen.push(new TextDecoder().decode(c)));
  sink(new TextEncoder().encode("a"));
  sink(new TextEncoder().encode("b"));
  rec.console((c) => seen.push(`console:${c}`))("boot\n");
  assert.deepEqual(seen, ["a", "b", "console:boot\n"]);
  const got = rec.get();
  assert.equal(new TextDecoder().decode(got.stdout), "ab");
  assert.equal(new TextDecoder().decode(got.console), "boot\n");
  const big = rec.sink("stderr", () => undefined);
  const mib = new Uint8Array(1 << 20);
  for (let i = 0; i < 20; i++) big(mib);
  const tail = rec.get();
  assert.ok(tail.stderr.length <= 9 << 20 && tail.stderr.length >= 8 << 20, String(tail.stderr.length));
  assert.equal(tail.dropped.stderr + tail.stderr.length, 20 << 20);
});
