/**
 * `microforge fetch kernel|busybox [SPEC]`: resolve, download, verify and
 * cache one artifact (through the lock file with --lock); `--extract`
 * also unpacks a kernel tree.
 */
import { DEFAULT_SPEC, checkSpec } from "../sources/version-spec.ts";
import type { Command } from "./command.ts";
import type { ParsedArgs } from "../util/flags.ts";
import { UsageError } from "../util/errors.ts";
import { lockedBusybox, lockedKernel } from "../fetch/locked.ts";
import { stderrLogger } from "../util/log.ts";
import { sourceTree } from "../kernel/source-tree.ts";
import { artifactArg, busyboxSourceFlag, checkSourceFlag, kernelSourceFlag, lockFlags, lockOptions, selectionFlags } from "./source-flags.ts";

/** The `fetch` subcommand. */
export const fetchCommand: Command = {
  name: "fetch",
  summary: "Download and verify a kernel tarball or busybox binary into the cache",
  usage: "kernel|busybox [SPEC] [--lock FILE] [--extract] [--json]",
  flags: [
    kernelSourceFlag,
    busyboxSourceFlag,
    ...selectionFlags,
    ...lockFlags,
    { name: "allow-unverified", type: "boolean", description: "allow sources with no published checksum (mainline snapshots, busybox.net binaries); also MICROFORGE_ALLOW_UNVERIFIED=1" },
    { name: "verify-signatures", type: "boolean", description: "check sha256sums.asc's PGP signature (gpgv + MICROFORGE_KERNEL_KEYRING)" },
    { name: "extract", type: "boolean", description: "kernel: also extract the source tree into the cache" },
    { name: "json", type: "boolean", description: "print JSON" },
    { name: "quiet", alias: "q", type: "boolean", description: "no progress output" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    const what = artifactArg(args, "fetch");
    if (args._.length > 2) throw new UsageError(`Unexpected argument ${args._[2]}`, "pass one version spec");
    const spec = args._[1] ?? DEFAULT_SPEC[what];
    checkSpec(spec, { what, channels: what === "kernel" });
    checkSourceFlag(args, what === "kernel" ? "kernel-source" : "busybox-source");
    const log = stderrLogger({ quiet: args.quiet as boolean });
    const lock = lockOptions(args);
    const common = { log, quiet: args.quiet as boolean, lock };
    let out: Record<string, unknown>;
    if (what === "kernel") {
      const t = await lockedKernel(spec, {
        ...common,
        source: args["kernel-source"] as string,
        includeEol: args["include-eol"] as boolean,
        includePrerelease: args["include-prerelease"] as boolean,
        allowUnverified: args["allow-unverified"] as boolean,
        verifySignatures: args["verify-signatures"] as boolean,
      });
      out = { version: t.version, source: t.source, url: t.url, path: t.path, sha256: t.sha256, verified: t.verified };
      if (args.extract) out.tree = await sourceTree(t, { log });
    } else {
      if (args.extract) throw new UsageError("--extract applies to kernel sources only", "drop --extract");
      // busybox.net publishes no checksums: --allow-unverified trusts its binary on first use (and pins it).
      const env = args["allow-unverified"] ? { ...process.env, MICROFORGE_ALLOW_UNVERIFIED: "1" } : undefined;
      const b = await lockedBusybox(spec, args["busybox-source"] as string, { ...common, env });
      out = { version: b.version, source: b.origin, url: b.url, path: b.path, sha256: b.sha256 };
    }
    if (args.json) process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    else {
      process.stdout.write(`${out.path}\n`);
      for (const [k, v] of Object.entries(out)) if (k !== "path" && v !== undefined) process.stdout.write(`  ${k.padEnd(9)} ${v}\n`);
    }
    return 0;
  },
};
