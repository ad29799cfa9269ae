/**
 * Extracted kernel source trees, cached by tarball sha256 and reused across
 * configs. A tree is extracted under a temp name and renamed when complete,
 * so a half-extracted tree is never taken for a whole one.
 */
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { cacheRoot, tempPathFor } from "./cache-dir.ts";
import { MicroforgeError } from "./errors.ts";
import { type Runner, runCommand } from "./exec.ts";
import { type Logger, stderrLogger } from "./log.ts";

/** Options of {@linkcode sourceTree}. */
export interface SourceTreeOptions {
  env?: Record<string, string | undefined>;
  run?: Runner;
  log?: Logger;
}

/** `<cache>/src/<sha256>`: the tree of a tarball, top directory stripped. */
export function sourceTreePath(sha256: string, env: Record<string, string | undefined> = process.env): string {
  return join(cacheRoot(env), "src", sha256);
}

/** Extract `tarball` (sha256 `sha256`) once; return the tree's path. */
export async function sourceTree(tarball: { path: string; sha256: string; version?: string }, options: SourceTreeOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const dir = sourceTreePath(tarball.sha256, env);
  if (await stat(join(dir, "Makefile")).then(() => true, () => false)) return dir;
  const log = options.log ?? stderrLogger();
  log.step(`extracting ${tarball.version ? `linux ${tarball.version}` : tarball.path} (about a minute for a full tree)`);
  await mkdir(join(dir, ".."), { recursive: true });
  const tmp = tempPathFor(dir);
  await mkdir(tmp);
  try {
    // GNU tar refuses ".." members and strips leading "/" by default; owners are not restored.
    await (options.run ?? runCommand)(["tar", "-xf", tarball.path, "-C", tmp, "--strip-components=1", "--no-same-owner", "--no-same-permissions"], {
      hint: "the tarball may be damaged: delete it from the cache (`microforge cache clean`) and fetch again",
    });
    if (!(await readdir(tmp)).includes("Makefile")) {
      throw new MicroforgeError(`${tarball.path} does not look like a kernel source tarball (no top-level Makefile)`, "check the kernel source");
    }
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return dir;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
