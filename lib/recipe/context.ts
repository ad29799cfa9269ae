/**
 * Where the running recipe lives: its directory holds its `templates/`
 * (searched before the built-in ones) and its `microforge.lock.json`.
 */
import { dirname, join, resolve } from "node:path";
import { type FlagSpec, parseFlagList } from "../util/flags.ts";
import { LOCK_FILE_NAME } from "../sources/lock-file.ts";
import type { LockOptions } from "../fetch/locked.ts";

/** The recipe's directory, templates and lock file. */
export interface RecipeContext {
  dir: string;
  templates: string;
  lock: LockOptions;
}

/** The recipe's own lock flags, read from its argv by the one flag parser (its other flags are ask()'s). */
const LOCK_FLAGS: FlagSpec[] = [
  { name: "locked", type: "boolean", description: "refuse lock file changes" },
  { name: "update", type: "boolean", description: "re-resolve versions" },
];

/**
 * The context of the program's main module (the recipe); `--update` /
 * `--locked` on its command line set the lock mode, and `MICROFORGE_LOCK_FILE`
 * names another lock file (a CI job's, or a test's own).
 */
export function recipeContext(argv: readonly string[] = process.argv, env: Record<string, string | undefined> = process.env): RecipeContext {
  const main = argv[1] ? resolve(argv[1]) : join(process.cwd(), "recipe");
  const dir = dirname(main);
  const args = argv.slice(2);
  const flags = parseFlagList(LOCK_FLAGS, args, { who: "this recipe", help: "--help", lenient: true });
  const mode = flags.locked ? "locked" : flags.update ? "update" : "reuse";
  return { dir, templates: join(dir, "templates"), lock: { path: env.MICROFORGE_LOCK_FILE ? resolve(env.MICROFORGE_LOCK_FILE) : join(dir, LOCK_FILE_NAME), mode } };
}
