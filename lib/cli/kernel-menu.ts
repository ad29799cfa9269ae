/**
 * `microforge kernel menuconfig|nconfig`: the kernel's own config UI over the
 * layered config, writing only what changed to the local layer
 * (`templates/kernel/local.config` unless -o says otherwise).
 */
import { archArg } from "./arch-flag.ts";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { type ParsedArgs } from "../util/flags.ts";
import { UsageError } from "../util/errors.ts";
import { kernelConfigRequest, LOCAL_FRAGMENT } from "../kernel/fragments.ts";
import { menuconfig } from "../kernel/menuconfig.ts";
import { stderrLogger } from "../util/log.ts";

const UIS = ["menuconfig", "nconfig"] as const;

/** Run `args._[0]` (menuconfig or nconfig) on `o.tree` and report what was written; returns the exit code. */
export async function kernelMenuCmd(args: ParsedArgs, o: { tree: string; version: string; inputs: { features: string[]; fragments: string[]; overrides: string[] } }): Promise<number> {
  const ui = UIS.find((u) => u === args._[0]);
  if (!ui) throw new UsageError(`microforge kernel needs menuconfig or nconfig here, not ${JSON.stringify(args._[0])}`, "see `microforge kernel --help`");
  const output = resolve((args.output as string | undefined) ?? `templates/${LOCAL_FRAGMENT}`);
  const arch = archArg(args);
  const request = kernelConfigRequest({ version: o.version, ...o.inputs, arch, local: existsSync(output) ? output : undefined });
  const log = stderrLogger({ quiet: args.quiet as boolean });
  const r = await menuconfig({ tree: o.tree, request, ui, output, log, version: o.version, arch });
  const symbols = [...r.changed].map(([k, v]) => `CONFIG_${k}=${v}`);
  if (args.json) process.stdout.write(JSON.stringify({ ui, output: r.output, wrote: r.wrote, changed: Object.fromEntries(r.changed) }, null, 2) + "\n");
  else if (r.wrote) process.stdout.write(`wrote ${symbols.length} ${symbols.length === 1 ? "symbol" : "symbols"} to ${r.output}: ${symbols.join(", ")}\n`);
  else process.stdout.write("no change: nothing written\n");
  return 0;
}
