/**
 * The recipe DSL's steps: `kernel()`, `busybox()`, `microvm()`, `matrix()`. Each is
 * cached, prints one status line, uses the recipe's lock file and its own
 * `templates/` (before the built-in ones), and returns a plain object.
 */
import { type Busybox, type BusyboxSource } from "../fetch/busybox.ts";
import { buildKernel, type KernelBuild } from "../kernel/build.ts";
import { DEFAULT_FEATURES } from "../kernel/fragments.ts";
import { lockedBusybox, lockedKernel } from "../fetch/locked.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import type { MicroVM } from "../vm/microvm.ts";
import { recipeContext } from "./context.ts";
import type { Arch } from "../util/arch.ts";
import { formatCommand, formatScript } from "../util/shell-command.ts";
import { findTemplate } from "../util/template.ts";
import { type ExecOptions, type ExecResult, execInVm } from "../run/exec.ts";
import { type StartOptions, startVm } from "../run/start.ts";
import { buildInitramfs, type Initramfs, type InitramfsOptions } from "../initramfs/build.ts";
import { type DefaultVmOptions, vmWithDefaults } from "./defaults.ts";
import { type MatrixOptions, runMatrix } from "./matrix.ts";
import type { TestReport } from "../run/test-report.ts";

/** Options of {@linkcode kernel}. */
export interface KernelOptions {
  /** The guest architecture (default: this host's): x86_64, arm64 or riscv64, cross-built with Debian's gcc-<arch>-linux-gnu. */
  arch?: Arch;
  /** Version spec: "longterm" (default), "latest", "6.6", "^6.1", ... */
  version?: string;
  /** "auto" (default), "kernel.org", "debian", or a tarball path. */
  source?: string;
  /** Your own source tree (a git checkout): built out of tree, incrementally; `version` and `source` are ignored. */
  tree?: string;
  /** Feature fragments (default virtio, blk, net, 9p, console). */
  features?: readonly string[];
  /** Your own fragment files or templates. */
  fragments?: readonly string[];
  /** Single `CONFIG_X=y` overrides, applied last. */
  overrides?: readonly string[];
  /** Options the config templates see as `opts`. */
  opts?: Record<string, unknown>;
  /**
   * Loadable module support (CONFIG_MODULES), for modules built against
   * this kernel (`microvm({ kernel, moduleDirs })`); on by itself when some
   * symbol is `=m`. The build then installs its modules, and `microvm()`
   * packs them.
   */
  moduleSupport?: boolean;
  allowDropped?: boolean;
  makeVars?: readonly string[];
  log?: Logger;
  quiet?: boolean;
}

/** Build (or reuse) a kernel for this recipe. */
export async function kernel(o: KernelOptions = {}): Promise<KernelBuild> {
  const ctx = recipeContext();
  const log = o.log ?? stderrLogger({ quiet: o.quiet });
  const tarball = o.tree === undefined ? await lockedKernel(o.version ?? "longterm", { source: o.source, log, quiet: o.quiet, lock: ctx.lock }) : undefined;
  return await buildKernel({
    tarball,
    tree: o.tree,
    arch: o.arch,
    features: o.features ?? DEFAULT_FEATURES,
    // Fragments given by name ("kernel/extra.config.ejs") come from the recipe's templates/ first.
    fragments: o.fragments?.map((f) => findTemplate(f, [ctx.templates])),
    overrides: o.overrides,
    opts: o.opts,
    moduleSupport: o.moduleSupport,
    allowDropped: o.allowDropped,
    makeVars: o.makeVars,
    templateDirs: [ctx.templates],
    log,
    quiet: o.quiet,
  });
}

/** Find (or download) a static busybox for this recipe (of `arch`, default the host's), pinned in its lock file. */
export async function busybox(o: { version?: string; source?: BusyboxSource; arch?: Arch; log?: Logger; quiet?: boolean } = {}): Promise<Busybox> {
  const ctx = recipeContext();
  const log = o.log ?? stderrLogger({ quiet: o.quiet });
  const bb = await lockedBusybox(o.version ?? "latest", o.source ?? "auto", { log, quiet: o.quiet, lock: ctx.lock, arch: o.arch });
  log.step(`busybox ${bb.version ?? "?"} (${bb.origin})`);
  return bb;
}

/** A microVM a recipe can print, boot, or run commands in. */
export class Vm {
  constructor(readonly machine: MicroVM) {}

  /** The QEMU argv. */
  toArgv(): string[] {
    return this.machine.toArgv();
  }

  /** The command to paste into a shell (one option per line, or `{ oneLine: true }`). */
  toShell(options: { oneLine?: boolean } = {}): string {
    return formatCommand(this.toArgv(), options);
  }

  /** A standalone POSIX sh script that boots the VM. */
  toScript(): string {
    return formatScript(this.toArgv());
  }

  /**
   * A shell: on a terminal, the serial console; with stdin piped or closed,
   * the guest shell reads our stdin and its status is the result (EOF ends it).
   */
  run(): Promise<number> {
    return startVm(this.machine, []);
  }

  /**
   * What most recipes end with: with a `command` (the words after `--`), run
   * it in a fresh VM and resolve to its exit status (124 on timeout, 255 on a
   * guest failure, with the reason on stderr); without one, {@linkcode Vm.run}.
   */
  start(command: readonly string[] = [], options: StartOptions = {}): Promise<number> {
    return startVm(this.machine, command, options);
  }

  /**
   * Boot a fresh VM, run `command`, resolve to its exit status, boot timings
   * and phases; `{ timeline: "boot.svg" }` also draws them as an SVG chart.
   */
  exec(command: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return execInVm(this.machine, command, options);
  }
}

/**
 * Build an initramfs with busybox and a rendered `/init`, reproducibly; the
 * recipe's own templates/ are searched before microforge's.
 */
export async function initramfs(o: InitramfsOptions = {}): Promise<Initramfs> {
  const ctx = recipeContext();
  const init = o.init && "content" in o.init ? o.init : { ...o.init, templateDirs: [ctx.templates, ...(o.init?.templateDirs ?? [])] };
  return await buildInitramfs({ lock: ctx.lock, ...o, init });
}

/**
 * Describe a microVM: kernel and initramfs (built by the steps above, or the
 * defaults), memory, devices; `modules` and `moduleDirs` pack kernel modules
 * and load the named ones at boot.
 */
export async function microvm(o: DefaultVmOptions = {}): Promise<Vm> {
  const ctx = recipeContext();
  return new Vm(await vmWithDefaults({ lock: ctx.lock, templateDirs: [ctx.templates], ...o }));
}

/**
 * Run `command` across a matrix of kernels and feature sets, each cell in a
 * fresh VM, `parallel` at a time; resolves to the report, whose
 * `summary.failed` is 0 when every cell passed.
 *
 * @example
 * ```ts
 * const report = await matrix(["uname", "-r"], { kernels: ["6.1", "6.12"], repeat: 2 });
 * for (const c of report.cells) console.log(c.id, c.status, c.kernel.release);
 * ```
 */
export async function matrix(command: readonly string[], o: MatrixOptions = {}): Promise<TestReport> {
  const ctx = recipeContext();
  return await runMatrix(command, { lock: ctx.lock, templateDirs: [ctx.templates], ...o });
}
