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
export { busybox, initramfs, kernel, microvm, Vm } from "./recipe/dsl.ts";
export type { KernelOptions } from "./recipe/dsl.ts";
export { ask } from "./recipe/ask.ts";
export type { AskContext, AskOption } from "./recipe/ask.ts";
export type { KernelBuild } from "./kernel/build.ts";
export type { VmOptions } from "./vm/prepare.ts";
export type { DefaultVmOptions } from "./recipe/defaults.ts";
export type { ExecOptions, ExecResult } from "./run/exec.ts";
export type { Phase } from "./run/phases.ts";
export type { Initramfs, InitramfsOptions } from "./initramfs/build.ts";
export { debianBusybox, resolveBusybox } from "./fetch/busybox.ts";
export { inspectBusybox } from "./sources/busybox-inspect.ts";
export type { Busybox, BusyboxSource } from "./fetch/busybox.ts";
export { cpioArchive } from "./initramfs/cpio.ts";
export type { CpioEntry, CpioOptions } from "./initramfs/cpio.ts";
export { packInitramfs } from "./initramfs/pack.ts";
export { fetchKernel, resolveKernel } from "./fetch/kernel-tarball.ts";
export type { KernelChoice, KernelSourceOptions, KernelTarball } from "./fetch/kernel-tarball.ts";
export { lockedBusybox, lockedKernel } from "./fetch/locked.ts";
export type { LockOptions } from "./fetch/locked.ts";
export { download } from "./fetch/download.ts";
export { sourceTree } from "./kernel/source-tree.ts";
export type { PackOptions, PackResult } from "./initramfs/pack.ts";
export { checkInitVars, defaultInitVars, renderInit } from "./initramfs/rootfs.ts";
export type { ExtraContent, InitVars, RootfsSpec } from "./initramfs/rootfs.ts";
export { findTemplate, renderTemplate } from "./util/template.ts";
export { runHostChecks } from "./host/checks.ts";
export type { HostItem } from "./host/checks.ts";
export { shellJoin, shellQuote } from "./util/shell-quote.ts";
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
} from "./util/errors.ts";
