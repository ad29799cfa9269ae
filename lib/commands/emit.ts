/**
 * `microforge emit`: print the QEMU command for a VM, ready to paste into a
 * shell (one option per line as the blog shows it, or --one-line), or as a
 * standalone POSIX sh script (--script).
 */
import type { Command, ParsedArgs } from "../command.ts";
import { stderrLogger } from "../log.ts";
import { formatCommand, formatScript } from "../shell-command.ts";
import { prepareVm } from "../vm-prepare.ts";
import { vmFlags, vmOptions } from "./vm-flags.ts";

/** The `emit` subcommand. */
export const emitCommand: Command = {
  name: "emit",
  summary: "Print the QEMU command that boots the VM (copy it into a shell), or a script",
  usage: "[options] [--one-line | --script]",
  flags: [
    ...vmFlags,
    { name: "one-line", type: "boolean", description: "print it on one line" },
    { name: "script", type: "boolean", description: "print a standalone POSIX sh script" },
    { name: "quiet", alias: "q", type: "boolean", description: "no progress output" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    const vm = await prepareVm({ ...vmOptions(args), log: stderrLogger({ quiet: args.quiet as boolean }), quiet: args.quiet as boolean });
    const comments = [
      vm.spec.accel === "kvm"
        ? "KVM: rtc=off (the guest has kvmclock; the RTC probe would only cost time)."
        : "TCG: the RTC stays on; with rtc=off and no kvmclock the kernel stalls up to 1 s looking for it.",
      ...(vm.spec.kernelAcpi ? [] : ["The kernel has no ACPI: machine acpi=off makes QEMU pass virtio-mmio devices on the kernel command line."]),
      "Ctrl-A X quits; exiting the guest shell powers the VM off (reboot=t with -no-reboot).",
    ];
    const argv = vm.toArgv();
    process.stdout.write(args.script ? formatScript(argv, comments) : formatCommand(argv, { oneLine: args["one-line"] as boolean, comments }));
    return 0;
  },
};
