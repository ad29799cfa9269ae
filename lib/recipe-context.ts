/**
 * Where the running recipe lives: its directory holds its `templates/`
 * (searched before the built-in ones) and its `microforge.lock.json`.
 */
import { dirname, join, resolve } from "node:path";
import { minimist } from "zx";
import { LOCK_FILE_NAME } from "./lock-file.ts";
import type { LockOptions } from "./locked-artifacts.ts";

/** The recipe's directory, templates and lock file. */
export interface RecipeContext {
  dir: string;
  templates: string;
  lock: LockOptions;
}

/** The context of the program's main module (the recipe); `--update` / `--locked` on its command line set the lock mode. */
export function recipeContext(argv: readonly string[] = process.argv): RecipeContext {
  const main = argv[1] ? resolve(argv[1]) : join(process.cwd(), "recipe");
  const dir = dirname(main);
  const flags = minimist(argv.slice(2), { boolean: ["update", "locked"] });
  const mode = flags.locked ? "locked" : flags.update ? "update" : "reuse";
  return { dir, templates: join(dir, "templates"), lock: { path: join(dir, LOCK_FILE_NAME), mode } };
}
