import { test } from "node:test";
import assert from "node:assert/strict";
import { hostTscKhz, tcgBootTweaks } from "../../lib/vm/fast-boot.ts";

const files = (map: Record<string, string>) => (path: string) => {
  if (path in map) return map[path];
  throw new Error(`ENOENT: ${path}`);
};
const cpuinfo = (flags: string, mhz: string) => `processor\t: 0\ncpu MHz\t\t: ${mhz}\nflags\t\t: fpu tsc ${flags}\n\nprocessor\t: 1\ncpu MHz\t\t: 1.000\nflags\t\t: fpu\n`;

test("the host TSC rate comes from sysfs first", () => {
  assert.equal(hostTscKhz(files({ "/sys/devices/system/cpu/cpu0/tsc_freq_khz": "2995200\n", "/proc/cpuinfo": cpuinfo("hypervisor", "2596.150") })), 2995200);
});

test("inside a VM, cpuinfo's cpu MHz of the first CPU is the TSC rate", () => {
  assert.equal(hostTscKhz(files({ "/proc/cpuinfo": cpuinfo("sse2 hypervisor lahf_lm", "2596.150") })), 2596150);
});

test("on bare metal cpu MHz follows frequency scaling, so no rate is claimed", () => {
  assert.equal(hostTscKhz(files({ "/proc/cpuinfo": cpuinfo("sse2 constant_tsc", "800.000") })), undefined);
});

test("nonsense or missing rates give undefined", () => {
  assert.equal(hostTscKhz(files({})), undefined);
  assert.equal(hostTscKhz(files({ "/proc/cpuinfo": cpuinfo("hypervisor", "0.000") })), undefined);
  assert.equal(hostTscKhz(files({ "/sys/devices/system/cpu/cpu0/tsc_freq_khz": "garbage" })), undefined);
});

test("every tweak says why; tsc_early_khz only with a rate and an ACPI kernel, noapictimer only without ACPI", () => {
  assert.deepEqual(tcgBootTweaks().map((t) => t.arg), ["noapictimer"]);
  assert.deepEqual(tcgBootTweaks(2596150).map((t) => t.arg), ["noapictimer"]);
  assert.deepEqual(tcgBootTweaks(undefined, { acpi: true }).map((t) => t.arg), []);
  assert.deepEqual(tcgBootTweaks(2596150, { acpi: true }).map((t) => t.arg), ["tsc_early_khz=2596150"]);
  for (const t of [...tcgBootTweaks(1, { acpi: true }), ...tcgBootTweaks(1)]) assert.ok(t.why.length > 20, t.arg);
});
