import { test } from "node:test";
import assert from "node:assert/strict";
import { probeKvmCached } from "../../lib/host/kvm-verdict.ts";
import type { KvmProbeResult } from "../../lib/host/kvm-probe.ts";
import { tempDir } from "../helpers.ts";

test("the KVM verdict is probed once per host boot and QEMU binary", async () => {
  const cacheDir = await tempDir("kvm-");
  let probes = 0;
  const probe = (): Promise<KvmProbeResult> => {
    probes++;
    return Promise.resolve({ usable: false, reason: "the test guest did not finish within 3 s", ms: 3000 });
  };
  let boot = "boot-a";
  const deps = { qemu: process.execPath, cacheDir, probe, bootId: () => Promise.resolve(boot) };
  const first = await probeKvmCached(deps);
  assert.equal(first.cached, false);
  const second = await probeKvmCached(deps);
  assert.deepEqual({ ...second, cached: false }, first);
  assert.equal(second.cached, true);
  assert.equal(probes, 1);
  boot = "boot-b"; // the host rebooted
  assert.equal((await probeKvmCached(deps)).cached, false);
  assert.equal(probes, 2);
  await probeKvmCached({ ...deps, qemu: "/bin/sh" }); // another QEMU binary
  assert.equal(probes, 3);
});
