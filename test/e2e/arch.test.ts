/**
 * arm64 and riscv64 guests on this x86_64 host, for real: each kernel
 * cross-built from Debian's linux-source-6.1 with Debian's cross compiler,
 * busybox from Debian for that architecture, booted under TCG on QEMU's
 * virt machine. Scripted runs keep their guarantees (the exit status, split
 * streams); a dropped symbol is a KconfigError; emit's script and a test
 * matrix with an architecture axis work the same.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import { runProcess } from "../../lib/util/process.ts";
import type { TestReport } from "../../lib/run/test-report.ts";
import { cli, onDeno, tempDir } from "../helpers.ts";

const skip = onDeno ? "cross-builds and boots real VMs from the CLI; runs under Node" : false;
const KERNEL = ["--kernel-source", "debian", "--kernel-version", "6.1", "--accel", "tcg"];

for (const [arch, machine] of [["arm64", "aarch64"], ["riscv64", "riscv64"]] as const) {
  test(`${arch}: uname -m is ${machine}; exit 5 with stdout and stderr apart; a dropped symbol is a KconfigError`, { skip, timeout: 60 * 60_000 }, async () => {
    const r = await cli(["run", "--quiet", "--arch", arch, ...KERNEL, "--", "uname", "-m"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${machine}\n`);
    const split = await cli(["run", "--quiet", "--arch", arch, ...KERNEL, "--", "sh", "-c", "echo o; echo e >&2; exit 5"]);
    assert.equal(split.code, 5, split.stderr);
    assert.equal(split.stdout, "o\n");
    assert.match(split.stderr, /^e\n/m);
    assert.doesNotMatch(split.stderr, /Linux version|Booting Linux/);
    // DRM_VIRTIO_GPU depends on DRM, which nothing turns on: verification refuses the build before make.
    const dropped = await cli(["run", "--quiet", "--arch", arch, ...KERNEL, "--set", "CONFIG_DRM_VIRTIO_GPU=y", "--", "true"]);
    assert.equal(dropped.code, 1, dropped.stderr);
    assert.match(dropped.stderr, /Kernel config dropped 1 requested symbol:\n {2}CONFIG_DRM_VIRTIO_GPU=y was requested but is not set: .*DRM/);
  });

  test(`${arch}: --package jq takes the guest's architecture; a host binary of another is refused before QEMU`, { skip, timeout: 30 * 60_000 }, async () => {
    const jq = await cli(["run", "--quiet", "--arch", arch, ...KERNEL, "--package", "jq", "--", "jq", "-n", "6*7"]);
    assert.equal(jq.code, 0, jq.stderr);
    assert.equal(jq.stdout, "42\n");
    const host = await cli(["run", "--quiet", "--arch", arch, ...KERNEL, "--binary", "/usr/bin/strace", "--", "strace", "-V"]);
    assert.equal(host.code, 2, host.stderr);
    assert.match(host.stderr, new RegExp(`/usr/bin/strace is a 64-bit x86_64 ELF file, not ${arch}`));
  });
}

test("emit --arch arm64 --script -- uname -m, run by sh with stdin closed, prints aarch64 and ends", { skip, timeout: 30 * 60_000 }, async () => {
  const r = await cli(["emit", "--quiet", "--arch", "arm64", ...KERNEL, "--script", "--", "uname", "-m"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /qemu-system-aarch64 \\\n {2}-M virt,accel=tcg \\\n {2}-cpu max/);
  const script = join(await tempDir("emit-arm64-"), "vm.sh");
  await writeFile(script, r.stdout);
  const ran = await runProcess(["sh", script], { input: "", nothrow: true, timeoutMs: 120_000 });
  assert.equal(ran.code, 0, ran.stderr);
  assert.match(ran.stdout, /^aarch64\r?$/m);
});

test("test --arch x86_64,arm64 -- true: a cell per architecture, both passing", { skip, timeout: 60 * 60_000 }, async () => {
  const r = await cli(["test", "--quiet", "--arch", "x86_64,arm64", "--kernels", "6.1", "--kernel-source", "debian", "--accel", "tcg", "--json", "--", "uname", "-m"]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as TestReport;
  assert.equal(report.total, 2);
  assert.deepEqual(report.cells.map((c) => [c.id, c.arch, c.status, c.stdoutTail]), [
    ["x86_64/6.1/default#1", "x86_64", "passed", "x86_64"],
    ["arm64/6.1/default#1", "arm64", "passed", "aarch64"],
  ]);
  assert.notEqual(report.cells[0].kernel.configHash, report.cells[1].kernel.configHash);
});
