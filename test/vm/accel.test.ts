import { test } from "node:test";
import assert from "node:assert/strict";
import { type AccelChoice, chooseAccel } from "../../lib/vm/accel.ts";
import type { KvmProbeResult } from "../../lib/host/kvm-probe.ts";
import { memoryLogger } from "../../lib/util/log.ts";

const hung: KvmProbeResult = {
  usable: false,
  reason: "the test guest did not finish within 3 s",
  hint: "nested KVM does not work here; use --accel tcg",
  ms: 3000,
};

/** A probe that answers `result` and counts its calls. */
function fakeProbe(result: KvmProbeResult) {
  const calls: string[] = [];
  return {
    calls,
    probe: (qemu: string) => {
      calls.push(qemu);
      return Promise.resolve(result);
    },
  };
}

test("tcg is chosen without probing KVM", async () => {
  const { calls, probe } = fakeProbe({ usable: true, reason: "ok", ms: 10 });
  const log = memoryLogger();
  assert.equal(await chooseAccel("tcg", { qemu: "/usr/bin/qemu-system-x86_64", probe, log }), "tcg");
  assert.deepEqual(calls, []);
  assert.deepEqual(log.lines, []);
});

test("auto picks KVM when a probe guest really ran on it", async () => {
  const { calls, probe } = fakeProbe({ usable: true, reason: "the test guest finished in 40 ms", ms: 40 });
  const log = memoryLogger();
  assert.equal(await chooseAccel("auto", { qemu: "/usr/bin/qemu-system-x86_64", probe, log }), "kvm");
  assert.deepEqual(calls, ["/usr/bin/qemu-system-x86_64"]);
  assert.deepEqual(log.lines, []);
});

test("auto falls back to TCG with a warning that names the reason", async () => {
  const { probe } = fakeProbe(hung);
  const log = memoryLogger();
  assert.equal(await chooseAccel("auto", { qemu: "qemu", probe, log }), "tcg");
  assert.deepEqual(log.lines, [
    "warning: KVM is not usable here (the test guest did not finish within 3 s); booting with TCG, software emulation, which is several times slower",
  ]);
});

test("--accel kvm that cannot work is an error naming the reason and the next step", async () => {
  const { probe } = fakeProbe(hung);
  const log = memoryLogger();
  await assert.rejects(chooseAccel("kvm", { qemu: "qemu", probe, log }), {
    name: "VmSpecError",
    message: "--accel kvm cannot work on this host: the test guest did not finish within 3 s\n  → nested KVM does not work here; use --accel tcg",
  });
  assert.deepEqual(log.lines, []);
});

test("--accel kvm without a hint from the probe suggests TCG", async () => {
  const { probe } = fakeProbe({ usable: false, reason: "/dev/kvm does not exist", ms: 0 });
  await assert.rejects(chooseAccel("kvm", { qemu: "qemu", probe, log: memoryLogger() }), {
    message: "--accel kvm cannot work on this host: /dev/kvm does not exist\n  → use --accel tcg (or auto)",
  });
});

test("--accel kvm is used when KVM works", async () => {
  const { probe } = fakeProbe({ usable: true, reason: "ok", ms: 40 });
  assert.equal(await chooseAccel("kvm", { qemu: "qemu", probe, log: memoryLogger() }), "kvm");
});

test("an unknown accelerator is refused before anything is probed", async () => {
  const { calls, probe } = fakeProbe(hung);
  await assert.rejects(chooseAccel("xen" as AccelChoice, { qemu: "qemu", probe, log: memoryLogger() }), {
    message: "Unknown accelerator xen\n  → use auto, kvm or tcg",
  });
  assert.deepEqual(calls, []);
});
