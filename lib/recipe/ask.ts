/**
 * Recipe options: each comes from the command line (`--memory 1G`), the
 * environment (`MICROFORGE_MEMORY`), the saved options file, or a prompt
 * (Inquirer.js) on a terminal; without one (not a tty, `--yes`, `CI=true`)
 * defaults are used and the resolved options printed. `--help` lists them.
 */
import type { checkbox, confirm, input, select } from "@inquirer/prompts";
import { type FlagSpec, parseFlagList } from "../util/flags.ts";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/cache-dir.ts";
import { OptionError } from "../util/errors.ts";
import { kernelCandidates } from "../fetch/kernel-tarball.ts";
import { type Logger, stderrLogger } from "../util/log.ts";

/** One option a recipe asks for. */
export interface AskOption {
  type: "string" | "number" | "boolean" | "select" | "checkbox" | "kernel";
  /** The question (default: the option's name). */
  message?: string;
  default?: unknown;
  /** For select/checkbox. */
  choices?: readonly (string | { name: string; value: string })[];
  /** Return true, or a message saying what is wrong. */
  validate?: (value: unknown) => true | string;
  /** Without a default, a missing value in a non-interactive run is an error naming the flag. */
  required?: boolean;
}

/** The prompt functions, injectable for tests. */
export interface Prompts {
  input: typeof input;
  confirm: typeof confirm;
  select: typeof select;
  checkbox: typeof checkbox;
}

/** Where answers come from. */
export interface AskContext {
  argv?: readonly string[];
  env?: Record<string, string | undefined>;
  /** Prompt at all? Default: stdin is a tty, and neither --yes nor CI=true. */
  interactive?: boolean;
  prompts?: Prompts;
  log?: Logger;
  /** The recipe's directory: `--save` writes `microforge.options.json` there, and later runs read it. */
  dir?: string;
  /** One paragraph for `--help`. */
  description?: string;
  /** Print help and exit (default: process.exit after printing). */
  exit?: (code: number) => never;
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (name: string) => `MICROFORGE_${kebab(name).replaceAll("-", "_").toUpperCase()}`;

function coerce(name: string, def: AskOption, raw: unknown): unknown {
  if (def.type === "number") {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new OptionError(`--${kebab(name)} needs a number, not ${JSON.stringify(raw)}`, "e.g. --" + kebab(name) + " 2");
    return n;
  }
  if (def.type === "boolean") return raw === true || raw === "true" || raw === "1" || raw === "yes";
  if (def.type === "checkbox") return Array.isArray(raw) ? raw.flatMap((r) => String(r).split(",")) : String(raw).split(",").filter(Boolean);
  return String(raw);
}

function check(name: string, def: AskOption, value: unknown): unknown {
  const ok = def.validate?.(value) ?? true;
  if (ok !== true) throw new OptionError(`Invalid --${kebab(name)} ${JSON.stringify(value)}: ${ok}`, `see --help`);
  return value;
}

/** `--help` text for a recipe's options. */
export function askHelp(defs: Record<string, AskOption>, description = ""): string {
  const rows = Object.entries(defs).map(([name, d]) => {
    const dflt = d.default === undefined ? (d.required ? " (required)" : "") : ` (default ${Array.isArray(d.default) ? d.default.join(",") : d.default})`;
    return `  --${kebab(name).padEnd(16)} ${d.message ?? name}${dflt} [env ${envName(name)}]`;
  });
  return `${description ? `${description}\n\n` : ""}Options:\n${rows.join("\n")}\n  --yes              use defaults, never prompt\n  --save             remember the answers in microforge.options.json\n  --update/--locked  re-resolve versions / refuse lock file changes\n  --help             this help\n`;
}

async function kernelChoices(): Promise<{ name: string; value: string }[]> {
  const c = await kernelCandidates({ quiet: true, log: { step() {}, warn() {} } });
  const channel = (m: string) => c.choices.filter((x) => x.moniker === m && !x.iseol)[0];
  const named = ["longterm", "stable", "mainline"].flatMap((m) => (channel(m) ? [{ name: `${m} (now ${channel(m).version})`, value: m }] : []));
  const each = c.choices.map((x) => ({ name: `${x.version}  ${[x.moniker, x.iseol ? "EOL" : ""].filter(Boolean).join(", ")}`, value: x.version }));
  return [...named, ...each];
}

/** Resolve every option in `defs`: flags, environment, saved answers, prompts, defaults. */
export async function ask<T extends Record<string, unknown> = Record<string, unknown>>(defs: Record<string, AskOption>, ctx: AskContext = {}): Promise<T> {
  // Values stay strings (coerced per option below): "--kernel 6.10" must not become 6.1.
  const flags: FlagSpec[] = [
    ...Object.entries(defs).map(([n, d]): FlagSpec => ({ name: kebab(n), type: d.type === "boolean" ? "boolean" : "string", description: d.message ?? n })),
    ...["yes", "save", "help", "update", "locked"].map((name): FlagSpec => ({ name, alias: name === "help" ? "h" : name === "yes" ? "y" : undefined, type: "boolean", description: name })),
  ];
  const argv = parseFlagList(flags, ctx.argv ?? process.argv.slice(2), { who: "this recipe", help: "--help", keepUnset: true });
  if (argv.help) {
    process.stdout.write(askHelp(defs, ctx.description));
    (ctx.exit ?? ((code: number) => process.exit(code)))(0);
  }
  const env = ctx.env ?? process.env;
  const log = ctx.log ?? stderrLogger();
  const interactive = ctx.interactive ?? (process.stdin.isTTY === true && !argv.yes && env.CI !== "true");
  let prompts = ctx.prompts;
  const savedFile = ctx.dir ? join(ctx.dir, "microforge.options.json") : undefined;
  const saved: Record<string, unknown> = savedFile ? await readFile(savedFile, "utf8").then(JSON.parse, () => ({})) : {};
  const answers: Record<string, unknown> = {};
  const asked: string[] = [];
  for (const [name, def] of Object.entries(defs)) {
    const flag = argv[kebab(name)];
    const fromEnv = env[envName(name)];
    if (flag !== undefined) answers[name] = check(name, def, coerce(name, def, flag));
    else if (fromEnv !== undefined && fromEnv !== "") answers[name] = check(name, def, coerce(name, def, fromEnv));
    else if (name in saved) answers[name] = check(name, def, saved[name]);
    else if (interactive) {
      prompts ??= await import("@inquirer/prompts");
      answers[name] = await promptFor(name, def, prompts);
      asked.push(name);
    } else if (def.default !== undefined) answers[name] = def.default;
    else if (def.required) throw new OptionError(`Option --${kebab(name)} is required`, `pass --${kebab(name)} VALUE (or set ${envName(name)})`);
  }
  if (!interactive) log.step(`options: ${Object.entries(answers).map(([k, v]) => `${kebab(k)}=${Array.isArray(v) ? v.join(",") : v}`).join(" ")}`);
  if (argv.save) {
    if (!savedFile) throw new OptionError("--save needs the recipe's directory", "pass { dir } to ask()");
    await writeFileAtomic(savedFile, JSON.stringify({ ...saved, ...answers }, null, 2) + "\n");
    log.step(`saved the answers in ${savedFile}`);
  }
  // `_`: the words after `--`; `_scripted`: no prompts (--yes, CI=true or no terminal), so a recipe need not read argv itself.
  return { ...answers, _: argv._, _scripted: !interactive } as unknown as T;
}

async function promptFor(name: string, def: AskOption, p: Prompts): Promise<unknown> {
  const message = def.message ?? name;
  const validate = (v: unknown) => def.validate?.(v) ?? true;
  switch (def.type) {
    case "boolean":
      return await p.confirm({ message, default: def.default as boolean | undefined });
    case "number":
      return Number(await p.input({ message, default: def.default === undefined ? undefined : String(def.default), validate: (v) => (Number.isFinite(Number(v)) ? validate(Number(v)) : "enter a number") }));
    case "select":
    case "kernel": {
      const choices = def.type === "kernel" ? await kernelChoices().catch(() => undefined) : def.choices?.map((c) => (typeof c === "string" ? { name: c, value: c } : c));
      if (!choices?.length) return await p.input({ message, default: def.default as string | undefined, validate });
      return await p.select({ message, choices, default: def.default as string | undefined });
    }
    case "checkbox": {
      const chosen = new Set((def.default as string[] | undefined) ?? []);
      const choices = (def.choices ?? []).map((c) => (typeof c === "string" ? { name: c, value: c } : c)).map((c) => ({ ...c, checked: chosen.has(c.value) }));
      return await p.checkbox({ message, choices });
    }
    default:
      return await p.input({ message, default: def.default as string | undefined, validate });
  }
}
