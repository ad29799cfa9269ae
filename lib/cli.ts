#!/usr/bin/env -S deno run -A
/**
 * The `microforge` executable: `microforge <command> [options]`. The
 * commands live in `lib/cli/`, one file each, and `lib/cli/main.ts` runs them.
 *
 * This entry loads almost nothing itself: a scripted `run` whose command
 * line booted before starts that VM first (run/warm-start.ts), and only then
 * is the rest of microforge loaded, on the other core, while it boots.
 */
import { warmStart } from "./run/warm-start.ts";
import { isMainModule } from "./util/runtime.ts";

/** Run `microforge` with `argv` (without the program name); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const warm = await warmStart(argv).catch(() => undefined);
  try {
    const cli = await import("./cli/main.ts");
    return await cli.main(argv, { warm });
  } finally {
    await warm?.abandon();
  }
}

if (isMainModule(import.meta)) {
  process.exitCode = await main(process.argv.slice(2));
}
