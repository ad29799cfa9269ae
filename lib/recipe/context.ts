/**
 * Where the running recipe lives: its directory holds its `templates/`
 * (searched before the built-in ones) and its `microforge.lock.json`.
 */
import { dirname, join, resolve } from "node:path";
import { LOCK_FILE_NAME } from "../sources/lock-file.ts";
import type { LockOptions } from "../fetch/locked.ts";

/** The recipe's directory, templates and lock file. */
export interface RecipeContext {
  dir: string;
  templates: string;
  lock: LockOptions;
}

/**
 * Whether boolean flag `--name` is on in a recipe's argv, by minimist's rules
 * (`--no-name`, `--name=false` and `--name false` turn it off; nothing after
 * `--` counts). Not zx's minimist itself: importing zx costs every CLI start
 * ~120 ms on Node (issue #7).
 */
function flagOn(args: readonly string[], name: string): boolean {
  let on = false;
  for (let i = 0; i < args.length && args[i] !== "--"; i++) {
    if (args[i] === `--no-${name}`) on = false;
    else if (args[i] === `--${name}`) on = args[i + 1] !== "false";
    else if (args[i].startsWith(`--${name}=`)) on = args[i] !== `--${name}=false`;
  }
  return on;
}

/**
 * The context of the program's main module (the recipe); `--update` /
 * `--locked` on its command line set the lock mode, and `MICROFORGE_LOCK_FILE`
 * names another lock file (a CI job's, or a test's own).
 */
export function recipeContext(argv: readonly string[] = process.argv, env: Record<string, string | undefined> = process.env): RecipeContext {
  const main = argv[1] ? resolve(argv[1]) : join(process.cwd(), "recipe");
  const dir = dirname(main);
  const args = argv.slice(2);
  const mode = flagOn(args, "locked") ? "locked" : flagOn(args, "update") ? "update" : "reuse";
  return { dir, templates: join(dir, "templates"), lock: { path: env.MICROFORGE_LOCK_FILE ? resolve(env.MICROFORGE_LOCK_FILE) : join(dir, LOCK_FILE_NAME), mode } };
}
