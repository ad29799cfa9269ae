/**
 * `microforge run [-- CMD ARGS...]`: boot a microVM. Without a command, an
 * interactive shell on the serial console; with one, run it in a fresh VM,
 * stream its stdout/stderr, and exit with its exit status (like a container).
 */
import { statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { readFile, stat } from "node:fs/promises";
import { formatCommand } from "../util/shell-command.ts";
import type { Command, CommandContext } from "./command.ts";
import type { ParsedArgs } from "../util/flags.ts";
import { type MicroforgeError, UsageError } from "../util/errors.ts";
import { emptyLock } from "../sources/lock-file.ts";
import { stderrLogger } from "../util/log.ts";
import { renderTimelineTable } from "../run/timeline-svg.ts";
import { startVm } from "../run/start.ts";
import { type SnapshotUse, streamSink } from "../run/exec.ts";
import { BundleRecorder } from "../run/bundle-recorder.ts";
import { checkBundleTarget, writeBundle } from "../run/bundle.ts";
import { type BuiltVm, vmWithDefaults } from "../recipe/defaults.ts";
import { vmFlags, vmOptions } from "./vm-flags.ts";
import type { MicroVM } from "../vm/microvm.ts";

const MAX_TIMER_MS = 2 ** 31 - 1;

/** The `run` subcommand. */
export const runCommand: Command = {
  name: "run",
  summary: "Boot a microVM: a shell on the console, or `-- CMD...` in a fresh VM with its exit status",
  usage: "[options] [-- CMD ARGS...]",
  flags: [
    ...vmFlags,
    { name: "timeout", type: "string", description: "stop the VM after this many seconds, exit 124 (default 120 for -- CMD; none for a shell fed from a pipe)" },
    { name: "timings", type: "boolean", description: "print a table of boot phases (QEMU start, kernel, /init, command, shutdown); turns off the kernel's quiet" },
    { name: "timeline", type: "string", description: "write the boot phases as an SVG chart to this file" },
    { name: "bundle", type: "string", description: "write a repro bundle of the run to this new folder (kernel, initramfs, .config, lock, console, output, exit code); `microforge rerun DIR` runs it again" },
    { name: "bundle-on-failure", type: "string", description: "the same, only when the command fails (non-zero exit, timeout, panic)" },
    { name: "verbose", alias: "v", type: "boolean", description: "scripted runs: show the kernel console on stderr" },
    {
      name: "snapshot",
      type: "boolean",
      env: "MICROFORGE_SNAPSHOT",
      description:
        "scripted runs: start from a saved VM instead of booting (about 2× faster under TCG; the first run saves it in the cache, `cache clean` removes it; the guest clock is set from the host). --timeline, --verbose and bundles boot cold; --share, --host-root and --disk too, with a warning; with --timings a restored run shows only its total time",
    },
    { name: "quiet", alias: "q", type: "boolean", description: "no progress output" },
  ],
  async run(args: ParsedArgs, context: CommandContext = {}): Promise<number> {
    const log = stderrLogger({ quiet: args.quiet as boolean });
    // Under gdb the CPU waits for the debugger: no default timeout.
    const timeout = args.timeout === undefined ? (args._.length && args.gdb === undefined ? 120 : undefined) : /^\s*\d+(\.\d+)?\s*$/.test(String(args.timeout)) ? Number(args.timeout) : Number.NaN;
    // Node's timers take at most 2^31-1 ms (about 24.8 days); a longer one fires at once.
    if (timeout !== undefined && !(timeout > 0 && timeout * 1000 <= MAX_TIMER_MS)) throw new UsageError(`Invalid --timeout ${JSON.stringify(args.timeout)}`, `pass a number of seconds from 0.001 to ${Math.floor(MAX_TIMER_MS / 1000)}`);
    if (args.timeline !== undefined) {
      const dir = dirname(resolve(args.timeline as string));
      let isDir = false;
      try {
        isDir = statSync(dir).isDirectory();
      } catch { /* missing: refused below */ }
      if (!isDir) throw new UsageError(`Cannot write --timeline ${args.timeline}: there is no directory ${dir}`, "create the directory first, or write the SVG elsewhere");
    }
    const bundle = await planBundle(args);
    const vm = await vmWithDefaults({ ...vmOptions(args), log, quiet: args.quiet as boolean, onBuilt: (b) => bundle && (bundle.built = b) });
    if (args.gdb !== undefined) {
      // The symbols: the vmlinux beside the boot image (a bzImage is booted when the kernel has no PVH entry).
      const k = vm.spec.kernel;
      const vmlinux = basename(k) === "vmlinux" ? k : join(dirname(k), "vmlinux");
      const have = await stat(vmlinux).then((s) => s.isFile(), () => false);
      log.step(`QEMU's gdb stub listens on 127.0.0.1:${args.gdb} and the CPU waits for it (nokaslr is on); in another terminal:`);
      process.stderr.write(`  ${formatCommand(["gdb", have ? vmlinux : "vmlinux", "-ex", `target remote 127.0.0.1:${args.gdb}`], { oneLine: true })}\n`);
      if (!have) log.warn(`no vmlinux beside ${k}: pass the one your kernel was built with`);
    }
    if (!args._.length) log.step(process.stdin.isTTY ? "booting; exit the shell (or press Ctrl-A X) to stop the VM" : "booting; stdin is not a terminal, so it is the guest shell's input (EOF ends the VM)");
    const verbose = args.verbose ? (c: string) => void process.stderr.write(c) : undefined;
    const rec = bundle?.rec;
    const timeoutMs = timeout === undefined ? undefined : timeout * 1000;
    // A boolean flag from the environment arrives as its text.
    const snapshot = args.snapshot === true || (typeof args.snapshot === "string" && /^(1|true|yes|on)$/i.test(args.snapshot));
    const code = await startVm(vm, args._, {
      timeoutMs,
      warm: context.warm,
      snapshot,
      warn: (m) => log.warn(m),
      // A restored guest has no boot to time: the snapshot's line says what it did.
      timings: (args.timings as boolean) && !snapshot,
      timeline: args.timeline as string | undefined,
      // A bundle keeps the whole console log, so the kernel is not quiet.
      console: rec ? rec.console(verbose) : verbose,
      ...(rec ? { stdout: rec.sink("stdout", streamSink(process.stdout)), stderr: rec.sink("stderr", streamSink(process.stderr)), quietKernel: false } : {}),
      onError: (err) => bundle && (bundle.failure = err),
      onResult(r) {
        if (args.timings) process.stderr.write(`${r.warmStart ? "warm start: QEMU started before microforge loaded, from this command line's last VM\n" : ""}${r.snapshot ? snapshotLine(r.snapshot, r.timings.exitMs ?? 0) : ""}${r.snapshot?.how === "restored" ? "" : renderTimelineTable(r.phases, r.timings.exitMs ?? 0)}`);
        if (args.timeline) log.step(`boot timeline written to ${args.timeline}`);
      },
    });
    if (bundle && (bundle.always || code !== 0)) {
      await saveBundle(bundle, vm, args._, code, timeoutMs);
      log.step(`repro bundle written to ${bundle.dir} (exit ${code}); \`${formatCommand(["microforge", "rerun", bundle.dir], { oneLine: true }).trim()}\` boots the same bytes again`);
    }
    return code;
  },
};

/** What --timings says about a --snapshot run. */
function snapshotLine(s: SnapshotUse, totalMs: number): string {
  if (s.how === "restored") return `snapshot: restored from ${s.file}; QEMU start to exit ${totalMs} ms (a restored guest has no boot phases)\n`;
  if (s.how === "saved") return `snapshot: saved to ${s.file} in ${Math.round(s.saveMs ?? 0)} ms\n`;
  return `snapshot: none used (${s.why})\n`;
}

/** A run's repro bundle: where it goes, whether always, and what the run tells it. */
interface BundlePlan {
  dir: string;
  always: boolean;
  rec: BundleRecorder;
  built?: BuiltVm;
  failure?: MicroforgeError;
}

/** The bundle `--bundle` or `--bundle-on-failure` asks for, its folder checked before anything slow. */
async function planBundle(args: ParsedArgs): Promise<BundlePlan | undefined> {
  const always = args.bundle !== undefined;
  const dir = (args.bundle ?? args["bundle-on-failure"]) as string | undefined;
  if (dir === undefined) return undefined;
  if (always && args["bundle-on-failure"] !== undefined) throw new UsageError("--bundle and --bundle-on-failure both name a bundle", "pass one: --bundle always writes it, --bundle-on-failure only when the command fails");
  if (!args._.length) throw new UsageError("A repro bundle records a command: --bundle needs `-- CMD ARGS...`", "pass the command to record, e.g. --bundle DIR -- sh -c 'exit 7'");
  await checkBundleTarget(dir, always ? "--bundle" : "--bundle-on-failure");
  return { dir, always, rec: new BundleRecorder() };
}

/** Write the bundle of a finished run. */
async function saveBundle(b: BundlePlan, vm: MicroVM, command: string[], exitCode: number, timeoutMs: number | undefined): Promise<void> {
  const kept = b.rec.get();
  await writeBundle(b.dir, {
    vm,
    command,
    exitCode,
    error: b.failure?.message,
    decodedPanic: (b.failure as { decodedTrace?: string } | undefined)?.decodedTrace,
    console: kept.console,
    stdout: kept.stdout,
    stderr: kept.stderr,
    config: b.built?.config === undefined ? undefined : await readFile(b.built.config, "utf8"),
    lock: b.built?.lock ?? emptyLock(),
    kernel: b.built?.kernel ?? {},
    run: { quietKernel: false, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
  });
}
