/**
 * The directory of the microforge package (where package.json, templates/
 * and lib/ are), found by walking up from this module: the same answer from
 * lib/util/, from tsc's dist/lib/util/, from the dist/cli.js bundle, and from
 * an installed copy (node_modules/microforge).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function isOurs(dir: string): boolean {
  try {
    return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name === "microforge";
  } catch {
    return false;
  }
}

/** The package root above `start` (default: this module's directory). */
export function findPackageRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json")) && isOurs(dir)) return dir;
    if (dirname(dir) === dir) throw new Error(`Cannot find microforge's package.json above ${start}`);
  }
}

/** microforge's package root. */
export const packageRoot: string = findPackageRoot();
