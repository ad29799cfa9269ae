/**
 * `--arch`, shared by every command that builds or boots for a guest
 * architecture, and `--arch A,B` as a matrix axis of `test`.
 */
import { type Arch, ARCHES, hostArch, parseArch } from "../util/arch.ts";
import type { FlagSpec, ParsedArgs } from "../util/flags.ts";
import { listFlag } from "./command.ts";

/** `--arch`. */
export const archFlag: FlagSpec = {
  name: "arch",
  type: "string",
  env: "MICROFORGE_ARCH",
  description: `guest architecture: ${Object.keys(ARCHES).join(", ")} (default: this host's, ${hostArch()}); others are cross-built and run under TCG`,
};

/** The architecture `--arch` asks for (default: the host's). */
export function archArg(args: ParsedArgs): Arch {
  const v = args.arch as string | undefined;
  return v === undefined || v === "" ? hostArch() : parseArch(v);
}

/** The architectures of `--arch A,B` (test's matrix axis); empty when not given. */
export function archList(args: ParsedArgs): Arch[] {
  return [...new Set(listFlag(args, "arch").map(parseArch))];
}
