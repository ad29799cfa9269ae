/**
 * microforge's public API, the recipe DSL. Recipes and users import from
 * here only; everything else in `lib/` is internal.
 *
 * @example
 * ```ts
 * import { ask, busybox, initramfs, kernel, microvm } from "../lib/mod.ts";
 * const opts = await ask({ kernel: { type: "kernel", default: "longterm" }, memory: { type: "string", default: "512M" } });
 * const k = await kernel({ version: opts.kernel as string });
 * const rd = await initramfs({ busybox: await busybox() });
 * const vm = await microvm({ kernel: k, initrd: rd, memory: opts.memory as string });
 * console.log(vm.toShell());
 * const r = await vm.exec(["uname", "-a"], { timeline: "boot.svg" }); // or: await vm.run()
 * ```
 */
export { $, argv, chalk, fs, path } from "zx";
export { busybox, kernel, microvm, Vm } from "./dsl.ts";
export type { KernelOptions } from "./dsl.ts";
export { ask } from "./ask.ts";
export type { AskContext, AskOption } from "./ask.ts";
export type { KernelBuild } from "./kernel-build.ts";
export type { VmOptions } from "./vm-prepare.ts";
export type { ExecOptions, ExecResult } from "./vm-exec.ts";
export type { Phase } from "./boot-phases.ts";
export { initramfs } from "./build-initramfs.ts";
export type { Initramfs, InitramfsOptions } from "./build-initramfs.ts";
export { debianBusybox, resolveBusybox } from "./busybox.ts";
export { inspectBusybox } from "./busybox-inspect.ts";
export type { Busybox, BusyboxSource } from "./busybox.ts";
export { cpioArchive } from "./cpio.ts";
export type { CpioEntry, CpioOptions } from "./cpio.ts";
export { packInitramfs } from "./initramfs.ts";
export { fetchKernel, resolveKernel } from "./kernel-source.ts";
export type { KernelChoice, KernelSourceOptions, KernelTarball } from "./kernel-source.ts";
export { lockedBusybox, lockedKernel } from "./locked-artifacts.ts";
export type { LockOptions } from "./locked-artifacts.ts";
export { download } from "./download.ts";
export { sourceTree } from "./source-tree.ts";
export type { PackOptions, PackResult } from "./initramfs.ts";
export { checkInitVars, defaultInitVars, renderInit } from "./rootfs.ts";
export type { ExtraContent, InitVars, RootfsSpec } from "./rootfs.ts";
export { findTemplate, renderTemplate } from "./template.ts";
export { runHostChecks } from "./host-checks.ts";
export type { HostItem } from "./host-checks.ts";
export { shellJoin, shellQuote } from "./shell-quote.ts";
export {
  BootTimeoutError,
  BusyboxError,
  ChecksumError,
  CommandError,
  DownloadError,
  ElfError,
  InitVarError,
  MicroforgeError,
  MissingToolError,
  RootfsError,
  TemplateError,
  UsageError,
  VersionError,
  LockFileError,
} from "./errors.ts";
