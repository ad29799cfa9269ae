/**
 * The shape of a CLI subcommand and strict flag parsing for it: unknown flags
 * are a usage error with a "did you mean" suggestion, `--help` prints usage.
 */
import { type FlagSpec, type ParsedArgs, parseFlagList } from "../util/flags.ts";
import type { WarmStart } from "../run/warm-start.ts";

/** A subcommand: `microforge <name> [flags]`. */
export interface Command {
  name: string;
  summary: string;
  /** Positional usage after the name, e.g. "[-o FILE]". */
  usage: string;
  flags: FlagSpec[];
  /** Runs with parsed flags; resolves to the process exit code. */
  run(args: ParsedArgs, context?: CommandContext): Promise<number>;
}

/** What the executable hands a command besides its flags. */
export interface CommandContext {
  /** A scripted run's warm start (the VM booted before microforge loaded; see warm-start.ts). */
  warm?: WarmStart;
}

const helpFlag: FlagSpec = { name: "help", alias: "h", type: "boolean", description: "show this help" };

/** Render `--help` text for a command. */
export function helpText(cmd: Command): string {
  const rows = [...cmd.flags, helpFlag].map((f) => {
    const left = `${f.alias ? `-${f.alias}, ` : "    "}--${f.name}${f.type === "boolean" ? "" : " VALUE"}`;
    const repeat = f.type === "strings" ? " (repeatable)" : "";
    const env = f.env ? ` [env ${f.env}]` : "";
    return `  ${left.padEnd(28)} ${f.description}${repeat}${env}`;
  });
  return `Usage: microforge ${cmd.name} ${cmd.usage}\n\n${cmd.summary}\n\nOptions:\n${rows.join("\n")}\n`;
}

/**
 * Parse argv for `cmd` (see util/flags.ts: `node:util` parseArgs under a thin
 * layer); throws {@linkcode UsageError} on unknown or malformed flags.
 */
export function parseFlags(cmd: Command, argv: readonly string[]): ParsedArgs {
  return parseFlagList([...cmd.flags, helpFlag], argv, { who: `\`microforge ${cmd.name}\``, help: `\`microforge ${cmd.name} --help\`` });
}

/** A repeatable flag whose values may also be comma-separated (`--features a,b --features c`). */
export function listFlag(args: ParsedArgs, name: string): string[] {
  return ((args[name] as string[] | undefined) ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
}
