/**
 * The `microforge` command line: `microforge <command> [options]`.
 * Each subcommand lives in its own file in `lib/cli/` and has its own `--help`.
 */
import { type Command, type CommandContext, helpText, parseFlags } from "./command.ts";
import { suggest } from "../util/suggest.ts";
import { MicroforgeError, UsageError } from "../util/errors.ts";
import { doctorCommand } from "./doctor.ts";
import { initramfsCommand } from "./initramfs.ts";
import { versionsCommand } from "./versions.ts";
import { fetchCommand } from "./fetch.ts";
import { cacheCommand } from "./cache.ts";
import { kernelCommand } from "./kernel.ts";
import { runCommand } from "./run.ts";
import { emitCommand } from "./emit.ts";
import { rerunCommand } from "./rerun.ts";
import { testCommand } from "./test.ts";
import { buildCommand } from "./build.ts";
import { newCommand } from "./new.ts";

/** Every subcommand, in the order `--help` lists them. */
export const commands: readonly Command[] = [runCommand, testCommand, rerunCommand, emitCommand, buildCommand, newCommand, doctorCommand, versionsCommand, fetchCommand, kernelCommand, initramfsCommand, cacheCommand];

function mainHelp(): string {
  const rows = commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`);
  return `Usage: microforge <command> [options]\n\nCommands:\n${rows.join("\n")}\n\nRun \`microforge <command> --help\` for a command's options.\n`;
}

/** Run the CLI with `argv` (without the program name); resolves to the exit code. */
export async function main(argv: readonly string[], context: CommandContext = {}): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (!name || name === "--help" || name === "-h" || name === "help") {
      process.stdout.write(mainHelp());
      return name ? 0 : 2;
    }
    const cmd = commands.find((c) => c.name === name);
    if (!cmd) {
      const close = suggest(name, commands.map((c) => c.name));
      throw new UsageError(`Unknown command ${name}`, close ? `did you mean \`microforge ${close}\`?` : "see `microforge --help`");
    }
    const args = parseFlags(cmd, rest);
    if (args.help) {
      process.stdout.write(helpText(cmd));
      return 0;
    }
    return await cmd.run(args, context);
  } catch (err) {
    if (err instanceof MicroforgeError) {
      process.stderr.write(`microforge: ${err.message}\n`);
      return err.exitCode;
    }
    // A bug, not a user error: one line and where to report it; the stack with MICROFORGE_DEBUG=1.
    const e = err as Error;
    process.stderr.write(`microforge: internal error: ${e?.message ?? String(err)}\n  → this is a bug in microforge: rerun with MICROFORGE_DEBUG=1 for the stack and report it\n`);
    if (process.env.MICROFORGE_DEBUG) process.stderr.write(`${e?.stack ?? ""}\n`);
    return 1;
  }
}
