/**
 * Loadable kernel modules, the parts every stage shares: when a config
 * request needs module support (a symbol `=m`, or modules asked for by
 * name or source directory), what a module name may be, and a content hash
 * of a module tree (the cache verifies installed modules with it).
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "../util/errors.ts";
import { sha256File, sha256Hex } from "../util/hash.ts";

/** True when some requested symbol is `=m`: the build then needs CONFIG_MODULES. */
export function requestsModules(requested: ReadonlyMap<string, string>): boolean {
  for (const v of requested.values()) if (v === "m") return true;
  return false;
}

/**
 * The features a build asks for, plus `modules` when it needs module
 * support (`wanted`, or a symbol `=m`) and the request does not say
 * CONFIG_MODULES itself: an explicit `CONFIG_MODULES=n` is left alone
 * (the `=m` symbols are then built in).
 */
export function withModuleFeature(features: readonly string[], requested: ReadonlyMap<string, string>, wanted = false): readonly string[] {
  if (features.includes("modules") || requested.has("MODULES")) return features;
  return wanted || requestsModules(requested) ? [...features, "modules"] : features;
}

/** What the kernel accepts as a module name (`modprobe` treats `-` and `_` alike). */
const MODULE_NAME = /^[A-Za-z0-9_-]{1,55}$/;

/** The name `modprobe` knows a module file by: the base name without `.ko`, `-` as `_`. */
export function moduleName(file: string): string {
  return (file.split("/").pop() ?? file).replace(/\.ko$/, "").replaceAll("-", "_");
}

/** Check a module name given by the user (`--modules a,b`); returns it with `-` as `_`. */
export function checkModuleName(name: string): string {
  if (!MODULE_NAME.test(name)) {
    throw new UsageError(`Invalid module name ${JSON.stringify(name)}`, "give module names as modprobe takes them (letters, digits, _ and -), e.g. --modules dummy,hello");
  }
  return name.replaceAll("-", "_");
}

/** Regular files under `dir`, as sorted relative paths; symlinks and other kinds are skipped. */
export async function treeFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    const names = (await readdir(join(dir, rel))).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const s = await lstat(join(dir, path));
      if (s.isDirectory()) await walk(path);
      else if (s.isFile()) out.push(path);
    }
  };
  await walk("");
  return out.sort();
}

/** sha256 over every regular file under `dir`: its relative path and content hash, in path order. */
export async function treeSha256(dir: string): Promise<string> {
  const lines: string[] = [];
  for (const path of await treeFiles(dir)) lines.push(`${path}\0${await sha256File(join(dir, path))}\n`);
  return sha256Hex(...lines);
}
