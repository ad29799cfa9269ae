/**
 * `microforge initramfs`: build a bootable busybox initramfs and print its
 * path, size and sha256.
 */
import { archArg, archFlag } from "./arch-flag.ts";
import { resolve } from "node:path";
import type { Command } from "./command.ts";
import type { ParsedArgs } from "../util/flags.ts";
import { UsageError } from "../util/errors.ts";
import type { GzipLevel } from "../initramfs/gzip.ts";
import { buildInitramfs } from "../initramfs/build.ts";
import { type ExtraContent, checkInitVars, renderInit } from "../initramfs/rootfs.ts";
import { stderrLogger } from "../util/log.ts";
import { recipeContext } from "../recipe/context.ts";
import { checkSpec } from "../sources/version-spec.ts";
import { checkSourceFlag, lockFlags, lockOptions } from "./source-flags.ts";
import { listFlag } from "./command.ts";
import { checkPackageName } from "../sources/debian-deps.ts";

/** Parse `SRC:DEST[:MODE]` (MODE in octal). */
export function parseFileSpec(spec: string): ExtraContent {
  const m = /^(.+?):(\/[^:]*)(?::([0-7]{3,4}))?$/.exec(spec);
  if (!m) throw new UsageError(`Invalid --file ${spec}`, "use --file SRC:DEST[:MODE], e.g. --file ./hello:/bin/hello:755 (DEST is absolute)");
  return { source: resolve(m[1]), dest: m[2], ...(m[3] ? { mode: parseInt(m[3], 8) } : {}) };
}

/** Parse `KEY=VALUE`; VALUE is read as JSON when it parses (true, 3, ["a","b"]), else as a string. */
export function parseSetting(spec: string): [string, unknown] {
  const eq = spec.indexOf("=");
  if (eq < 1) throw new UsageError(`Invalid --set ${spec}`, "use --set KEY=VALUE, e.g. --set hostname=vm1");
  const raw = spec.slice(eq + 1);
  try {
    return [spec.slice(0, eq), JSON.parse(raw)];
  } catch {
    return [spec.slice(0, eq), raw];
  }
}

function parseLevel(v: unknown): GzipLevel | false {
  if (v === "none") return false;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 9) throw new UsageError(`Invalid --level ${v}`, "use 0-9 or none");
  return n as GzipLevel;
}

/** The `initramfs` subcommand. */
export const initramfsCommand: Command = {
  name: "initramfs",
  summary: "Build a busybox initramfs (cpio newc + gzip), reproducibly and without root",
  usage: "[-o FILE] [--busybox PATH|host|debian] [--init TEMPLATE] [--set KEY=VALUE]... [--file SRC:DEST[:MODE]]...",
  flags: [
    archFlag,
    { name: "output", alias: "o", type: "string", description: "where to write it (default: the cache, named by sha256)" },
    { name: "busybox", type: "string", default: "auto", env: "MICROFORGE_BUSYBOX_SOURCE", description: "busybox source: busybox.net, debian, host, a PATH, or auto (those in turn)" },
    { name: "busybox-version", type: "string", default: "latest", description: "busybox version spec: latest, 1.35, ^1.30, ..." },
    { name: "init", type: "string", default: "init.sh.ejs", description: "EJS template for /init (name in templates/ or a path)" },
    { name: "set", type: "strings", description: "template variable KEY=VALUE (VALUE may be JSON)" },
    { name: "file", type: "strings", description: "add host file SRC as DEST, optional octal MODE" },
    { name: "binary", type: "strings", description: "a host executable to copy in at its own path, with its ELF interpreter and shared libraries" },
    { name: "package", type: "strings", description: "a Debian package to unpack in, with its dependencies (maintainer scripts do not run)" },
    ...lockFlags,
    { name: "level", type: "string", default: "9", description: "gzip level 0-9, or none for a plain cpio" },
    { name: "json", type: "boolean", description: "print the result as JSON" },
    { name: "quiet", alias: "q", type: "boolean", description: "no progress lines" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    if (args._.length) throw new UsageError(`Unexpected argument ${args._[0]}`, "see `microforge initramfs --help`");
    const vars = Object.fromEntries((args.set as string[]).map(parseSetting));
    checkInitVars(vars);
    const extra = (args.file as string[]).map(parseFileSpec);
    const gzip = parseLevel(args.level);
    checkSourceFlag(args, "busybox");
    checkSpec(args["busybox-version"] as string, { what: "busybox", channels: false });
    // Render /init now, so a template error shows before busybox is looked up or downloaded.
    const init = { template: args.init as string, vars, templateDirs: [recipeContext().templates] };
    renderInit(init);
    const result = await buildInitramfs({
      arch: archArg(args),
      busybox: args.busybox as string,
      busyboxVersion: args["busybox-version"] as string,
      init,
      extra,
      binaries: args.binary as string[],
      packages: listFlag(args, "package").map(checkPackageName),
      lock: lockOptions(args),
      output: args.output as string | undefined,
      gzip,
      log: stderrLogger({ quiet: args.quiet as boolean }),
    });
    if (args.json) {
      const { path, size, sha256, entries, busybox } = result;
      process.stdout.write(JSON.stringify({ path, size, sha256, entries, busybox }, null, 2) + "\n");
    } else {
      process.stdout.write(`${result.path}\n  size    ${result.size} bytes (${result.entries} entries)\n  sha256  ${result.sha256}\n  busybox ${result.busybox.version ?? "?"} (${result.busybox.origin}: ${result.busybox.path})\n`);
    }
    return 0;
  },
};
