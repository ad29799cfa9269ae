/**
 * `microforge rerun DIR`: boot a repro bundle again (see lib/run/bundle.ts).
 * Every file is checked against the manifest first; then the same kernel
 * image and initramfs boot with the same VM options and the same command,
 * through the path `run -- CMD` takes, and we exit with its status. Only
 * this host's QEMU, firmware and accelerator are picked afresh.
 */
import type { Command } from "./command.ts";
import type { ParsedArgs } from "../util/flags.ts";
import { UsageError } from "../util/errors.ts";
import { stderrLogger } from "../util/log.ts";
import { bundleSpec, readBundle } from "../run/bundle.ts";
import { startVm } from "../run/start.ts";
import { chooseAccel } from "../vm/accel.ts";
import { hostTscKhz } from "../vm/fast-boot.ts";
import { MicroVM } from "../vm/microvm.ts";
import { findQbootOrThrow, findQemuOrThrow } from "../host/qemu.ts";
import { accelFlag, accelValue } from "./vm-flags.ts";

/** The `rerun` subcommand. */
export const rerunCommand: Command = {
  name: "rerun",
  summary: "Boot a repro bundle (run --bundle DIR) again: the same bytes, the same command; exits with its status",
  usage: "[options] DIR",
  flags: [
    { ...accelFlag, description: "auto (KVM when it really works, else TCG), kvm or tcg: the bundle's bytes are the same either way" },
    { name: "timeout", type: "string", description: "stop the VM after this many seconds, exit 124 (default: the bundled run's, else 120)" },
    { name: "verbose", alias: "v", type: "boolean", description: "show the kernel console on stderr" },
    { name: "quiet", alias: "q", type: "boolean", description: "no progress output" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    if (args._.length !== 1) throw new UsageError(args._.length ? "rerun takes one bundle folder" : "rerun needs the bundle folder", "microforge rerun DIR (a folder `run --bundle DIR` wrote)");
    const timeout = args.timeout === undefined ? undefined : Number(args.timeout);
    if (timeout !== undefined && !(/^\s*\d+(\.\d+)?\s*$/.test(String(args.timeout)) && timeout > 0 && timeout <= 2_147_483)) {
      throw new UsageError(`Invalid --timeout ${JSON.stringify(args.timeout)}`, "pass a number of seconds from 0.001 to 2147483");
    }
    const log = stderrLogger({ quiet: args.quiet as boolean });
    const accel = accelValue(args.accel as string);
    const bundle = await readBundle(args._[0]);
    const m = bundle.manifest;
    const qemu = await findQemuOrThrow();
    const bios = await findQbootOrThrow(qemu);
    const chosen = await chooseAccel(accel, { qemu, log });
    const vm = new MicroVM({ ...bundleSpec(bundle, { qemu, bios }), accel: chosen, tscKhz: chosen === "tcg" ? hostTscKhz() : undefined });
    const what = m.kernel.release ?? m.kernel.version ?? "its kernel";
    log.step(`rerunning ${args._[0]}: ${what}, ${m.command.join(" ")} (exited ${m.exitCode} when bundled)`);
    const code = await startVm(vm, m.command, {
      tty: false,
      stdin: null,
      timeoutMs: timeout !== undefined ? timeout * 1000 : m.run.timeoutMs ?? 120_000,
      quietKernel: m.run.quietKernel,
      console: (c) => void (args.verbose && process.stderr.write(c)),
    });
    if (code !== m.exitCode) log.warn(`the bundled run exited ${m.exitCode}; this one exited ${code}`);
    return code;
  },
};
