/**
 * A microVM as an immutable value built from a typed spec: QEMU's microvm
 * on x86_64, the `virt` machine on arm64 and riscv64 (see machines.ts).
 * `toArgv()` is pure; printing a command for people and running it both
 * start from that argv. Devices are data turned into argument lists.
 */
import { resolve } from "node:path";
import { VmSpecError } from "../util/errors.ts";
import { tcgBootTweaks } from "./fast-boot.ts";
import { checkKernelArg, checkTag, parseCpus, parseHostfwd, parseMemory, qemuValue } from "./values.ts";
import { type Arch, archInfo } from "../util/arch.ts";
import { machineFor } from "./machines.ts";
import { shellQuote } from "../util/shell-quote.ts";

/** microvm machine properties (`-M microvm,pit=off,...`); unset means QEMU's default. */
export interface MachineProps {
  pit?: boolean;
  pic?: boolean;
  rtc?: boolean;
  "isa-serial"?: boolean;
  acpi?: boolean;
  pcie?: boolean;
}

/** A virtio-blk disk. */
export interface Disk {
  path: string;
  readonly?: boolean;
  format?: "raw" | "qcow2";
}

/** User-mode networking with optional host port forwards ("8080:80" or "tcp::8080-:80"). */
export interface Net {
  hostfwd?: readonly string[];
}

/** A host directory shared over virtio-9p. */
export interface Share {
  path: string;
  tag: string;
  readonly?: boolean;
}

/** A virtio-serial port connected to a unix socket the host listens on. */
export interface Port {
  name: string;
  socket: string;
}

/** Everything that describes a microVM. */
export interface MicroVMSpec {
  /** The guest architecture (default x86_64): which QEMU machine boots it (see machines.ts). */
  arch?: Arch;
  kernel: string;
  initrd?: string;
  /** qboot.rom (see `findQboot`): x86_64's microvm needs it; the other machines have their own firmware. */
  bios?: string;
  qemu?: string;
  /** 512, "512M", "1G" (default 512 MiB). */
  memory?: string | number;
  cpus?: number;
  /** "kvm" or "tcg" (choose with `chooseAccel`); default tcg. */
  accel?: "kvm" | "tcg";
  /** Whether the kernel has ACPI; without it the machine's ACPI is off too, so QEMU passes virtio-mmio devices on the command line. */
  kernelAcpi?: boolean;
  /** Extra kernel arguments, one per entry. */
  append?: readonly string[];
  /** Add the TCG boot tweaks of fast-boot.ts (default true; only for one vCPU under TCG). */
  fastBoot?: boolean;
  /** The host TSC rate in kHz (`hostTscKhz()`), for the `tsc_early_khz` tweak under TCG. */
  tscKhz?: number;
  /** Pass `quiet`: the kernel prints only warnings on the console (scripted runs use it). */
  quiet?: boolean;
  machine?: MachineProps;
  disks?: readonly Disk[];
  net?: Net | boolean;
  shares?: readonly Share[];
  ports?: readonly Port[];
  /** Where the serial console goes (default "mon:stdio", as the blog has it). */
  serial?: string;
  /** Start from the VM state saved in this file (`-incoming exec:cat FILE`) instead of booting; the rest of the argv must be the saved VM's. */
  incoming?: string;
  /** Serve QEMU's machine protocol on this unix socket (`-qmp unix:PATH,server=on,wait=off`; see qmp.ts). */
  qmp?: string;
  /** Raw QEMU arguments, appended last: the escape hatch. */
  extraArgs?: readonly string[];
  /** The kernel's vmlinux and source tree, to decode a panic's stack trace (not part of the argv). */
  symbols?: KernelSymbols;
}

/** Where a VM's kernel symbols are: its vmlinux and, when known, its source tree. */
export interface KernelSymbols {
  vmlinux: string;
  tree?: string;
}

/** The blog's kernel command line (x86_64's machine's). */
export const BASE_CMDLINE: readonly string[] = machineFor("x86_64").cmdline;

const onOff = (b: boolean) => (b ? "on" : "off");

/** An immutable microVM; `with()` returns a changed copy. */
export class MicroVM {
  /** The validated spec, frozen. */
  readonly spec: Readonly<MicroVMSpec>;
  /** Memory in MiB. */
  readonly memoryMiB: number;

  constructor(spec: MicroVMSpec) {
    if (!spec.kernel) throw new VmSpecError("A microVM needs a kernel", "pass the bzImage path");
    if (!spec.bios && machineFor(spec.arch).needsBios) throw new VmSpecError("A microVM needs the qboot firmware", "pass its path (findQboot finds it)");
    if (spec.machine && !machineFor(spec.arch).microvmProps) throw new VmSpecError(`--machine sets properties of x86_64's microvm, not of the ${spec.arch} virt machine`, "leave out --machine for this architecture");
    this.memoryMiB = parseMemory(spec.memory ?? 512);
    if (spec.cpus !== undefined) parseCpus(spec.cpus);
    (spec.append ?? []).forEach(checkKernelArg);
    (spec.shares ?? []).forEach((s) => checkTag(s.tag, "9p mount tag"));
    (spec.ports ?? []).forEach((p) => checkTag(p.name, "virtio-serial port name"));
    (typeof spec.net === "object" ? spec.net.hostfwd ?? [] : []).forEach(parseHostfwd);
    const abs = (p: string) => resolve(p);
    // Copy and freeze every nested list and object: a caller that later changes its own array must not change this VM (or skip validation).
    const list = <T>(items: readonly T[] | undefined, each: (item: T) => T = (x) => x) => items && Object.freeze(items.map((x) => Object.freeze(each(x))));
    this.spec = Object.freeze({
      ...spec,
      kernel: abs(spec.kernel),
      initrd: spec.initrd && abs(spec.initrd),
      bios: spec.bios && abs(spec.bios),
      append: list(spec.append),
      machine: spec.machine && Object.freeze({ ...spec.machine }),
      net: typeof spec.net === "object" ? Object.freeze({ ...spec.net, hostfwd: list(spec.net.hostfwd) }) : spec.net,
      disks: list(spec.disks, (d) => ({ ...d, path: abs(d.path) })),
      shares: list(spec.shares, (s) => ({ ...s, path: abs(s.path) })),
      ports: list(spec.ports, (p) => ({ ...p, socket: abs(p.socket) })),
      incoming: spec.incoming && abs(spec.incoming),
      qmp: spec.qmp && abs(spec.qmp),
      extraArgs: list(spec.extraArgs),
      symbols: spec.symbols && Object.freeze({ vmlinux: abs(spec.symbols.vmlinux), ...(spec.symbols.tree ? { tree: abs(spec.symbols.tree) } : {}) }),
    });
  }

  /** A copy with `patch` applied. */
  with(patch: Partial<MicroVMSpec>): MicroVM {
    return new MicroVM({ ...this.spec, ...patch });
  }

  /** The machine option: x-option-roms off, RTC off only with KVM, ACPI off for a non-ACPI kernel. */
  machineOption(): string {
    const s = this.spec;
    const kvm = s.accel === "kvm";
    // Without KVM's kvmclock the guest polls the missing RTC for up to 1 s (measured: 1.8 s vs 0.76 s boots under TCG).
    const props: MachineProps = { rtc: kvm ? false : undefined, acpi: s.kernelAcpi ? undefined : false, ...s.machine };
    const list = Object.entries(props).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${onOff(v as boolean)}`);
    return ["microvm", "x-option-roms=off", ...list, ...(kvm ? [] : ["accel=tcg"])].join(",");
  }

  /**
   * The kernel command line: the machine's (the blog's on x86_64), `acpi=off` for a non-ACPI x86 kernel, the TCG tweaks, `quiet`, then `append`.
   * With virtio-serial ports, `microforge.ports=N` ends it: the guest's driver adds the ports after /init has started, and
   * microforge's /init waits for that many before it looks for a scripted run's (without the wait, 3 warm runs in 130 here went on without them).
   */
  cmdline(): string {
    const s = this.spec;
    const ports = s.ports?.length ? [`microforge.ports=${s.ports.length}`] : [];
    if (machineFor(s.arch).arch !== "x86_64") return [...machineFor(s.arch).cmdline, ...(s.quiet ? ["quiet"] : []), ...(s.append ?? []), ...ports].join(" ");
    const acpi = s.kernelAcpi ? [] : ["acpi=off"];
    // The tweaks are measured on one vCPU; an SMP guest keeps the kernel's own timer setup.
    const tweaks = s.accel !== "kvm" && s.fastBoot !== false && (s.cpus ?? 1) === 1 ? tcgBootTweaks(s.tscKhz, { acpi: s.kernelAcpi }).map((t) => t.arg) : [];
    const [console, ...rest] = BASE_CMDLINE;
    return [console, ...acpi, ...rest, ...tweaks, ...(s.quiet ? ["quiet"] : []), ...(s.append ?? []), ...ports].join(" ");
  }

  /** The device arguments, in a fixed order (disks, network, shares, serial ports). */
  deviceArgs(): string[] {
    const s = this.spec;
    const args: string[] = [];
    s.disks?.forEach((d, i) => {
      const ro = d.readonly ? ",readonly=on" : "";
      args.push("-drive", `id=disk${i},file=${qemuValue(d.path)},format=${d.format ?? "raw"},if=none${ro}`, "-device", `virtio-blk-device,drive=disk${i}`);
    });
    if (s.net) {
      const fwd = (typeof s.net === "object" ? s.net.hostfwd ?? [] : []).map((f) => `,hostfwd=${parseHostfwd(f)}`).join("");
      args.push("-netdev", `user,id=net0${fwd}`, "-device", "virtio-net-device,netdev=net0");
    }
    s.shares?.forEach((sh, i) => {
      const ro = sh.readonly ? ",readonly=on" : "";
      args.push("-fsdev", `local,id=fs${i},path=${qemuValue(sh.path)},security_model=none${ro}`, "-device", `virtio-9p-device,fsdev=fs${i},mount_tag=${sh.tag}`);
    });
    if (s.ports?.length) {
      args.push("-device", "virtio-serial-device");
      s.ports.forEach((p, i) => {
        args.push("-chardev", `socket,id=port${i},path=${qemuValue(p.socket)}`, "-device", `virtserialport,chardev=port${i},name=${p.name}`);
      });
    }
    return args;
  }

  /** The full QEMU argv (pure). */
  toArgv(): string[] {
    const s = this.spec;
    return [
      s.qemu ?? archInfo(s.arch).qemu,
      ...machineFor(s.arch).args({ accel: s.accel ?? "tcg", microvmOption: () => this.machineOption(), bios: s.bios }),
      "-m", String(this.memoryMiB),
      ...(s.cpus && s.cpus > 1 ? ["-smp", String(s.cpus)] : []),
      "-nographic", "-nodefaults", "-no-user-config", "-no-reboot",
      "-serial", s.serial ?? "mon:stdio",
      "-append", this.cmdline(),
      "-kernel", s.kernel,
      ...(s.initrd ? ["-initrd", s.initrd] : []),
      ...this.deviceArgs(),
      ...(s.qmp ? ["-qmp", `unix:${qemuValue(s.qmp)},server=on,wait=off`] : []),
      // QEMU runs an exec: URI through /bin/sh -c.
      ...(s.incoming ? ["-incoming", `exec:cat ${shellQuote(s.incoming)}`] : []),
      ...(s.extraArgs ?? []),
    ];
  }
}
