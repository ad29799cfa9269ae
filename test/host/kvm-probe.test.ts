import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import type { RunOptions, RunResult } from "../../lib/util/process.ts";
import { findOnPath } from "../../lib/util/find-on-path.ts";
import { kvmProbeArgv, kvmProbeFirmware, PROBE_LOOPS, probeKvm } from "../../lib/host/kvm-probe.ts";

const qemu = await findOnPath("qemu-system-x86_64");
const noQemu = !qemu && "qemu-system-x86_64 is not installed (microforge doctor --fix)";

function errno(code: string): Error {
  return Object.assign(new Error(code), { code });
}

/** A runner that records its calls, checks the firmware file while "QEMU" runs, and answers `result`. */
function fakeQemu(result: Partial<RunResult>) {
  const calls: { argv: readonly string[]; options?: RunOptions; firmware: Uint8Array }[] = [];
  const run = (argv: readonly string[], options?: RunOptions): Promise<RunResult> => {
    const firmware = new Uint8Array(readFileSync(argv[argv.indexOf("-bios") + 1]));
    calls.push({ argv, options, firmware });
    return Promise.resolve({ code: null, signal: null, stdout: "", stderr: "", ...result });
  };
  return { run, calls };
}

const opens = () => Promise.resolve();

test("the probe firmware is 64 KiB with a far jump at the reset vector and the loop count inside", () => {
  const fw = kvmProbeFirmware(1234);
  assert.equal(fw.length, 0x10000);
  assert.deepEqual([...fw.subarray(0xfff0, 0xfff6)], [0xfa, 0xea, 0x00, 0x00, 0x00, 0xf0]); // cli; ljmp F000:0000
  assert.equal(new DataView(fw.buffer).getUint32(0x7f, true), 1234);
  assert.equal(new DataView(kvmProbeFirmware().buffer).getUint32(0x7f, true), PROBE_LOOPS);
  assert.throws(() => kvmProbeFirmware(0), RangeError);
});

test("the probe boots a microvm with KVM, the firmware and isa-debug-exit", async () => {
  const { run, calls } = fakeQemu({ code: 99 });
  const result = await probeKvm({ qemu: "/q/qemu", run, openDevice: opens, timeoutMs: 1500 });
  assert.equal(result.usable, true);
  assert.match(result.reason, /test guest ran in long mode with kvm/);
  const { argv, options, firmware } = calls[0];
  assert.equal(argv[0], "/q/qemu");
  assert.deepEqual(argv.slice(argv.indexOf("-M"), argv.indexOf("-M") + 2), ["-M", "microvm,accel=kvm"]);
  assert.ok(argv.includes("isa-debug-exit,iobase=0xf4,iosize=0x04"));
  assert.deepEqual(firmware, kvmProbeFirmware());
  assert.equal(options?.timeoutMs, 1500);
  assert.equal(options?.nothrow, true);
  assert.equal(existsSync(argv[argv.indexOf("-bios") + 1]), false, "the temp firmware is removed afterwards");
});

test("a guest that never reports is 'not usable' with the timeout and a nested-KVM hint", async () => {
  const { run } = fakeQemu({ signal: "SIGKILL" });
  const result = await probeKvm({ qemu: "q", run, openDevice: opens, timeoutMs: 2000 });
  assert.equal(result.usable, false);
  assert.match(result.reason, /did not finish within 2 s/);
  assert.match(result.hint ?? "", /nested virtualization/);
});

test("an unreadable /dev/kvm is 'not usable' with EACCES and the kvm group, without starting QEMU", async () => {
  const { run, calls } = fakeQemu({ code: 99 });
  const result = await probeKvm({ qemu: "q", run, openDevice: () => Promise.reject(errno("EACCES")) });
  assert.equal(result.usable, false);
  assert.equal(result.reason, "cannot open /dev/kvm: EACCES");
  assert.match(result.hint ?? "", /usermod -aG kvm/);
  assert.equal(calls.length, 0);
});

test("a missing /dev/kvm says so and how to enable virtualization", async () => {
  const result = await probeKvm({ qemu: "q", run: fakeQemu({}).run, openDevice: () => Promise.reject(errno("ENOENT")) });
  assert.equal(result.reason, "/dev/kvm does not exist");
  assert.match(result.hint ?? "", /kvm_intel or kvm_amd/);
});

test("another QEMU exit status is 'not usable' and quotes QEMU's error, not its warnings", async () => {
  const stderr = "qemu-system-x86_64: warning: host doesn't support requested feature\nqemu-system-x86_64: failed to initialize kvm: Permission denied\n";
  const result = await probeKvm({ qemu: "q", run: fakeQemu({ code: 1, stderr }).run, openDevice: opens });
  assert.equal(result.usable, false);
  assert.equal(result.reason, "QEMU exited with status 1 under kvm: qemu-system-x86_64: failed to initialize kvm: Permission denied");
});

test("a QEMU that cannot be spawned is 'not usable', not a crash", async () => {
  const run = () => Promise.reject(errno("ENOENT"));
  const result = await probeKvm({ qemu: "/nope/qemu", run, openDevice: opens });
  assert.equal(result.usable, false);
  assert.match(result.reason, /cannot run \/nope\/qemu/);
});

test("the same probe under real QEMU with TCG exits 99: the probe can succeed", { skip: noQemu }, async () => {
  const result = await probeKvm({ qemu: qemu!, accel: "tcg", timeoutMs: 20_000 });
  assert.equal(result.usable, true, result.reason);
});

test("a guest slower than the timeout under real QEMU is 'not usable': the probe can fail", { skip: noQemu }, async () => {
  // 2^32-1 iterations take ~15 s under TCG; the 1 s limit must cut it off.
  const result = await probeKvm({ qemu: qemu!, accel: "tcg", timeoutMs: 1000, loops: 0xffffffff });
  assert.equal(result.usable, false);
  assert.match(result.reason, /did not finish within 1 s/);
});

test("the probe argv is plain argv, one option per element", () => {
  assert.deepEqual(kvmProbeArgv("qemu", "/tmp/p.rom", "tcg"), [
    "qemu", "-M", "microvm,accel=tcg", "-nodefaults", "-no-user-config", "-nographic", "-display", "none",
    "-m", "16", "-bios", "/tmp/p.rom", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
  ]);
});
