/**
 * Finding a program the way a shell would, from the PATH of an injected
 * environment, so tests can hide a tool by passing a PATH without it.
 */
import { accessSync, constants, statSync } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, join } from "node:path";

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The first executable file named `name` on `env.PATH`, or undefined; a name with a slash is checked as is. */
export async function findOnPath(
  name: string,
  env: Record<string, string | undefined> = process.env,
): Promise<string | undefined> {
  if (name.includes("/")) return (await isExecutableFile(name)) ? name : undefined;
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue; // an empty entry means the current directory; never trust it
    const candidate = join(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** {@linkcode findOnPath} without waiting, for the few callers that cannot (building a spawn's argv). */
export function findOnPathSync(name: string, env: Record<string, string | undefined> = process.env): string | undefined {
  const candidates = name.includes("/") ? [name] : (env.PATH ?? "").split(delimiter).filter(Boolean).map((d) => join(d, name));
  return candidates.find((c) => {
    try {
      accessSync(c, constants.X_OK);
      return statSync(c).isFile();
    } catch {
      return false;
    }
  });
}
