/**
 * `microforge emit`: print the QEMU command for a VM, ready to paste into a
 * shell (one option per line as the blog shows it, or --one-line), or as a
 * standalone POSIX sh script (--script). With `-- CMD...` the command is
 * the scripted one: CMD is baked into the initramfs's `/init`, runs on the
 * console, its status is printed and the VM powers off by itself; the
 * script exits with CMD's status.
 */
import type { Command } from "./command.ts";
import type { ParsedArgs } from "../util/flags.ts";
import { stderrLogger } from "../util/log.ts";
import { defaultInitVars } from "../initramfs/rootfs.ts";
import { formatCommand, formatScript, formatStatusScript } from "../util/shell-command.ts";
import { shellJoin } from "../util/shell-quote.ts";
import { vmWithDefaults } from "../recipe/defaults.ts";
import { vmFlags, vmOptions } from "./vm-flags.ts";
import { machineFor } from "../vm/machines.ts";

const EXIT_MARKER = defaultInitVars().exitMarker;

/** The `emit` subcommand. */
export const emitCommand: Command = {
  name: "emit",
  summary: "Print the QEMU command that boots the VM (copy it into a shell), or a script",
  usage: "[options] [--one-line | --script] [-- CMD ARGS...]",
  flags: [
    ...vmFlags,
    { name: "one-line", type: "boolean", description: "print it on one line" },
    { name: "script", type: "boolean", description: "print a standalone POSIX sh script" },
    { name: "quiet", alias: "q", type: "boolean", description: "no progress output" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    const command = args._;
    const prepared = await vmWithDefaults({ ...vmOptions(args), command, log: stderrLogger({ quiet: args.quiet as boolean }), quiet: args.quiet as boolean });
    // A scripted boot keeps the console for the command: the kernel stays quiet.
    const vm = command.length ? prepared.with({ quiet: true }) : prepared;
    const machine = machineFor(vm.spec.arch);
    const comments = [
      ...machine.notes({ accel: vm.spec.accel ?? "tcg", kernelAcpi: vm.spec.kernelAcpi }),
      command.length
        ? `/init runs ${shellJoin(command)} on the console, prints ${EXIT_MARKER}<status> and powers the VM off (${machine.powerOff}).`
        : `Ctrl-A X quits; exiting the guest shell powers the VM off (${machine.powerOff}).`,
    ];
    const argv = vm.toArgv();
    const script = command.length ? formatStatusScript(argv, EXIT_MARKER, comments) : formatScript(argv, comments);
    process.stdout.write(args.script ? script : formatCommand(argv, { oneLine: args["one-line"] as boolean, comments }));
    return 0;
  },
};
