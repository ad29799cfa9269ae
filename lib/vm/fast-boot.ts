/**
 * Kernel arguments that shorten boots under TCG, each kept because
 * `npm run bench -- --only boot` showed it helps here (figures in
 * bench/results.md), and the host TSC frequency one of them needs.
 *
 * Under KVM none of these is needed: the TSC-deadline timer skips the APIC
 * timer calibration and the TSC calibrates from CPUID.
 */
import { readFileSync } from "node:fs";

/** One boot tweak: the kernel argument and why it is there. */
export interface BootTweak {
  arg: string;
  why: string;
}

/**
 * The TCG tweaks. `tscKhz` is the host TSC frequency (TCG's guest TSC is the
 * host's), without which `tsc_early_khz` is left out; it is only added for
 * ACPI kernels, and `noapictimer` only for kernels without ACPI.
 */
export function tcgBootTweaks(tscKhz?: number, o: { acpi?: boolean } = {}): BootTweak[] {
  return [
    // Not for ACPI kernels: Debian's cloud kernel with it hung at `reboot -f` in 3 of 3 boots.
    ...(o.acpi ? [] : [{
      arg: "noapictimer",
      why: "the local APIC timer calibration polls for 100 jiffies, about 200 ms under TCG; the PIT serves as the tick instead",
    }]),
    // No faster for kernels without ACPI (measured), so only where it prevents hangs.
    ...(tscKhz && o.acpi
      ? [{
        arg: `tsc_early_khz=${tscKhz}`,
        why: "early TSC calibration against the PIT fails at random under TCG, and an ACPI kernel then hangs (0 hangs in 20 boots with it)",
      }]
      : []),
  ];
}

/**
 * The host's TSC frequency in kHz, or undefined when it cannot be known for
 * sure: from `tsc_freq_khz` in sysfs when the kernel exports it, else from
 * /proc/cpuinfo's "cpu MHz" only inside a VM (flag `hypervisor`, where that
 * line is the TSC rate and does not follow frequency scaling).
 */
export function hostTscKhz(read: (path: string) => string = (p) => readFileSync(p, "utf8")): number | undefined {
  const text = (path: string) => {
    try {
      return read(path);
    } catch {
      return "";
    }
  };
  const sysfs = Number.parseInt(text("/sys/devices/system/cpu/cpu0/tsc_freq_khz"), 10);
  if (sysfs > 0) return sysfs;
  const cpuinfo = text("/proc/cpuinfo");
  const first = cpuinfo.split(/\n\s*\n/)[0] ?? "";
  if (!/^flags\s*:.*\bhypervisor\b/m.test(first)) return undefined;
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(first);
  const khz = mhz ? Math.round(Number(mhz[1]) * 1000) : 0;
  // Anything outside 100 MHz–10 GHz is not a TSC rate.
  return khz >= 100_000 && khz <= 10_000_000 ? khz : undefined;
}
