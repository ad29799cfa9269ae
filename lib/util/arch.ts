/**
 * The guest architectures microforge builds and boots, as data: how the
 * kernel build names each (ARCH, the cross compiler, the boot image), what
 * the guest calls itself (`uname -m`), Debian's name, the ELF machine of its
 * binaries, and the QEMU machine that boots it. Every stage reads these
 * records instead of branching on the name.
 */
import { arch as nodeArch } from "node:process";
import { UsageError } from "./errors.ts";

/** A guest architecture. */
export type Arch = "x86_64" | "arm64" | "riscv64";

/** Everything microforge needs to know about one architecture. */
export interface ArchInfo {
  name: Arch;
  /** What `uname -m` prints in the guest. */
  machine: string;
  /** Debian's architecture (`dpkg --print-architecture`, `busybox-static:arm64`). */
  debian: string;
  /** The ELF header's e_machine of its executables. */
  elfMachine: number;
  /** The kernel's `ARCH=`. */
  kernelArch: string;
  /** `CROSS_COMPILE=` on a host of another architecture, and the Debian package with that compiler. */
  crossCompile: string;
  crossPackage: string;
  /** The make target and where it leaves the boot image, relative to the O= directory. */
  makeTarget: string;
  imagePath: string;
  /** The QEMU system emulator and the Debian package that has it. */
  qemu: string;
  qemuPackage: string;
  /** The kernel's serial console device on that machine. */
  console: string;
}

/** The three architectures. */
export const ARCHES: Readonly<Record<Arch, ArchInfo>> = {
  x86_64: {
    name: "x86_64",
    machine: "x86_64",
    debian: "amd64",
    elfMachine: 62,
    kernelArch: "x86",
    crossCompile: "x86_64-linux-gnu-",
    crossPackage: "gcc-x86-64-linux-gnu",
    makeTarget: "bzImage",
    imagePath: "arch/x86/boot/bzImage",
    qemu: "qemu-system-x86_64",
    qemuPackage: "qemu-system-x86",
    console: "ttyS0",
  },
  arm64: {
    name: "arm64",
    machine: "aarch64",
    debian: "arm64",
    elfMachine: 183,
    kernelArch: "arm64",
    crossCompile: "aarch64-linux-gnu-",
    crossPackage: "gcc-aarch64-linux-gnu",
    makeTarget: "Image",
    imagePath: "arch/arm64/boot/Image",
    qemu: "qemu-system-aarch64",
    qemuPackage: "qemu-system-arm",
    console: "ttyAMA0",
  },
  riscv64: {
    name: "riscv64",
    machine: "riscv64",
    debian: "riscv64",
    elfMachine: 243,
    kernelArch: "riscv",
    crossCompile: "riscv64-linux-gnu-",
    crossPackage: "gcc-riscv64-linux-gnu",
    makeTarget: "Image",
    imagePath: "arch/riscv/boot/Image",
    qemu: "qemu-system-riscv64",
    qemuPackage: "qemu-system-misc",
    console: "ttyS0",
  },
};

/** Other names people use for each: `aarch64`, `amd64`, `x64`, `riscv`. */
const ALIASES: Record<string, Arch> = { x86_64: "x86_64", amd64: "x86_64", x64: "x86_64", arm64: "arm64", aarch64: "arm64", riscv64: "riscv64", riscv: "riscv64" };

/** The architecture of this host (what Node calls x64 is x86_64). */
export function hostArch(): Arch {
  return ALIASES[nodeArch] ?? "x86_64";
}

/** An `--arch` value (or an alias) as an {@linkcode Arch}. */
export function parseArch(value: string): Arch {
  const a = ALIASES[value.trim().toLowerCase()];
  if (!a) throw new UsageError(`Unknown architecture ${JSON.stringify(value)} (--arch)`, `use ${Object.keys(ARCHES).join(", ")}`);
  return a;
}

/** The record of `arch` (default: the host's). */
export function archInfo(arch: Arch = hostArch()): ArchInfo {
  return ARCHES[arch];
}

/** True when code for `arch` needs a cross compiler here. */
export function isCross(arch: Arch): boolean {
  return arch !== hostArch();
}

/** Debian releases without the architecture, and the first release that has it (riscv64 is official from Debian 13). */
const FIRST_RELEASE: Partial<Record<Arch, { suite: string; missingFrom: readonly string[] }>> = {
  riscv64: { suite: "trixie", missingFrom: ["buster", "bullseye", "bookworm"] },
};

/** The codename of the host's release (`VERSION_CODENAME` of /etc/os-release). */
function codename(osRelease: string): string | undefined {
  return /^VERSION_CODENAME=("?)([a-z]+)\1$/m.exec(osRelease)?.[2];
}

/** The Debian suite to take `arch`'s packages from when the host's release (per `osRelease`) has none of them; undefined when it has them. */
export function foreignSuite(arch: Arch, osRelease: string): string | undefined {
  const first = FIRST_RELEASE[arch];
  const host = codename(osRelease);
  return first && host && first.missingFrom.includes(host) ? first.suite : undefined;
}
