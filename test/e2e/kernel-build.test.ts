/**
 * A real kernel build end to end: a local server poses as kernel.org serving
 * Debian's linux-source-6.1 tarball; resolve → download → verify → extract →
 * configure → verify → build bzImage, then boot it under QEMU (TCG) with our
 * initramfs. Uses the shared test cache, so local reruns reuse the build.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cli, debianKernelSource, onDeno, tempDir } from "../helpers.ts";
import { startFixtureServer, type FixtureServer } from "../fixtures/http-server.ts";
import { serveUpstream } from "../fixtures/upstream.ts";
import { runProcess } from "../../lib/util/process.ts";
import { sha256File } from "../../lib/util/hash.ts";

const skip = onDeno ? "builds a kernel; runs under Node" : false;
let server: FixtureServer;
let env: Record<string, string>;
let built: { bzImage: string; vmlinux: string; boot: string; pvh: boolean; version: string; key: string; seconds: number; cached: boolean };
let tree: string;
let served: string;

before(async () => {
  if (skip) return;
  server = await startFixtureServer();
  // Served as kernel.org would serve the version this tarball is.
  const { file, version } = await debianKernelSource("6.1");
  served = version;
  const sha256 = await sha256File(file);
  const releases = [{ version, moniker: "longterm" as const }];
  env = await serveUpstream(server, { releases, latestStable: version, tarballs: { [version]: { file, sha256 } } });
});
after(async () => await server?.close());

test("kernel build: fetch, verify, configure, build bzImage (or reuse the cached one)", { skip, timeout: 30 * 60_000 }, async () => {
  const r = await cli(["kernel", "build", "--version", "longterm", "--json"], { env });
  assert.equal(r.code, 0, r.stderr);
  built = JSON.parse(r.stdout);
  assert.equal(built.version, served);
  const head = await readFile(built.bzImage);
  assert.equal(head.subarray(0x202, 0x206).toString("latin1"), "HdrS"); // the x86 boot protocol magic
  console.log(`kernel ${built.version}: ${built.cached ? "cached" : `built in ${built.seconds} s`}, ${head.length} bytes`);
  const config = await readFile(built.bzImage.replace(/bzImage$/, "config"), "utf8");
  assert.match(config, /^CONFIG_VIRTIO_NET=y$/m);
  assert.match(config, /^CONFIG_9P_FS=y$/m);
  const fetched = await cli(["fetch", "kernel", "longterm", "--extract", "--json", "--quiet"], { env });
  tree = JSON.parse(fetched.stdout).tree;
});

test("the built kernel boots our initramfs under QEMU microvm and exits by itself", { skip, timeout: 120_000 }, async () => {
  assert.ok(built, "needs the build test");
  const dir = await tempDir("boot-");
  const rd = join(dir, "initramfs.cpio.gz");
  const made = await cli(["initramfs", "-o", rd, "--busybox", "host", "--quiet", "--set", 'command=["sh","-c","echo microforge-e2e-marker $(uname -r)"]']);
  assert.equal(made.code, 0, made.stderr);
  // Both images boot: the bzImage, and the vmlinux through its PVH entry (what microforge boots).
  assert.equal(built.pvh, true);
  assert.equal(built.boot, built.vmlinux);
  for (const image of [built.bzImage, built.vmlinux]) {
    const argv = [
      "qemu-system-x86_64", "-M", "microvm,x-option-roms=off,rtc=off,acpi=off,accel=tcg", "-bios", "/usr/share/qemu/qboot.rom",
      "-m", "512", "-nographic", "-nodefaults", "-no-user-config", "-no-reboot", "-serial", "mon:stdio",
      "-append", "console=ttyS0 acpi=off reboot=t panic=-1", "-kernel", image, "-initrd", rd,
    ];
    const start = Date.now();
    const r = await runProcess(argv, { timeoutMs: 60_000, nothrow: true });
    console.log(`${image.split("/").pop()}: boot to exit ${Date.now() - start} ms`);
    assert.equal(r.signal, null, `QEMU did not exit by itself:\n${r.stdout.slice(-2000)}`);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.includes(`microforge-e2e-marker ${built.version}`), r.stdout.slice(-2000));
    assert.match(r.stdout, /microforge-exit-status:0/);
  }
});

test("a second build of the same inputs is a cache hit that never runs make", { skip, timeout: 120_000 }, async () => {
  assert.ok(built, "needs the build test");
  const bin = await tempDir("nomake-");
  await writeFile(join(bin, "make"), "#!/bin/sh\necho 'make must not run on a cache hit' >&2\nexit 99\n");
  await chmod(join(bin, "make"), 0o755);
  const start = Date.now();
  const r = await cli(["kernel", "build", "--version", "longterm", "--json"], { env: { ...env, PATH: `${bin}:${process.env.PATH}` } });
  assert.equal(r.code, 0, r.stderr);
  const again = JSON.parse(r.stdout);
  assert.equal(again.cached, true);
  assert.equal(again.key, built.key);
  assert.equal(again.bzImage, built.bzImage);
  console.log(`cache hit: ${Date.now() - start} ms including CLI start-up`);
});

test("a symbol whose dependency is off is a KconfigError naming both; adding the dependency fixes it", { skip, timeout: 300_000 }, async () => {
  assert.ok(tree, "needs the source tree");
  const bad = await cli(["kernel", "config", "--tree", tree, "--features", "virtio", "--set", "CONFIG_VIRTIO_NET=y"]);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stdout, /✗ CONFIG_VIRTIO_NET=y is not set: .*depends on .*NETDEVICES/);
  const good = await cli(["kernel", "config", "--tree", tree, "--features", "virtio,net", "--set", "CONFIG_VIRTIO_NET=y", "--json"]);
  assert.equal(good.code, 0, good.stderr);
  assert.deepEqual(JSON.parse(good.stdout).dropped, []);
});

test("Kconfig explanations on the real 6.1 tree match what FACTS.md measured", { skip }, async () => {
  assert.ok(tree, "needs the source tree");
  const { kconfigReasons } = await import("../../lib/kernel/kconfig-deps.ts");
  const why = await kconfigReasons(tree, ["VIRTIO_MMIO", "VIRTIO_BLK", "9P_FS", "VIRTIO_NETT"]);
  assert.ok(why.get("VIRTIO_MMIO")!.includes("inside if VIRTIO_MENU"));
  assert.ok(why.get("VIRTIO_BLK")!.includes("inside if BLK_DEV"));
  assert.ok(why.get("9P_FS")!.includes("depends on INET && NET_9P"));
  assert.match(why.get("VIRTIO_NETT")![0], /not defined/);
});

test("a build failure shows the make command, its exit code and the tail of its output", { skip, timeout: 600_000 }, async () => {
  const r = await cli(["kernel", "build", "--version", "longterm", "--make", "KCFLAGS=-fno-such-flag-microforge", "--quiet"], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Command make -C .* KCFLAGS=-fno-such-flag-microforge bzImage exited with code 2/);
  assert.match(r.stderr, /--- last lines of output ---[\s\S]*-fno-such-flag-microforge/);
  assert.match(r.stderr, /the full log is .*build\.log/);
});

test("the default config verifies on Debian's other kernel, 6.12 (configure only)", { skip, timeout: 600_000 }, async () => {
  const r = await cli(["kernel", "config", "--verify", "--kernel-source", "debian", "--version", "6.12", "--json", "--quiet"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.match(j.version, /^6\.12\./);
  assert.deepEqual(j.dropped, []);
  console.log(`6.12 default config: ${j.requested} requested, ${j.yes} =y`);
});
