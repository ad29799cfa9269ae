/**
 * Flags shared by commands that resolve and fetch artifacts, and how they
 * map to options.
 */
import type { FlagSpec, ParsedArgs } from "../command.ts";
import { UsageError } from "../errors.ts";
import type { LockOptions } from "../locked-artifacts.ts";

/** `--kernel-source`. */
export const kernelSourceFlag: FlagSpec = {
  name: "kernel-source", type: "string", default: "auto", env: "MICROFORGE_KERNEL_SOURCE",
  description: "kernel.org, debian, a tarball PATH, or auto (kernel.org, else Debian)",
};

/** `--busybox-source`. */
export const busyboxSourceFlag: FlagSpec = {
  name: "busybox-source", type: "string", default: "auto", env: "MICROFORGE_BUSYBOX_SOURCE",
  description: "busybox.net, debian, host, a PATH, or auto (busybox.net, else debian, else host)",
};

/** Flags for version selection. */
export const selectionFlags: FlagSpec[] = [
  { name: "include-eol", type: "boolean", description: "allow end-of-life kernel releases" },
  { name: "include-prerelease", type: "boolean", description: "allow release candidates (6.7-rc2) in ranges" },
];

/** Lock file flags. */
export const lockFlags: FlagSpec[] = [
  { name: "lock", type: "string", env: "MICROFORGE_LOCK", description: "lock file to read and update (e.g. microforge.lock.json)" },
  { name: "update", type: "boolean", description: "re-resolve versions and rewrite the lock" },
  { name: "locked", type: "boolean", description: "fail if the lock would change" },
];

/** The lock options the flags ask for, if any. */
export function lockOptions(args: ParsedArgs): LockOptions | undefined {
  if (args.update && args.locked) throw new UsageError("--update and --locked contradict each other", "pass one of them");
  if (!args.lock) {
    if (args.update || args.locked) throw new UsageError("--update and --locked need a lock file", "pass --lock microforge.lock.json");
    return undefined;
  }
  return { path: args.lock as string, mode: args.locked ? "locked" : args.update ? "update" : "reuse" };
}

/** The artifact a command is about: "kernel" or "busybox". */
export function artifactArg(args: ParsedArgs, command: string): "kernel" | "busybox" {
  const what = args._[0];
  if (what !== "kernel" && what !== "busybox") {
    throw new UsageError(`microforge ${command} needs "kernel" or "busybox"${what ? `, not ${JSON.stringify(what)}` : ""}`, `e.g. \`microforge ${command} kernel\``);
  }
  return what;
}
