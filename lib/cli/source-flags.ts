/**
 * Flags shared by commands that resolve and fetch artifacts, and how they
 * map to options.
 */
import { statSync } from "node:fs";
import { fileKind } from "../util/file-kind.ts";
import { suggest } from "../util/suggest.ts";
import { type FlagSpec, type ParsedArgs } from "../util/flags.ts";
import { SourcePathError, UsageError } from "../util/errors.ts";
import type { LockOptions } from "../fetch/locked.ts";

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
    const close = what ? suggest(what, ["kernel", "busybox"]) : undefined;
    throw new UsageError(`microforge ${command} needs "kernel" or "busybox"${what ? `, not ${JSON.stringify(what)}` : ""}`, `${close ? "did you mean" : "e.g."} \`microforge ${command} ${close ?? "kernel"}\`${close ? "?" : ""}`);
  }
  return what;
}

/** Source keywords per flag; anything else is a path. */
const SOURCE_WORDS: Record<"kernel-source" | "busybox-source" | "busybox", readonly string[]> = {
  "kernel-source": ["auto", "kernel.org", "debian"],
  "busybox-source": ["auto", "busybox.net", "debian", "host"],
  busybox: ["auto", "busybox.net", "debian", "host"],
};

/**
 * Check a source flag's value before any lookup: a keyword, or the path of an existing file.
 * A near-miss of a keyword ("debain") is a usage error with a suggestion, not a missing file.
 */
export function checkSourceFlag(args: ParsedArgs, flag: keyof typeof SOURCE_WORDS): void {
  const value = args[flag] as string | undefined;
  const words = SOURCE_WORDS[flag];
  if (value === undefined || words.includes(value)) return;
  const what = flag === "kernel-source" ? "Kernel tarball" : "Busybox binary";
  let s;
  try {
    s = statSync(value);
  } catch {
    const close = suggest(value, words);
    if (close && !/[/.]/.test(value.replace("kernel.org", "").replace("busybox.net", ""))) {
      throw new UsageError(`Unknown --${flag} ${JSON.stringify(value)}`, `did you mean ${close}? Use ${words.join(", ")}, or a path`);
    }
    throw new SourcePathError(`${what} ${value} (--${flag}) does not exist`, `pass an existing file, or one of ${words.join(", ")}`);
  }
  if (!s.isFile()) throw new SourcePathError(`${what} ${value} (--${flag}) is ${fileKind(s)}`, `pass a file, or one of ${words.join(", ")}`);
}
