/**
 * From high-level options to a ready {@linkcode MicroVM}: find QEMU and qboot,
 * choose the accelerator, build (or reuse) the default kernel and initramfs
 * when none is given, and turn shares into 9p devices plus the kernel
 * arguments the init template mounts them from.
 */
import { readFile } from "node:fs/promises";
import { type AccelChoice, chooseAccel } from "./accel.ts";
import { initramfs, type Initramfs } from "./build-initramfs.ts";
import { VmSpecError } from "./errors.ts";
import { hostTscKhz } from "./fast-boot.ts";
import { buildKernel, type KernelBuild } from "./kernel-build.ts";
import { DEFAULT_FEATURES } from "./kernel-fragments.ts";
import { type LockOptions, lockedKernel } from "./locked-artifacts.ts";
import { type Logger, stderrLogger } from "./log.ts";
import { type Disk, type MachineProps, MicroVM, type Net } from "./microvm.ts";
import { findQbootOrThrow, findQemuOrThrow } from "./qemu-host.ts";
import { checkKernelArg, parseCpus, parseMemory } from "./vm-values.ts";

/** A host directory to share, mounted in the guest at `mountpoint` (default /mnt/share, /mnt/share1, ...). */
export interface ShareOption {
  path: string;
  mountpoint?: string;
  readonly?: boolean;
}

/** Options of {@linkcode prepareVm}. */
export interface VmOptions {
  /** A bzImage path or a kernel build; default: build the default kernel (`kernelVersion`, `features`). */
  kernel?: string | KernelBuild;
  kernelVersion?: string;
  kernelSource?: string;
  features?: readonly string[];
  /** Whether a kernel given as a path has ACPI (a build says so itself). */
  kernelAcpi?: boolean;
  /** An initramfs path or build; default: the default initramfs. */
  initrd?: string | Initramfs;
  memory?: string | number;
  cpus?: number;
  append?: readonly string[];
  machine?: MachineProps;
  accel?: AccelChoice;
  disks?: readonly Disk[];
  net?: boolean | Net;
  shares?: readonly ShareOption[];
  /** Guest working directory for commands (default: the first share's mountpoint, else /). */
  cwd?: string;
  extraArgs?: readonly string[];
  /** The TCG boot tweaks (fast-boot.ts); default on. */
  fastBoot?: boolean;
  lock?: LockOptions;
  log?: Logger;
  quiet?: boolean;
  env?: Record<string, string | undefined>;
}

async function hasAcpi(k: KernelBuild): Promise<boolean> {
  return /^CONFIG_ACPI=y$/m.test(await readFile(k.config, "utf8").catch(() => ""));
}

/** The default kernel: the longterm release with the default features, built once and cached. */
export async function defaultKernel(o: VmOptions = {}): Promise<KernelBuild> {
  const log = o.log ?? stderrLogger({ quiet: o.quiet });
  const tarball = await lockedKernel(o.kernelVersion ?? "longterm", { source: o.kernelSource, log, quiet: o.quiet, env: o.env, lock: o.lock });
  return await buildKernel({ tarball, features: o.features ?? DEFAULT_FEATURES, log, quiet: o.quiet, env: o.env });
}

/** Build the VM `o` describes. */
export async function prepareVm(o: VmOptions = {}): Promise<MicroVM> {
  const log = o.log ?? stderrLogger({ quiet: o.quiet });
  const env = o.env ?? process.env;
  // Refuse bad values before any long work (kernel build, KVM probe).
  parseMemory(o.memory ?? 512);
  if (o.cpus !== undefined) parseCpus(o.cpus);
  (o.append ?? []).forEach(checkKernelArg);
  const qemu = await findQemuOrThrow({ env });
  const bios = await findQbootOrThrow(qemu, { env });
  const kernel = typeof o.kernel === "string" ? o.kernel : o.kernel ?? (await defaultKernel({ ...o, log }));
  const kernelAcpi = typeof kernel === "string" ? o.kernelAcpi ?? false : await hasAcpi(kernel);
  const initrd = typeof o.initrd === "string" ? o.initrd : o.initrd ?? (await initramfs({ log, env }));
  const accel = await chooseAccel(o.accel ?? ((env.MICROFORGE_ACCEL as AccelChoice | undefined) || "auto"), { qemu, log });
  const shares = (o.shares ?? []).map((s, i) => {
    const mountpoint = s.mountpoint ?? (i === 0 ? "/mnt/share" : `/mnt/share${i}`);
    if (!mountpoint.startsWith("/")) throw new VmSpecError(`Share mountpoint ${mountpoint} is not absolute`, "use a path like /mnt/src");
    return { path: s.path, tag: `share${i}`, readonly: s.readonly, mountpoint };
  });
  const cwd = o.cwd ?? shares[0]?.mountpoint;
  const append = [
    ...shares.map((s) => checkKernelArg(`microforge.mount=${s.tag}:${s.mountpoint}${s.readonly ? ":ro" : ""}`)),
    ...(cwd ? [checkKernelArg(`microforge.cwd=${cwd}`)] : []),
    ...(o.append ?? []),
  ];
  return new MicroVM({
    qemu,
    bios,
    kernel: typeof kernel === "string" ? kernel : kernel.bootImage ?? kernel.bzImage,
    kernelAcpi,
    initrd: typeof initrd === "string" ? initrd : initrd.path,
    accel,
    fastBoot: o.fastBoot,
    tscKhz: accel === "tcg" ? hostTscKhz() : undefined,
    memory: o.memory,
    cpus: o.cpus,
    append,
    machine: o.machine,
    disks: o.disks,
    net: o.net,
    shares: shares.map(({ path, tag, readonly }) => ({ path, tag, readonly })),
    extraArgs: o.extraArgs,
  });
}
