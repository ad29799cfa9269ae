/**
 * Building a kernel: layered config → verified allnoconfig → `make bzImage`
 * (and `modules` when the config has CONFIG_MODULES=y), cached by its
 * inputs. The cache key is the sha256 of (tarball sha256, merged fragment,
 * make variables, compiler version); a hit returns the artifacts without
 * touching the source tree, after checking their sha256: a damaged or
 * incomplete entry is reported with a warning and rebuilt. Artifacts are
 * copied out of the O= directory (moving a build directory forces a
 * near-full rebuild), which is kept in `<cache>/build/<key>` so a rebuild is
 * an incremental make and out-of-tree modules can be built against it;
 * `cache clean` removes it like any entry. A make left running by a killed
 * build is stopped before the directory is used again. Local trees are
 * built by build-local.ts; the shared steps are in build-steps.ts.
 */
import { rm } from "node:fs/promises";
import { KernelBuildError } from "../util/errors.ts";
import { withMutex } from "../fetch/mutex.ts";
import { sourceTree } from "./source-tree.ts";
import { localTree } from "./local-tree.ts";
import { assertBuildToolchain } from "../host/toolchain.ts";
import { type KernelBuild, kernelBuildDir, moduleBuildReady, readCached } from "./build-cache.ts";
import { buildInputs, configureAndMake, type KernelBuildOptions } from "./build-steps.ts";
import { buildLocalTree } from "./build-local.ts";

export type { KernelBuild } from "./build-cache.ts";
export { kernelBuildDir, moduleBuildReady } from "./build-cache.ts";
export type { KernelBuildOptions } from "./build-steps.ts";
export { reproducibleEnv } from "./build-steps.ts";

/** Build (or fetch from the cache) the kernel described by `options`. */
export async function buildKernel(options: KernelBuildOptions): Promise<KernelBuild> {
  if (options.tree !== undefined) return await buildLocalTree(options, await localTree(options.tree, { run: options.run }));
  if (!options.tarball) throw new KernelBuildError("buildKernel needs a tarball or a tree", "pass { tarball } (from lockedKernel) or { tree: DIR }");
  const tarball = options.tarball;
  const version = tarball.version;
  const inputs = await buildInputs(options, { tarball: tarball.sha256 }, version);
  const { env, run, log, key, dir, root } = inputs;
  // Modules built against a cached kernel need its kept O= directory; `cache clean` may have removed it.
  const usable = async (b: KernelBuild) => !options.moduleSupport || !b.modules || await moduleBuildReady(b, env);
  const first = await readCached(dir, key, env);
  if (first.build && await usable(first.build)) {
    log.step(`kernel ${version} (config ${first.build.configHash.slice(0, 12)}) from the cache`);
    return first.build;
  }
  await assertBuildToolchain({ env, run }, options.arch);
  return await withMutex(`kernel-${key}`, async () => {
    const again = await readCached(dir, key, env);
    if (again.build && await usable(again.build)) return again.build;
    if (again.build) log.step(`kernel ${version}: its build directory ${kernelBuildDir(key, env)} is gone, and modules are built against it: building it again`);
    if (again.problem) {
      log.warn(`the cached kernel ${dir} is damaged: ${again.problem}; rebuilding it`);
      await rm(dir, { recursive: true, force: true });
    }
    const started = Date.now();
    const tree = await sourceTree(tarball, { env, log });
    return await configureAndMake({ ...inputs, options, tree, version, started });
  }, { cacheDir: root, what: `kernel build ${key.slice(0, 12)}`, log });
}
