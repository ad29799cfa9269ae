/**
 * From high-level options to a ready {@linkcode MicroVM}: find QEMU and qboot,
 * choose the accelerator, and turn shares into 9p devices plus the kernel
 * arguments the init template mounts them from. The kernel and initramfs are
 * given; building default ones is the recipe stage's (recipe/defaults.ts).
 */
import { readFile, stat } from "node:fs/promises";
import { fileKind } from "../util/file-kind.ts";
import { dirname, resolve } from "node:path";
import { type AccelChoice, chooseAccel } from "./accel.ts";
import type { Initramfs } from "../initramfs/build.ts";
import { VmSpecError } from "../util/errors.ts";
import { hostTscKhz } from "./fast-boot.ts";
import type { KernelBuild } from "../kernel/build.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import { type Disk, type KernelSymbols, type MachineProps, MicroVM, type Net } from "./microvm.ts";
import { findQbootOrThrow, findQemuOrThrow } from "../host/qemu.ts";
import { checkKernelArg, parseCpus, parseMemory } from "./values.ts";
import { machineFor } from "./machines.ts";
import { type Arch, hostArch } from "../util/arch.ts";

/** The 9p tag of the host's root under `hostRoot` (the init template mounts it from `microforge.root=TAG`). */
export const HOST_ROOT_TAG = "hostroot";

/** A host directory to share, mounted in the guest at `mountpoint` (default /mnt/share, /mnt/share1, ...). */
export interface ShareOption {
  path: string;
  mountpoint?: string;
  readonly?: boolean;
}

/** Options of {@linkcode prepareVm}: the VM's kernel, initramfs, size and devices. */
export interface VmOptions {
  /** The guest architecture (default x86_64): its QEMU machine, and the kernel and busybox built for it. */
  arch?: Arch;
  /** A bzImage / vmlinux path or a kernel build. */
  kernel?: string | KernelBuild;
  /** Whether a kernel given as a path has ACPI (a build says so itself). */
  kernelAcpi?: boolean;
  /** An initramfs path or build. */
  initrd?: string | Initramfs;
  /** The QEMU binary and qboot firmware, when the caller has found them already (each lookup runs `qemu -L help`). */
  qemu?: string;
  bios?: string;
  memory?: string | number;
  cpus?: number;
  append?: readonly string[];
  machine?: MachineProps;
  accel?: AccelChoice;
  disks?: readonly Disk[];
  net?: boolean | Net;
  shares?: readonly ShareOption[];
  /**
   * The host's root filesystem as the guest's (`--host-root`): `/` shared
   * read-only over 9p, under a tmpfs overlay for the guest's writes; commands
   * run chrooted into it. Shares then default to their host path, mounted
   * over it (read-write unless `readonly`). The kernel needs 9p and overlayfs
   * (the `9p` feature has both).
   */
  hostRoot?: boolean;
  /** Guest working directory for commands (default: the first share's mountpoint, else /). */
  cwd?: string;
  extraArgs?: readonly string[];
  /** The TCG boot tweaks (fast-boot.ts); default on. */
  fastBoot?: boolean;
  log?: Logger;
  quiet?: boolean;
  env?: Record<string, string | undefined>;
}

async function hasAcpi(k: KernelBuild): Promise<boolean> {
  return /^CONFIG_ACPI=y$/m.test(await readFile(k.config, "utf8").catch(() => ""));
}

/** Why `path` does not exist: itself, or its nearest missing parent directory. */
async function missing(path: string): Promise<string> {
  let gone = path;
  for (let up = dirname(path); up !== gone && !(await stat(up).then(() => true, () => false)); up = dirname(up)) gone = up;
  return gone === path ? `${path} does not exist` : `${path} does not exist (there is no ${gone})`;
}

/** Refuse a path QEMU could not use as `what`, before any long work; a FIFO would block QEMU forever. */
async function checkPath(path: string, what: string, want: "file" | "dir" | "disk", hint: string): Promise<void> {
  const s = await stat(path).catch((err: NodeJS.ErrnoException) => err);
  if (s instanceof Error) {
    const why = s.code === "ENOENT" || s.code === "ENOTDIR" ? await missing(path) : `${path} cannot be read: ${s.message}`;
    throw new VmSpecError(`${what} ${why}`, hint);
  }
  const ok = want === "dir" ? s.isDirectory() : s.isFile() || (want === "disk" && s.isBlockDevice());
  if (!ok) throw new VmSpecError(`${what} ${path} is ${fileKind(s)}, not ${want === "dir" ? "a directory" : "a file"}`, hint);
}

/** Check the paths a VM names (kernel, initrd, disks, shares) exist and have the right kind. */
export async function checkVmPaths(o: VmOptions): Promise<void> {
  if (typeof o.kernel === "string") await checkPath(o.kernel, "Kernel", "file", "pass a bzImage or vmlinux file (`microforge kernel build` prints one), or leave --kernel out to use the default kernel");
  if (typeof o.initrd === "string") await checkPath(o.initrd, "Initramfs", "file", "pass an initramfs file (`microforge initramfs` builds one), or leave --initrd out to use the default");
  for (const d of o.disks ?? []) await checkPath(d.path, "Disk image", "disk", "create it first (e.g. `truncate -s 64M disk.img`), or fix the path given with --disk");
  for (const s of o.shares ?? []) await checkPath(s.path, "Shared directory", "dir", "pass an existing host directory to --share DIR[:GUESTDIR][:ro]");
}

/** Refuse values and paths QEMU could not use, before any long work (a kernel build, the KVM probe). */
export async function checkVmOptions(o: VmOptions): Promise<void> {
  parseMemory(o.memory ?? 512);
  if (o.cpus !== undefined) parseCpus(o.cpus);
  (o.append ?? []).forEach(checkKernelArg);
  await checkVmPaths(o);
}

/** Build the VM `o` describes, from its kernel and initramfs. */
export async function prepareVm(o: VmOptions & { kernel: string | KernelBuild; initrd: string | Initramfs }): Promise<MicroVM> {
  const log = o.log ?? stderrLogger({ quiet: o.quiet });
  const env = o.env ?? process.env;
  await checkVmOptions(o);
  const arch = o.arch ?? hostArch();
  const qemu = o.qemu ?? (await findQemuOrThrow({ env, arch }));
  const bios = o.bios ?? (machineFor(arch).needsBios ? await findQbootOrThrow(qemu, { env }) : undefined);
  const kernel = o.kernel;
  const kernelAcpi = typeof kernel === "string" ? o.kernelAcpi ?? false : await hasAcpi(kernel);
  const initrd = o.initrd;
  const accel = await chooseAccel(o.accel ?? ((env.MICROFORGE_ACCEL as AccelChoice | undefined) || "auto"), { qemu, log, arch });
  const shares = (o.shares ?? []).map((s, i) => {
    const mountpoint = s.mountpoint ?? (o.hostRoot ? resolve(s.path) : i === 0 ? "/mnt/share" : `/mnt/share${i}`);
    if (!mountpoint.startsWith("/")) throw new VmSpecError(`Share mountpoint ${mountpoint} is not absolute`, "use a path like /mnt/src");
    return { path: s.path, tag: `share${i}`, readonly: s.readonly, mountpoint };
  });
  const cwd = o.cwd ?? shares[0]?.mountpoint;
  const root = o.hostRoot ? [{ path: "/", tag: HOST_ROOT_TAG, readonly: true }] : [];
  const append = [
    ...(o.hostRoot ? [`microforge.root=${HOST_ROOT_TAG}`] : []),
    ...shares.map((s) => checkKernelArg(`microforge.mount=${s.tag}:${s.mountpoint}${s.readonly ? ":ro" : ""}`)),
    ...(cwd ? [checkKernelArg(`microforge.cwd=${cwd}`)] : []),
    ...(o.append ?? []),
  ];
  return new MicroVM({
    arch,
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
    shares: [...root, ...shares.map(({ path, tag, readonly }) => ({ path, tag, readonly }))],
    extraArgs: o.extraArgs,
    symbols: kernelSymbols(kernel),
  });
}

/** A build's vmlinux and source tree, for decoding a panic; a kernel given as a path has none we know of. */
export function kernelSymbols(kernel: string | KernelBuild): KernelSymbols | undefined {
  if (typeof kernel === "string" || !kernel.vmlinux) return undefined;
  const tree = (kernel as { tree?: string }).tree;
  return { vmlinux: kernel.vmlinux, ...(tree ? { tree } : {}) };
}
