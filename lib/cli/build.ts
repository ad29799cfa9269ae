/**
 * `microforge build`: the default kernel and initramfs (cached), with their
 * paths, ready for `run --kernel K --initrd I` or your own QEMU command.
 */
import { type Command, listFlag } from "./command.ts";
import { type ParsedArgs } from "../util/flags.ts";
import { buildInitramfs } from "../initramfs/build.ts";
import { expandFeatures } from "../kernel/fragments.ts";
import { stderrLogger } from "../util/log.ts";
import { checkSpec } from "../sources/version-spec.ts";
import { defaultKernel } from "../recipe/defaults.ts";
import { checkSourceFlag, kernelSourceFlag, lockFlags, lockOptions } from "./source-flags.ts";
import { resolveBusybox } from "../fetch/busybox.ts";

/** The `build` subcommand. */
export const buildCommand: Command = {
  name: "build",
  summary: "Build (or reuse) the default kernel and initramfs and print their paths",
  usage: "[--kernel-version SPEC] [--features LIST] [--busybox SOURCE] [--json]",
  flags: [
    { name: "kernel-version", type: "string", env: "MICROFORGE_KERNEL_VERSION", description: "kernel version spec (default longterm)" },
    kernelSourceFlag,
    { name: "features", type: "strings", description: "kernel features (default virtio,blk,net,9p,console)" },
    { name: "busybox", type: "string", default: "auto", env: "MICROFORGE_BUSYBOX_SOURCE", description: "busybox source: busybox.net, debian, host, a PATH, or auto" },
    ...lockFlags,
    { name: "json", type: "boolean", description: "print JSON" },
    { name: "quiet", alias: "q", type: "boolean", description: "no progress output" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    const log = stderrLogger({ quiet: args.quiet as boolean });
    const features = listFlag(args, "features");
    // Checked before the kernel lookup, download and build.
    if (args["kernel-version"] !== undefined) checkSpec(args["kernel-version"] as string, { what: "kernel" });
    if (features.length) expandFeatures(features);
    checkSourceFlag(args, "kernel-source");
    checkSourceFlag(args, "busybox");
    // busybox first: a bad one must fail before the long kernel build.
    const busybox = await resolveBusybox(args.busybox as string, { log, quiet: args.quiet as boolean });
    const k = await defaultKernel({
      kernelVersion: args["kernel-version"] as string | undefined,
      kernelSource: args["kernel-source"] as string,
      features: features.length ? features : undefined,
      lock: lockOptions(args),
      log,
      quiet: args.quiet as boolean,
    });
    const rd = await buildInitramfs({ busybox, log });
    const out = { kernel: k.bootImage, bzImage: k.bzImage, version: k.version, configHash: k.configHash, initrd: rd.path, initrdSha256: rd.sha256, busybox: rd.busybox.version };
    process.stdout.write(args.json ? JSON.stringify(out, null, 2) + "\n" : `kernel  ${out.kernel} (linux ${out.version})\ninitrd  ${out.initrd} (busybox ${out.busybox})\n`);
    return 0;
  },
};
