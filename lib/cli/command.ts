/**
 * The shape of a CLI subcommand and strict flag parsing for it: unknown flags
 * are a usage error with a "did you mean" suggestion, `--help` prints usage.
 * The parser is our own, not zx's minimist: importing zx costs every start
 * ~120 ms on Node (issue #7).
 */
import { UsageError } from "../util/errors.ts";
import { suggest } from "../util/suggest.ts";

export { suggest };

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

function unknownOption(cmd: Command, flags: readonly FlagSpec[], arg: string): UsageError {
  const name = arg.replace(/^-+/, "").split("=")[0];
  const close = suggest(name, flags.map((f) => f.name));
  return new UsageError(
    `Unknown option ${arg} for \`microforge ${cmd.name}\``,
    close ? `did you mean --${close}? See \`microforge ${cmd.name} --help\`` : `see \`microforge ${cmd.name} --help\``,
  );
}

/** Record one value; a value flag given again collects an array. */
function put(parsed: ParsedArgs, f: FlagSpec, value: unknown): void {
  const old = parsed[f.name];
  const v = f.type === "boolean" || old === undefined ? value : [old, value].flat();
  parsed[f.name] = v;
  if (f.alias) parsed[f.alias] = v;
}

/**
 * Parse argv for `cmd`; throws {@linkcode UsageError} on unknown or malformed flags.
 * Accepts what zx's minimist did: `--name value`, `--name=value`, `-x value`,
 * `--flag`, `--no-flag`, `--flag=false`, `--flag true|false`, grouped aliases
 * (`-qy`), and `--` before positionals; also `-xVALUE`. A value that starts
 * with `-` must be attached with `=`.
 */
export function parseFlags(cmd: Command, argv: readonly string[]): ParsedArgs {
  const flags = [...cmd.flags, helpFlag];
  const byName = new Map(flags.flatMap((f) => (f.alias ? [[f.name, f], [f.alias, f]] : [[f.name, f]])));
  const parsed: ParsedArgs = { _: [] };
  for (const f of flags) {
    if (f.type === "boolean" && (f.env || f.default === undefined)) put(parsed, f, false);
    else if (f.default !== undefined && !f.env) put(parsed, f, f.default);
  }
  const given = new Set<string>();
  // The value of a value flag: attached, else the next word unless it is a flag or `--`, else "".
  // A negative number is a value (`--memory -1`), so the flag's own check names the flag.
  const valueOf = (attached: string | undefined, i: number): [string, number] => {
    if (attached !== undefined) return [attached, i];
    const next = argv[i + 1];
    return next !== undefined && (next === "-" || !next.startsWith("-") || /^-\d/.test(next)) ? [next, i + 1] : ["", i];
  };
  // Like minimist, `--flag true|false` takes the word as the flag's value.
  const boolWord = (i: number) => argv[i + 1] === "true" || argv[i + 1] === "false";
  const set = (f: FlagSpec, value: unknown) => {
    // A flag on the command line replaces its default rather than adding to it.
    if (!given.has(f.name)) delete parsed[f.name];
    given.add(f.name);
    put(parsed, f, value);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      parsed._.push(...argv.slice(i + 1));
      break;
    }
    const long = /^--([^=]+)(?:=([\s\S]*))?$/.exec(arg);
    if (long) {
      const [, name, attached] = long;
      const f = byName.get(name);
      const negated = !f && attached === undefined && name.startsWith("no-") ? byName.get(name.slice(3)) : undefined;
      if (negated?.type === "boolean") set(negated, false);
      else if (!f) throw unknownOption(cmd, flags, arg);
      else if (f.type === "boolean") set(f, (attached ?? (boolWord(i) ? argv[++i] : "true")) !== "false");
      else {
        let value: string;
        [value, i] = valueOf(attached, i);
        set(f, value);
      }
    } else if (/^-[^-]/.test(arg)) {
      // A group of one-letter aliases: booleans, then at most one value flag taking the rest.
      for (let j = 1; j < arg.length; j++) {
        const f = byName.get(arg[j]);
        if (!f || f.alias !== arg[j]) throw unknownOption(cmd, flags, arg);
        if (f.type === "boolean") {
          set(f, (j === arg.length - 1 && boolWord(i) ? argv[++i] : "true") !== "false");
          continue;
        }
        const rest = arg.slice(j + 1);
        let value: string;
        [value, i] = valueOf(rest === "" ? undefined : rest.replace(/^=/, ""), i);
        set(f, value);
        break;
      }
    } else {
      parsed._.push(arg);
    }
  }
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
