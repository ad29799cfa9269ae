/**
 * microforge's public API, the recipe DSL. Recipes and users import from
 * here only; everything else in `lib/` is internal.
 *
 * @example
 * ```ts
 * import { initramfs } from "../lib/mod.ts";
 * const rd = await initramfs({ busybox: "auto", init: { vars: { hostname: "vm1" } } });
 * console.log(rd.path, rd.sha256);
 * ```
 */
export { $, argv, chalk, fs, path } from "zx";
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
export { defaultInitVars, renderInit } from "./rootfs.ts";
export type { ExtraContent, InitVars, RootfsSpec } from "./rootfs.ts";
export { findTemplate, renderTemplate } from "./template.ts";
export { runHostChecks } from "./host-checks.ts";
export type { HostItem } from "./host-checks.ts";
export { shellJoin, shellQuote } from "./shell-quote.ts";
export {
  BusyboxError,
  ChecksumError,
  CommandError,
  DownloadError,
  ElfError,
  MicroforgeError,
  MissingToolError,
  RootfsError,
  TemplateError,
  UsageError,
  VersionError,
  LockFileError,
} from "./errors.ts";
