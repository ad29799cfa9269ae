/**
 * Building a local tree of the user's: keyed by its real path and the merged
 * config, so the kept O= directory makes every later build incremental. The
 * tree may have changed since the last build, so make always runs (it does
 * nothing when nothing changed).
 */
import { withMutex } from "../fetch/mutex.ts";
import { assertBuildToolchain } from "../host/toolchain.ts";
import type { KernelBuild } from "./build-cache.ts";
import { kernelBuildDir } from "./build-cache.ts";
import { buildInputs, configureAndMake, type KernelBuildOptions } from "./build-steps.ts";
import type { LocalTree } from "./local-tree.ts";

/** Build `local` (checked by `localTree`) out of tree into its kept O= directory, and store the artifacts. */
export async function buildLocalTree(options: KernelBuildOptions, local: LocalTree): Promise<KernelBuild> {
  const inputs = await buildInputs(options, { tree: local.path }, local.version);
  const { env, run, log, key, root } = inputs;
  await assertBuildToolchain({ env, run });
  const git = local.git ? ` at ${local.git.commit.slice(0, 12)}${local.git.dirty ? " (dirty)" : ""}` : "";
  log.step(`kernel tree ${local.path}${git}: building out of tree in ${kernelBuildDir(key, env)}`);
  return await withMutex(`kernel-${key}`, async () => {
    return await configureAndMake({ ...inputs, options, tree: local.path, version: local.version, started: Date.now(), local });
  }, { cacheDir: root, what: `kernel build ${key.slice(0, 12)}`, log });
}
