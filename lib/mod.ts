/**
 * microforge's public API: the recipe DSL, its types and every error class.
 * Recipes import from here only (`import { kernel } from "microforge"`);
 * the stages behind it are reachable as subpaths (`microforge/kernel/build`)
 * for power users, without the stability promise of this module.
 *
 * @example
 * ```ts
 * import { ask, busybox, initramfs, kernel, microvm } from "microforge";
 * const opts = await ask({ kernel: { type: "kernel", default: "longterm" }, memory: { type: "string", default: "512M" } });
 * const k = await kernel({ version: opts.kernel as string });
 * const rd = await initramfs({ busybox: await busybox() });
 * const vm = await microvm({ kernel: k, initrd: rd, memory: opts.memory as string });
 * console.log(vm.toShell());
 * const r = await vm.exec(["uname", "-a"], { timeline: "boot.svg" }); // or: await vm.run()
 * ```
 */
// zx's helpers for a recipe's own shell steps; options come from ask(), not zx's argv.
export { $, chalk, fs, path } from "zx";
export { busybox, initramfs, kernel, matrix, microvm, Vm } from "./recipe/dsl.ts";
export type { MatrixObserver, MatrixOptions } from "./recipe/matrix.ts";
export type { CellResult, CellStatus, Shard, SubtestResult, TestReport } from "./run/test-report.ts";
export type { CellPlan } from "./run/cells.ts";
export type { KernelOptions } from "./recipe/dsl.ts";
export { ask } from "./recipe/ask.ts";
export type { AskContext, AskOption } from "./recipe/ask.ts";
export type { DefaultVmOptions } from "./recipe/defaults.ts";
export type { KernelBuild } from "./kernel/build.ts";
export type { Initramfs, InitramfsOptions } from "./initramfs/build.ts";
export type { ExtraContent, InitVars } from "./initramfs/rootfs.ts";
export type { Busybox, BusyboxSource } from "./fetch/busybox.ts";
export type { LockOptions } from "./fetch/locked.ts";
export type { VmOptions } from "./vm/prepare.ts";
export type { ExecOptions, ExecResult } from "./run/exec.ts";
export type { StartOptions } from "./run/start.ts";
export type { Phase } from "./run/phases.ts";
export {
  ArchiveFormatError,
  BinaryError,
  BootTimeoutError,
  BundleError,
  BusyboxError,
  CacheWriteError,
  ChecksumError,
  CommandError,
  ConfigFragmentError,
  ConfigOverrideError,
  DebianPackageError,
  DownloadError,
  ElfError,
  FeatureError,
  GuestError,
  InitVarError,
  InputError,
  KconfigError,
  KernelBuildError,
  KernelTreeError,
  LockFileError,
  MicroforgeError,
  MissingToolError,
  ModuleBuildError,
  ModuleError,
  MutexError,
  OptionError,
  PackageError,
  QmpError,
  ReportError,
  RootfsError,
  ScaffoldError,
  ShellQuoteError,
  SignatureError,
  SourcePathError,
  TemplateError,
  TemplateFileError,
  UnsafeArchiveError,
  UnverifiedError,
  UsageError,
  VersionError,
  VersionSpecError,
  VmSpecError,
  WriteError,
} from "./util/errors.ts";
