/**
 * The QEMU machine of each guest architecture, as data: the `-M` option,
 * the CPU, the firmware and the kernel arguments the machine needs. x86_64
 * boots QEMU's microvm with qboot; arm64 and riscv64 boot the `virt`
 * machine, whose device tree describes the UART and the virtio-mmio slots
 * the same `-device virtio-*-device` arguments fill.
 */
import type { Arch } from "../util/arch.ts";
import { archInfo } from "../util/arch.ts";

/** What a machine's arguments depend on. */
export interface MachineInput {
  accel: "kvm" | "tcg";
  /** microvm's `-M` option, built by MicroVM from its properties (x86_64 only). */
  microvmOption: () => string;
  /** qboot, for microvm. */
  bios?: string;
}

/** One architecture's machine. */
export interface Machine {
  arch: Arch;
  /** Needs qboot (`-bios`), which only x86_64's microvm boots from. */
  needsBios: boolean;
  /** `-M ...`, the CPU and the firmware. */
  args(m: MachineInput): string[];
  /** Kernel arguments every boot of this machine gets, before the TCG tweaks and the user's. */
  cmdline: readonly string[];
  /** microvm properties (`--machine pit=off`) apply (x86_64 only). */
  microvmProps: boolean;
  /** How `reboot -f` in the guest ends QEMU, for the emitted command's comments. */
  powerOff: string;
  /** What the emitted command's comments say about this machine's choices. */
  notes(o: { accel: "kvm" | "tcg"; kernelAcpi?: boolean }): string[];
}

const accelProp = (accel: "kvm" | "tcg") => (accel === "kvm" ? "accel=kvm" : "accel=tcg");

/** The machines by architecture. */
export const MACHINES: Readonly<Record<Arch, Machine>> = {
  x86_64: {
    arch: "x86_64",
    needsBios: true,
    microvmProps: true,
    args: (m) => ["-M", m.microvmOption(), ...(m.accel === "kvm" ? ["-enable-kvm", "-cpu", "host"] : []), "-bios", m.bios ?? ""],
    // reboot=t: `reboot -f` triple-faults, and QEMU's -no-reboot then exits.
    // no_timer_check: microvm's PIT always reaches the IO-APIC, so the kernel's
    // check of that route is only a 4-jiffy wait (16 ms at HZ=250): 6% faster
    // boots to /init under TCG, repeated (`npm run bench:boot -- --ablation`).
    cmdline: [`console=${archInfo("x86_64").console}`, "reboot=t", "panic=-1", "init=/init", "no_timer_check"],
    powerOff: "reboot=t with -no-reboot",
    notes: (o) => [
      o.accel === "kvm"
        ? "KVM: rtc=off (the guest has kvmclock; the RTC probe would only cost time)."
        : "TCG: the RTC stays on; with rtc=off and no kvmclock the kernel stalls up to 1 s looking for it.",
      ...(o.kernelAcpi ? [] : ["The kernel has no ACPI: machine acpi=off makes QEMU pass virtio-mmio devices on the kernel command line."]),
    ],
  },
  arm64: {
    arch: "arm64",
    needsBios: false,
    microvmProps: false,
    // -cpu max under TCG: every feature QEMU emulates, so any arm64 binary runs.
    args: (m) => ["-M", `virt,${accelProp(m.accel)}`, "-cpu", m.accel === "kvm" ? "host" : "max"],
    cmdline: [`console=${archInfo("arm64").console}`, "panic=-1", "init=/init"],
    powerOff: "a PSCI system reset with -no-reboot",
    notes: (o) => [`arm64 on QEMU's virt machine${o.accel === "kvm" ? " with KVM" : " under TCG (-cpu max)"}: the device tree describes the PL011 console (ttyAMA0) and the virtio-mmio slots.`],
  },
  riscv64: {
    arch: "riscv64",
    needsBios: false,
    microvmProps: false,
    // QEMU's default firmware for virt is OpenSBI (qemu-system-data's opensbi-riscv64-generic-fw_dynamic.bin).
    args: (m) => ["-M", `virt,${accelProp(m.accel)}`, "-bios", "default"],
    cmdline: [`console=${archInfo("riscv64").console}`, "panic=-1", "init=/init"],
    powerOff: "an SBI system reset with -no-reboot",
    notes: () => ["riscv64 on QEMU's virt machine with OpenSBI: the device tree describes the 8250 console (ttyS0) and the virtio-mmio slots."],
  },
};

/** The machine of `arch` (default x86_64). */
export function machineFor(arch: Arch = "x86_64"): Machine {
  return MACHINES[arch];
}
