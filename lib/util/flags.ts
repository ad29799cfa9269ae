/**
 * The one flag parser, for the CLI, recipes (`ask()`) and the recipe context:
 * `node:util` `parseArgs` under a thin layer that keeps what users type
 * working and what they mistype explained. The layer first rewrites argv
 * into the long `--name[=value]` form parseArgs reads strictly:
 * `-qy` groups and `-xVALUE`, `--flag true|false`, `--flag=false`,
 * `--memory -1` (a negative number is a value, so the flag's own check can
 * name it) and a value flag with no value. An unknown flag is a
 * {@linkcode UsageError} (exit 2) with a "did you mean".
 */
import { parseArgs } from "node:util";
import { UsageError } from "./errors.ts";
import { suggest } from "./suggest.ts";

/** A flag a command or recipe accepts. */
export interface FlagSpec {
  name: string;
  type: "boolean" | "string" | "strings";
  alias?: string;
  description: string;
  default?: unknown;
  /** Environment variable that sets this flag when it is not on the command line. */
  env?: string;
  /** A value flag whose value may be left out (`--gdb` or `--gdb 1235`): the value it then has. */
  optional?: string;
}

/** Parsed flags: values by flag name (and alias), positionals in `_`. */
export type ParsedArgs = Record<string, unknown> & { _: string[] };

/** Options of {@linkcode parseFlagList}. */
export interface ParseOptions {
  /** Who takes the flags, for messages: "`microforge run`", "recipe.ts". */
  who: string;
  /** Where the help is: "`microforge run --help`". */
  help: string;
  /** Let unknown flags through (a caller that reads only some flags of a longer argv). */
  lenient?: boolean;
  /** Leave a flag that was not given undefined, without env or default (a caller with its own fallbacks). */
  keepUnset?: boolean;
  env?: Record<string, string | undefined>;
}

function unknown(arg: string, flags: readonly FlagSpec[], o: ParseOptions): UsageError {
  const name = arg.replace(/^-+/, "").split("=")[0];
  const close = suggest(name, flags.map((f) => f.name));
  return new UsageError(`Unknown option ${arg} for ${o.who}`, close ? `did you mean --${close}? See ${o.help}` : `see ${o.help}`);
}

/** The words parseArgs reads strictly: every flag as `--name`, `--no-name` or `--name=value`. */
function normalize(argv: readonly string[], flags: readonly FlagSpec[], o: ParseOptions): string[] {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const byAlias = new Map(flags.filter((f) => f.alias).map((f) => [f.alias!, f]));
  const out: string[] = [];
  // A value flag's value: attached, else the next word unless it is a flag or `--` ("-" and -1 are values), else "".
  const valueAt = (i: number): [string, number] => {
    const next = argv[i + 1];
    return next !== undefined && next !== "--" && (next === "-" || !next.startsWith("-") || /^-\d/.test(next)) ? [next, i + 1] : ["", i];
  };
  const boolWord = (i: number) => argv[i + 1] === "true" || argv[i + 1] === "false";
  const emit = (f: FlagSpec, value: string | boolean) => out.push(f.type === "boolean" ? (value === false || value === "false" ? `--no-${f.name}` : `--${f.name}`) : `--${f.name}=${value}`);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const long = /^--([^=]+)(?:=([\s\S]*))?$/.exec(arg);
    if (long) {
      const [, name, attached] = long;
      const f = byName.get(name);
      const negated = !f && attached === undefined && name.startsWith("no-") ? byName.get(name.slice(3)) : undefined;
      if (negated?.type === "boolean") emit(negated, false);
      else if (!f) {
        if (!o.lenient) throw unknown(arg, flags, o);
        out.push(arg);
      } else if (f.type === "boolean") emit(f, attached ?? (boolWord(i) ? argv[++i] : true));
      else if (attached !== undefined) emit(f, attached);
      else {
        let value: string;
        [value, i] = valueAt(i);
        emit(f, value === "" && f.optional !== undefined ? f.optional : value);
      }
      continue;
    }
    if (!/^-[^-]/.test(arg)) {
      out.push(arg);
      continue;
    }
    // A group of one-letter aliases: booleans, then at most one value flag taking the rest.
    for (let j = 1; j < arg.length; j++) {
      const f = byAlias.get(arg[j]);
      if (!f) {
        if (!o.lenient) throw unknown(arg, flags, o);
        out.push(arg);
        break;
      }
      if (f.type === "boolean") {
        emit(f, j === arg.length - 1 && boolWord(i) ? argv[++i] : true);
        continue;
      }
      const rest = arg.slice(j + 1);
      let value = rest.replace(/^=/, "");
      if (rest === "") [value, i] = valueAt(i);
      emit(f, value);
      break;
    }
  }
  return out;
}

/** Parse `argv` against `flags`; throws {@linkcode UsageError} on unknown or malformed flags. */
export function parseFlagList(flags: readonly FlagSpec[], argv: readonly string[], o: ParseOptions): ParsedArgs {
  const env = o.env ?? process.env;
  const { values, positionals, tokens } = parseArgs({
    args: normalize(argv, flags, o),
    options: Object.fromEntries(flags.map((f) => [f.name, { type: f.type === "boolean" ? "boolean" : "string", multiple: f.type !== "boolean" }])),
    strict: !o.lenient,
    allowPositionals: true,
    allowNegative: true,
    tokens: true,
  });
  const parsed: ParsedArgs = { _: positionals };
  for (const f of flags) {
    const given = values[f.name] as boolean | string[] | undefined;
    let v: unknown = given;
    if (f.type === "string" && Array.isArray(given)) {
      if (given.length > 1) throw new UsageError(`Option --${f.name} was given more than once`, "pass it once");
      v = given[0];
      const bare = tokens.some((t) => t.kind === "option" && t.name === f.name && t.value === "");
      if (v === "" && f.default === undefined && bare && argv.some((a) => a === `--${f.name}` || a === `-${f.alias}`)) {
        throw new UsageError(`Option --${f.name} needs a value`, `see ${o.help}`);
      }
    }
    if (v === undefined && f.env && !o.keepUnset) v = env[f.env] || undefined;
    if (v === undefined && !o.keepUnset) v = f.default ?? (f.type === "boolean" ? false : undefined);
    if (f.type === "strings" && !(o.keepUnset && v === undefined)) v = v === undefined ? [] : [v].flat();
    parsed[f.name] = v;
    if (f.alias) parsed[f.alias] = v;
  }
  return parsed;
}
