/**
 * `microforge run [-- CMD ARGS...]`: boot a microVM. Without a command, an
 * interactive shell on the serial console; with one, run it in a fresh VM,
 * stream its stdout/stderr, and exit with its exit status (like a container).
 */
import type { Command, ParsedArgs } from "../command.ts";
import { BootTimeoutError, MicroforgeError, UsageError } from "../errors.ts";
import { stderrLogger } from "../log.ts";
import { execInVm } from "../vm-exec.ts";
import { bootPhases } from "../boot-phases.ts";
import { renderTimelineSvg, renderTimelineTable } from "../svg-timeline.ts";
import { writeFileAtomic } from "../cache-dir.ts";
import { runInteractive } from "../vm-interactive.ts";
import { prepareVm } from "../vm-prepare.ts";
import { vmFlags, vmOptions } from "./vm-flags.ts";

/** The `run` subcommand. */
export const runCommand: Command = {
  name: "run",
  summary: "Boot a microVM: a shell on the console, or `-- CMD...` in a fresh VM with its exit status",
  usage: "[options] [-- CMD ARGS...]",
  flags: [
    ...vmFlags,
    { name: "timeout", type: "string", default: "120", description: "scripted runs: stop the VM after this many seconds (exit 124)" },
    { name: "timings", type: "boolean", description: "print a table of boot phases (QEMU start, kernel, /init, command, shutdown)" },
    { name: "timeline", type: "string", description: "write the boot phases as an SVG chart to this file" },
    { name: "verbose", alias: "v", type: "boolean", description: "scripted runs: show the kernel console on stderr" },
    { name: "quiet", alias: "q", type: "boolean", description: "no progress output" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    const log = stderrLogger({ quiet: args.quiet as boolean });
    const timeout = Number(args.timeout);
    if (!(timeout > 0)) throw new UsageError(`Invalid --timeout ${args.timeout}`, "pass a number of seconds");
    const vm = await prepareVm({ ...vmOptions(args), log, quiet: args.quiet as boolean });
    if (!args._.length) {
      log.step("booting; exit the shell (or press Ctrl-A X) to stop the VM");
      return await runInteractive(vm);
    }
    // The command's stdin is ours when we are not on a terminal (echo hi | microforge run -- cat).
    const stdin = process.stdin.isTTY ? null : (process.stdin as AsyncIterable<Uint8Array>);
    // Kernel lines with printk timestamps, kept (bounded) for the boot timeline.
    const printk: string[] = [];
    let partial = "";
    const keepLines = (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) if (l.startsWith("[") && printk.length < 20_000) printk.push(l);
    };
    try {
      const r = await execInVm(vm, args._, {
        stdin,
        timeoutMs: timeout * 1000,
        console: (c) => {
          if (args.verbose) process.stderr.write(c);
          if (args.timings || args.timeline) keepLines(c);
        },
      });
      if (args.timings || args.timeline) {
        const phases = bootPhases(r.timings, printk);
        const total = r.timings.exitMs ?? 0;
        if (args.timings) process.stderr.write(renderTimelineTable(phases, total));
        if (args.timeline) {
          await writeFileAtomic(args.timeline as string, renderTimelineSvg(phases, { title: `microforge run -- ${args._.join(" ")}`, totalMs: total }));
          log.step(`boot timeline written to ${args.timeline}`);
        }
      }
      return r.exitCode;
    } catch (err) {
      if (err instanceof BootTimeoutError || !(err instanceof MicroforgeError)) throw err;
      process.stderr.write(`microforge: ${err.message}\n`);
      return err.exitCode === 1 ? 255 : err.exitCode;
    }
  },
};
