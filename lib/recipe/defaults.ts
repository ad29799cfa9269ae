/**
 * The VM microforge boots when you name no kernel or initramfs: the
 * longterm kernel with the default features and the default busybox image,
 * each built once and cached. `run`, `emit`, `build` and the DSL's
 * `microvm()` start here; the VM stage itself never builds anything.
 */
import { type LockOptions, lockedKernel } from "../fetch/locked.ts";
import { buildInitramfs, type Initramfs } from "../initramfs/build.ts";
import { buildKernel, type KernelBuild } from "../kernel/build.ts";
import { DEFAULT_FEATURES } from "../kernel/fragments.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import type { MicroVM } from "../vm/microvm.ts";
import { checkVmOptions, prepareVm, type VmOptions } from "../vm/prepare.ts";
import { VmSpecError } from "../util/errors.ts";
import { findQbootOrThrow, findQemuOrThrow } from "../host/qemu.ts";

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
}

/** The default kernel: the longterm release with the default features, built once and cached. */
export async function defaultKernel(o: DefaultVmOptions = {}): Promise<KernelBuild> {
  const log = o.log ?? stderrLogger({ quiet: o.quiet });
  const kernel = { features: o.features ?? DEFAULT_FEATURES, fragments: o.fragments, overrides: o.overrides, templateDirs: o.templateDirs, log, quiet: o.quiet, env: o.env };
  if (o.kernelTree !== undefined) return await buildKernel({ ...kernel, tree: o.kernelTree });
  const tarball = await lockedKernel(o.kernelVersion ?? "longterm", { source: o.kernelSource, log, quiet: o.quiet, env: o.env, lock: o.lock });
  return await buildKernel({ ...kernel, tarball });
}

/** The default initramfs, with `command` baked into `/init` when given; a plain cpio (gunzip costs ~50 ms per TCG boot). */
export async function defaultInitramfs(o: DefaultVmOptions & { log: Logger }): Promise<Initramfs> {
  const vars = o.command?.length ? { command: [...o.command], interactiveShell: false } : undefined;
  return await buildInitramfs({ log: o.log, env: o.env, gzip: false, init: { vars, templateDirs: [...(o.templateDirs ?? [])] } });
}

/** The VM `o` describes, building (or reusing) the default kernel and initramfs for what it leaves out. */
export async function vmWithDefaults(o: DefaultVmOptions = {}): Promise<MicroVM> {
  const log = o.log ?? stderrLogger({ quiet: o.quiet });
  // Refuse bad values, and a host without QEMU or qboot, before any long work (a kernel build, the KVM probe).
  await checkVmOptions(o);
  const env = o.env ?? process.env;
  const qemu = o.qemu ?? (await findQemuOrThrow({ env }));
  const bios = o.bios ?? (await findQbootOrThrow(qemu, { env }));
  if (o.command?.length && o.initrd) throw new VmSpecError("A command to bake into /init needs microforge's own initramfs, not the one given", "leave out --initrd, or put the command into your own image's /init");
  const kernel = o.kernel ?? (await defaultKernel({ ...o, log }));
  const initrd = o.initrd ?? (await defaultInitramfs({ ...o, log }));
  return await prepareVm({ ...o, log, kernel, initrd, qemu, bios });
}
