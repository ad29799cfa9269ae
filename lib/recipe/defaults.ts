/**
 * The VM microforge boots when you name no kernel or initramfs: the
 * longterm kernel with the default features and the default busybox image,
 * each built once and cached. `run`, `emit`, `build` and the DSL's
 * `microvm()` start here; the VM stage itself never builds anything.
 * Modules asked for (`modules`, `moduleDirs`) switch the kernel's module
 * support on; out-of-tree ones are built against that kernel, and all are
 * packed into the initramfs, whose `/init` loads the named ones.
 */
import { type LockOptions, lockedKernel, lockTreeBuild, TREE_LOCK_ENTRY, treeLockEntry } from "../fetch/locked.ts";
import type { KernelTarball } from "../fetch/kernel-tarball.ts";
import { emptyLock, type LockFile } from "../sources/lock-file.ts";
import { treeLockInfo } from "../kernel/tree-lock.ts";
import { buildInitramfs, type Initramfs } from "../initramfs/build.ts";
import { buildKernel, type KernelBuild } from "../kernel/build.ts";
import { buildExternalModule, checkModuleSource } from "../kernel/external-module.ts";
import { checkModuleName } from "../kernel/modules.ts";
import { hostBinaryContent } from "../initramfs/host-binaries.ts";
import type { ModuleSet } from "../initramfs/modules.ts";
import { DEFAULT_FEATURES, expandFeatures } from "../kernel/fragments.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import type { MicroVM } from "../vm/microvm.ts";
import { checkVmOptions, prepareVm, type VmOptions } from "../vm/prepare.ts";
import { VmSpecError } from "../util/errors.ts";
import { findQbootOrThrow, findQemuOrThrow } from "../host/qemu.ts";
import { machineFor } from "../vm/machines.ts";
import { hostArch, isCross } from "../util/arch.ts";

/** {@linkcode VmOptions} plus what picks and builds the defaults. */
export interface DefaultVmOptions extends VmOptions {
  /** Version spec of the default kernel (default longterm). */
  kernelVersion?: string;
  /** Where the default kernel comes from: auto, kernel.org, debian or a tarball. */
  kernelSource?: string;
  /** Features of the default kernel (default virtio, blk, net, 9p, console). */
  features?: readonly string[];
  /** Build the kernel from this local source tree instead of a release tarball. */
  kernelTree?: string;
  /** The kernel's own fragment files, and single `CONFIG_X=y` overrides applied last. */
  fragments?: readonly string[];
  overrides?: readonly string[];
  /**
   * Bake this command into the default initramfs's `/init` (the template's
   * `command`): the VM runs it on the console, prints the exit marker and
   * powers off, with no microforge around (`emit -- CMD`).
   */
  command?: readonly string[];
  /** Templates to look in first (a recipe's own templates/). */
  templateDirs?: readonly string[];
  lock?: LockOptions;
  /** The kernel's lock entry name (default `kernel`; a matrix of several kernels uses `kernel:SPEC`). */
  kernelLockName?: string;
  /**
   * Kernel modules `/init` loads (`modprobe`) before the command or shell:
   * the kernel's own `=m` ones and those of `moduleDirs`. A name built into
   * the kernel is skipped; one that is nowhere is an error before the boot.
   */
  modules?: readonly string[];
  /**
   * Out-of-tree module sources (a directory with a Kbuild or Makefile),
   * built against the kernel and packed; they load with `modprobe NAME`
   * in the guest, or at boot when named in `modules`.
   */
  moduleDirs?: readonly string[];
  /** Host executables for the default initramfs, each with its interpreter and libraries (`--binary`). */
  binaries?: readonly string[];
  /** Debian packages for the default initramfs, with their dependencies, pinned in the lock (`--package`). */
  packages?: readonly string[];
  /** Told what the VM was made of, once it is (a repro bundle records it). */
  onBuilt?: (built: BuiltVm) => void;
}

/** What went into a VM: the lock entries of its parts, the kernel's `.config` and who it is. */
export interface BuiltVm {
  /** Lock entries (as `microforge.lock.json` has them) of the kernel source, the tree build and busybox. */
  lock: LockFile;
  /** The path of the kernel's final `.config`, for a kernel microforge built. */
  config?: string;
  kernel: { version?: string; release?: string; configHash?: string; tree?: unknown };
}

/** The {@linkcode BuiltVm} of a VM made of these parts. */
function builtVm(o: DefaultVmOptions, kernel: string | KernelBuild, tarball: KernelTarball | undefined, initrd: string | Initramfs): BuiltVm {
  const lock = emptyLock();
  if (tarball) lock.artifacts[o.kernelLockName ?? "kernel"] = { spec: o.kernelVersion ?? "longterm", version: tarball.version, source: tarball.source, url: tarball.url, sha256: tarball.sha256 };
  if (typeof kernel !== "string" && kernel.local) lock.artifacts[TREE_LOCK_ENTRY] = treeLockEntry(treeLockInfo(kernel));
  if (typeof initrd !== "string") {
    const bb = initrd.busybox;
    lock.artifacts.busybox = { spec: "default", version: bb.version ?? "unknown", source: bb.origin, url: bb.url ?? bb.path, sha256: bb.sha256 };
  }
  if (typeof kernel === "string") return { lock, kernel: {} };
  return { lock, config: kernel.config, kernel: { version: kernel.version, release: kernel.release, configHash: kernel.configHash, ...(kernel.local ? { tree: kernel.local } : {}) } };
}

/** The kernel features plus `9p` (9p and overlayfs) when the host's root is the guest's. */
function withHostRoot(features: readonly string[], hostRoot?: boolean): readonly string[] {
  return hostRoot && !expandFeatures(features).includes("9p") ? [...features, "9p"] : features;
}

/** True when `o` asks for kernel modules: the kernel then gets module support, and the initramfs the modules. */
function wantsModules(o: DefaultVmOptions): boolean {
  return Boolean(o.modules?.length || o.moduleDirs?.length);
}

/** The default kernel: the longterm release with the default features, built once and cached. */
export async function defaultKernel(o: DefaultVmOptions = {}): Promise<KernelBuild> {
  return (await kernelAndSource(o)).kernel;
}

/** The default kernel and the tarball it was built from (none for a local tree, whose build goes into the lock). */
async function kernelAndSource(o: DefaultVmOptions): Promise<{ kernel: KernelBuild; tarball?: KernelTarball }> {
  const log = o.log ?? stderrLogger({ quiet: o.quiet });
  const kernel = { arch: o.arch, features: withHostRoot(o.features ?? DEFAULT_FEATURES, o.hostRoot), fragments: o.fragments, overrides: o.overrides, templateDirs: o.templateDirs, moduleSupport: wantsModules(o), log, quiet: o.quiet, env: o.env };
  if (o.kernelTree !== undefined) {
    const built = await buildKernel({ ...kernel, tree: o.kernelTree });
    await lockTreeBuild(o.lock, treeLockInfo(built));
    return { kernel: built };
  }
  const tarball = await lockedKernel(o.kernelVersion ?? "longterm", { source: o.kernelSource, log, quiet: o.quiet, env: o.env, lock: o.lock, lockName: o.kernelLockName });
  return { kernel: await buildKernel({ ...kernel, tarball }), tarball };
}

/**
 * The modules for `kernel`'s initramfs: its own `=m` ones and those of
 * `o.moduleDirs` (built against it, cached), with the names to load.
 * Undefined when the kernel has no modules and none were asked for.
 */
export async function kernelModules(kernel: KernelBuild, o: DefaultVmOptions & { log: Logger }): Promise<ModuleSet | undefined> {
  if (!kernel.modules && !wantsModules(o)) return undefined;
  if (!kernel.modules || !kernel.release) {
    throw new VmSpecError(`Kernel modules were asked for, but the kernel ${kernel.version} has no module support`, "leave out CONFIG_MODULES=n: microforge switches module support on when modules are asked for (a recipe's own kernel() takes { moduleSupport: true })");
  }
  const dirs = [kernel.modules];
  for (const source of o.moduleDirs ?? []) dirs.push((await buildExternalModule(kernel, source, { log: o.log, quiet: o.quiet, env: o.env })).modules);
  return { release: kernel.release, dirs, load: [...(o.modules ?? [])] };
}

/** The default initramfs, with `command` baked into `/init` when given, and `modules` packed; a plain cpio (gunzip costs ~50 ms per TCG boot). */
export async function defaultInitramfs(o: DefaultVmOptions & { log: Logger; moduleSet?: ModuleSet }): Promise<Initramfs> {
  const vars = o.command?.length ? { command: [...o.command], interactiveShell: false } : undefined;
  return await buildInitramfs({ arch: o.arch, log: o.log, env: o.env, gzip: false, modules: o.moduleSet, binaries: o.binaries, packages: o.packages, lock: o.lock, init: { vars, templateDirs: [...(o.templateDirs ?? [])] } });
}

/** Refuse module options that cannot work with what else `o` gives, before any long work. */
function checkModuleOptions(o: DefaultVmOptions): void {
  if (!wantsModules(o)) return;
  (o.modules ?? []).forEach(checkModuleName);
  (o.moduleDirs ?? []).forEach(checkModuleSource);
  if (o.initrd) throw new VmSpecError("Kernel modules need microforge's own initramfs, not the one given", "leave out --initrd, or put the modules into your own image");
  if (typeof o.kernel === "string") throw new VmSpecError("Kernel modules need a kernel microforge builds, not a kernel file", "leave out --kernel (or use --kernel-tree), so the modules are built with the kernel");
}

/** The VM `o` describes, building (or reusing) the default kernel and initramfs for what it leaves out. */
export async function vmWithDefaults(o: DefaultVmOptions = {}): Promise<MicroVM> {
  const log = o.log ?? stderrLogger({ quiet: o.quiet });
  // Refuse bad values, and a host without QEMU or qboot, before any long work (a kernel build, the KVM probe).
  await checkVmOptions(o);
  const env = o.env ?? process.env;
  const arch = o.arch ?? hostArch();
  const qemu = o.qemu ?? (await findQemuOrThrow({ env, arch }));
  const bios = o.bios ?? (machineFor(arch).needsBios ? await findQbootOrThrow(qemu, { env }) : undefined);
  if (o.command?.length && o.initrd) throw new VmSpecError("A command to bake into /init needs microforge's own initramfs, not the one given", "leave out --initrd, or put the command into your own image's /init");
  checkModuleOptions(o);
  if ((o.binaries?.length || o.packages?.length) && o.initrd) throw new VmSpecError("--binary and --package go into microforge's own initramfs, not the one given", "leave out --initrd, or put the tools into your own image");
  // Each binary, its libraries and its interpreter, before the kernel build (scripts are checked again against the image).
  if (o.binaries?.length && !o.initrd) await hostBinaryContent(o.binaries, { inImage: () => true, arch });
  if (o.hostRoot && o.initrd) throw new VmSpecError("--host-root needs microforge's own initramfs, whose /init mounts the host's root", "leave out --initrd");
  if (o.hostRoot && isCross(arch)) throw new VmSpecError(`--host-root shares this ${hostArch()} host's programs, which a guest of ${arch} cannot run`, `leave out --host-root for --arch ${arch}, or use --binary with ${arch} executables`);
  const built: { kernel: string | KernelBuild; tarball?: KernelTarball } = o.kernel ? { kernel: o.kernel } : await kernelAndSource({ ...o, log });
  const kernel = built.kernel;
  const moduleSet = o.initrd || typeof kernel === "string" ? undefined : await kernelModules(kernel, { ...o, log });
  const initrd = o.initrd ?? (await defaultInitramfs({ ...o, log, moduleSet }));
  const vm = await prepareVm({ ...o, arch, log, kernel, initrd, qemu, bios });
  o.onBuilt?.(builtVm(o, kernel, built.tarball, initrd));
  return vm;
}
