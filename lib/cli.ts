#!/usr/bin/env -S deno run -A
/**
 * The `microforge` executable: `microforge <command> [options]`. The
 * commands live in `lib/cli/`, one file each, and `lib/cli/main.ts` runs them.
 */
import { main } from "./cli/main.ts";
import { isMainModule } from "./util/runtime.ts";

export { commands, main } from "./cli/main.ts";

if (isMainModule(import.meta)) {
  process.exitCode = await main(process.argv.slice(2));
}
