/**
 * `microforge new <dir>`: scaffold a recipe project. What the flags do not
 * say is asked for on a terminal (Inquirer.js prompts through `ask()`), or
 * taken from the defaults with `--yes`, `CI=true` or no tty.
 */
import { basename, resolve } from "node:path";
import { ask, type Prompts } from "../recipe/ask.ts";
import type { Command } from "./command.ts";
import type { ParsedArgs } from "../util/flags.ts";
import { MicroforgeError, UsageError } from "../util/errors.ts";
import { CHANNELS, specRange } from "../sources/version-spec.ts";
import { parseCpus, parseMemory } from "../vm/values.ts";
import { stderrLogger } from "../util/log.ts";
import { shellQuote } from "../util/shell-quote.ts";
import { isNonEmptyDir, notEmptyError, SCAFFOLD_DEFAULTS, SCAFFOLD_FEATURES, type ScaffoldAnswers, scaffoldFiles, writeScaffold } from "../recipe/scaffold.ts";

/** Side effects of `microforge new`, injectable for tests. */
export interface NewDeps {
  /** The prompt functions (default: Inquirer.js). */
  prompts?: Prompts;
  /** Prompt at all? Default: stdin is a tty, and neither --yes nor CI=true. */
  interactive?: boolean;
  env?: Record<string, string | undefined>;
  write?: (text: string) => void;
}

/** A package name from a directory name: lower case, and only the characters npm allows. */
export function packageName(dir: string): string {
  return basename(resolve(dir)).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+|-+$/g, "") || "recipe";
}

/** `true`, or what is wrong, for a prompt's validate. */
function valid(check: (v: string) => unknown): (v: unknown) => true | string {
  return (v) => {
    try {
      check(String(v));
      return true;
    } catch (err) {
      return err instanceof MicroforgeError ? `${err.summary} (${err.hint})` : (err as Error).message;
    }
  };
}

const versionSpec = (what: string, channels: readonly string[]) => (v: string) => {
  if (!channels.includes(v) && !specRange(v)) throw new UsageError(`${v} is not a ${what} version spec`, `use ${[...channels, "6.6", "^6.1"].join(", ")}`);
};

/** Ask for the answers the flags leave open. */
export async function newAnswers(args: ParsedArgs, dir: string, deps: NewDeps = {}): Promise<ScaffoldAnswers> {
  const env = deps.env ?? process.env;
  const interactive = deps.interactive ?? (process.stdin.isTTY === true && !args.yes && env.CI !== "true");
  // ask() asks only for what it has no value for. The given flags reach it as its
  // environment, not as argv: its argv parser would read `--kernel 6.10` as the number 6.1.
  const given = ["name", "kernel", "busybox", "memory", "cpus", "features", "mode", "command"].filter((f) => args[f] !== undefined);
  const values = Object.fromEntries(given.map((f) => [`MICROFORGE_${f.toUpperCase()}`, String(args[f])]));
  const ctx = { argv: [], env: values, interactive, prompts: deps.prompts, log: stderrLogger({ quiet: true }) };
  const d = SCAFFOLD_DEFAULTS;
  const first = await ask<Omit<ScaffoldAnswers, "command">>({
    name: { type: "string", message: "Package name", default: packageName(dir), validate: valid((v) => {
      if (!/^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/.test(v) || v.length > 214) throw new UsageError(`${JSON.stringify(v)} is not an npm package name`, "use lower case letters, digits, - . _");
    }) },
    kernel: { type: "kernel", message: "Kernel (channel or version)", default: d.kernel, validate: valid(versionSpec("kernel", [...CHANNELS, "latest"])) },
    busybox: { type: "string", message: "Busybox version", default: d.busybox, validate: valid(versionSpec("busybox", ["latest"])) },
    memory: { type: "string", message: "Guest memory", default: d.memory, validate: valid(parseMemory) },
    cpus: { type: "number", message: "Virtual CPUs", default: d.cpus, validate: valid(parseCpus) },
    features: {
      type: "checkbox",
      message: "Devices (net: networking, share: a host directory, disk: a disk image)",
      choices: SCAFFOLD_FEATURES,
      default: d.features,
      validate: (v) => (v as string[]).every((f) => f === "none" || (SCAFFOLD_FEATURES as readonly string[]).includes(f)) || `choose among ${SCAFFOLD_FEATURES.join(", ")} (or none)`,
    },
    mode: {
      type: "select",
      message: "What the recipe does",
      choices: [{ name: "shell: a shell on the VM's console", value: "shell" }, { name: "command: run a command in the VM and exit with its status", value: "command" }],
      default: d.mode,
      validate: (v) => v === "shell" || v === "command" || "use shell or command",
    },
  }, ctx);
  const features = first.features.filter((f) => f !== "none");
  if (first.mode !== "command") return { ...first, features, command: (args.command as string | undefined) ?? d.command };
  const { command } = await ask<{ command: string }>({
    command: { type: "string", message: "Command to run in the VM", default: d.command, validate: (v) => String(v).trim() !== "" || "enter a command" },
  }, ctx);
  return { ...first, features, command };
}

/** The `new` subcommand. */
export const newCommand: Command = {
  name: "new",
  summary: "Create a recipe project: recipe.ts, its own templates, package.json and deno.json",
  usage: "<dir> [--name NAME] [--kernel SPEC] [--mode shell|command] [--yes] [--force]",
  flags: [
    { name: "name", type: "string", description: "package name (default: the directory's name)" },
    { name: "kernel", type: "string", description: "kernel version spec: longterm, stable, 6.6, ^6.1 (default longterm)" },
    { name: "busybox", type: "string", description: "busybox version spec (default latest)" },
    { name: "memory", type: "string", description: "guest memory: 512M, 1G (default 512M)" },
    { name: "cpus", type: "string", description: "virtual CPUs (default 1)" },
    { name: "features", type: "string", description: "devices, comma-separated: net, share, disk, or none (default none)" },
    { name: "mode", type: "string", description: "shell (a console; `-- CMD` runs a command) or command (run --command and exit) (default shell)" },
    { name: "command", type: "string", description: "the command for --mode command (default \"uname -a\")" },
    { name: "yes", alias: "y", type: "boolean", description: "do not prompt: defaults for what is not given" },
    { name: "force", type: "boolean", description: "write into a directory that is not empty (its other files are kept)" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    return await runNew(args);
  },
};

/** `microforge new` with injectable prompts; resolves to the exit code. */
export async function runNew(args: ParsedArgs, deps: NewDeps = {}): Promise<number> {
  const [dir, extra] = args._;
  if (!dir) throw new UsageError("microforge new needs a directory", "e.g. `microforge new my-vm`");
  if (extra !== undefined) throw new UsageError(`Unexpected argument ${extra}`, "pass one directory; quote a command given with --command");
  const target = resolve(dir);
  // Refuse before asking anything.
  if (!args.force && (await isNonEmptyDir(target))) throw notEmptyError(target);
  const answers = await newAnswers(args, target, deps);
  await writeScaffold(target, scaffoldFiles(answers, { dir: target }), { force: args.force as boolean });
  const write = deps.write ?? ((text: string) => process.stdout.write(text));
  const how = answers.mode === "shell" ? "a shell on the VM's console" : `runs ${answers.command} in the VM`;
  write(`Created ${answers.name} in ${target}: ${how}.\n\n  cd ${shellQuote(dir)}\n  npm install && npm start     # or: deno task start\n  npx tsx recipe.ts --yes -- uname -a\n`);
  return 0;
}
