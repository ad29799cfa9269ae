/**
 * The shape of a CLI subcommand and strict flag parsing for it: unknown flags
 * are a usage error with a "did you mean" suggestion, `--help` prints usage.
 */
import { minimist } from "zx";
import { UsageError } from "./errors.ts";

/** A flag a subcommand accepts. */
export interface FlagSpec {
  name: string;
  type: "boolean" | "string" | "strings";
  alias?: string;
  description: string;
  default?: unknown;
  /** Environment variable that sets this flag when it is not on the command line. */
  env?: string;
}

/** A subcommand: `microforge <name> [flags]`. */
export interface Command {
  name: string;
  summary: string;
  /** Positional usage after the name, e.g. "[-o FILE]". */
  usage: string;
  flags: FlagSpec[];
  /** Runs with parsed flags; resolves to the process exit code. */
  run(args: ParsedArgs): Promise<number>;
}

/** Parsed flags: values by flag name, positionals in `_`. */
export type ParsedArgs = Record<string, unknown> & { _: string[] };

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

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

/** The closest of `candidates` to `word`, if it is close enough to suggest. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = distance(word, c);
    if (dist < bestD) [best, bestD] = [c, dist];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Parse argv for `cmd`; throws {@linkcode UsageError} on unknown or malformed flags. */
export function parseFlags(cmd: Command, argv: readonly string[]): ParsedArgs {
  const flags = [...cmd.flags, helpFlag];
  const known = new Set(flags.flatMap((f) => (f.alias ? [f.name, f.alias] : [f.name])));
  const parsed = minimist([...argv], {
    boolean: flags.filter((f) => f.type === "boolean").map((f) => f.name),
    // "_" keeps positionals as typed: "6.10" must not become the number 6.1.
    string: ["_", ...flags.filter((f) => f.type !== "boolean").map((f) => f.name)],
    alias: Object.fromEntries(flags.filter((f) => f.alias).map((f) => [f.name, f.alias!])),
    default: Object.fromEntries(flags.filter((f) => f.default !== undefined && !f.env).map((f) => [f.name, f.default])),
    unknown: (arg: string) => {
      if (!arg.startsWith("-")) return true;
      const name = arg.replace(/^-+/, "").split("=")[0];
      if (known.has(name) || (name.startsWith("no-") && known.has(name.slice(3)))) return true;
      const close = suggest(name, flags.map((f) => f.name));
      throw new UsageError(
        `Unknown option ${arg} for \`microforge ${cmd.name}\``,
        close ? `did you mean --${close}? See \`microforge ${cmd.name} --help\`` : `see \`microforge ${cmd.name} --help\``,
      );
    },
  }) as ParsedArgs;
  for (const f of flags) {
    if (f.env && parsed[f.name] === undefined) parsed[f.name] = process.env[f.env] || f.default;
    const v = parsed[f.name];
    if (f.type === "strings") parsed[f.name] = v === undefined ? [] : [v].flat();
    else if (f.type === "string" && Array.isArray(v)) {
      throw new UsageError(`Option --${f.name} was given more than once`, `pass it once`);
    } else if (f.type === "string" && v === "" && f.default === undefined && argv.some((a) => a === `--${f.name}`)) {
      throw new UsageError(`Option --${f.name} needs a value`, `see \`microforge ${cmd.name} --help\``);
    }
  }
  return parsed;
}

/** A repeatable flag whose values may also be comma-separated (`--features a,b --features c`). */
export function listFlag(args: ParsedArgs, name: string): string[] {
  return ((args[name] as string[] | undefined) ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
}
