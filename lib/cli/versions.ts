/**
 * `microforge versions kernel|busybox`: what a source offers, the default
 * marked; `--resolve SPEC` prints the one version a spec means.
 */
import { CHANNELS, DEFAULT_SPEC, type Versioned, checkSpec, resolveSpec } from "../sources/version-spec.ts";
import { type Command } from "./command.ts";
import { suggest } from "../util/suggest.ts";
import { type ParsedArgs } from "../util/flags.ts";
import { busyboxNetBuilds } from "../fetch/busybox-net.ts";
import { type MicroforgeError, UsageError } from "../util/errors.ts";
import { kernelCandidates, pickKernel } from "../fetch/kernel-tarball.ts";
import { stderrLogger } from "../util/log.ts";
import { aptPackages } from "../sources/debian.ts";
import { toSemver } from "../sources/kernel-version.ts";
import { artifactArg, busyboxSourceFlag, checkSourceFlag, kernelSourceFlag, selectionFlags } from "./source-flags.ts";

/** Default specs, as recipes use them. */

interface Row extends Versioned {
  url: string;
  checksums?: string;
}

async function busyboxRows(source: string, log = stderrLogger()): Promise<{ from: string; rows: Row[] }> {
  if (source === "busybox.net" || source === "auto") {
    try {
      return { from: "busybox.net", rows: (await busyboxNetBuilds()).map((b) => ({ ...b, url: b.dir })) };
    } catch (err) {
      if (source === "busybox.net") throw err;
      log.warn(`busybox.net is not reachable (${(err as MicroforgeError).summary ?? (err as Error).message}); listing Debian's busybox-static`);
    }
  }
  if (source !== "auto" && source !== "debian") throw new UsageError(`Cannot list versions of busybox source ${source}`, "use --busybox-source busybox.net or debian");
  const pkgs = await aptPackages(["busybox-static"]);
  return { from: "Debian packages", rows: pkgs.map((p) => ({ version: p.upstream, semver: toSemver(p.upstream) ?? "0.0.0", url: `debian:${p.name}=${p.version}` })) };
}

/** The `versions` subcommand. */
export const versionsCommand: Command = {
  name: "versions",
  summary: "List kernel or busybox versions a source offers; --resolve SPEC prints the one a spec means",
  usage: "kernel|busybox [--channel longterm|stable|mainline] [--resolve SPEC] [--json]",
  flags: [
    { name: "channel", type: "string", description: "only this kernel channel: longterm, stable or mainline" },
    { name: "resolve", type: "string", description: "print the version SPEC resolves to (latest, longterm, 6.6, ^6.1, ...)" },
    kernelSourceFlag,
    busyboxSourceFlag,
    ...selectionFlags,
    { name: "json", type: "boolean", description: "print JSON" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    const what = artifactArg(args, "versions");
    // Checked before the (possibly slow) version lookup.
    const channel = args.channel as string | undefined;
    if (channel !== undefined) {
      if (what !== "kernel") throw new UsageError("--channel applies to kernel versions only", "drop --channel, or use `microforge versions kernel --channel longterm`");
      if (!(CHANNELS as readonly string[]).includes(channel)) {
        const close = suggest(channel, CHANNELS);
        throw new UsageError(`Unknown channel ${JSON.stringify(channel)}`, `${close ? `did you mean ${close}? Use` : "use"} longterm, stable or mainline`);
      }
    }
    if (args.resolve !== undefined) checkSpec(args.resolve as string, { what, channels: what === "kernel" });
    checkSourceFlag(args, what === "kernel" ? "kernel-source" : "busybox-source");
    const opts = { includeEol: args["include-eol"] as boolean, includePrerelease: args["include-prerelease"] as boolean };
    let from: string;
    let rows: Row[];
    let pick: (spec: string) => Row;
    if (what === "kernel") {
      // Listing versions is asking upstream what it has now: never a release list kept from a few minutes ago.
      const c = await kernelCandidates({ source: args["kernel-source"] as string, ...opts, fresh: true });
      [from, rows, pick] = [c.from, c.choices.map((x) => ({ ...x, checksums: x.checksums })), (spec) => pickKernel(spec, c, opts)];
    } else {
      ({ from, rows } = await busyboxRows(args["busybox-source"] as string));
      pick = (spec) => resolveSpec(spec, rows, { what: "busybox", from });
    }
    if (args.resolve !== undefined) {
      const r = pick(args.resolve as string);
      const out = { spec: args.resolve, version: r.version, moniker: r.moniker, iseol: r.iseol, source: from, url: r.url, checksums: r.checksums };
      process.stdout.write(args.json ? JSON.stringify(out, null, 2) + "\n" : `${r.version}\n`);
      return 0;
    }
    const shown = rows.filter((r) => !channel || r.moniker === channel);
    let def: Row | undefined;
    try {
      def = pick(DEFAULT_SPEC[what]);
    } catch {
      def = undefined;
    }
    if (args.json) {
      process.stdout.write(JSON.stringify({ source: from, default: def?.version, versions: shown }, null, 2) + "\n");
      return 0;
    }
    process.stdout.write(`${what} versions from ${from}:\n`);
    for (const r of shown) {
      const tags = [r.moniker, r.iseol ? "EOL" : undefined].filter(Boolean).join(", ");
      const mark = r.version === def?.version ? `   ← default (${DEFAULT_SPEC[what]})` : "";
      process.stdout.write(`  ${r.version.padEnd(12)} ${tags.padEnd(14)}${mark}\n`);
    }
    return 0;
  },
};
