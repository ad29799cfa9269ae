/**
 * The steps a kernel build of a release and of a local tree share: the
 * inputs and cache key ({@linkcode buildInputs}), then configure, verify,
 * make and store ({@linkcode configureAndMake}). Module support is switched
 * on here whenever the config asks for an `=m` symbol or the caller will
 * build modules against the kernel; such a build also makes and installs
 * the modules (`make bzImage modules`, then `modules_install`).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { cacheRoot } from "../util/cache-dir.ts";
import { KernelBuildError } from "../util/errors.ts";
import { type Runner, runProcess } from "../util/process.ts";
import { configureKernel } from "./config.ts";
import { type ConfigRequestOptions, DEFAULT_FEATURES, kernelConfigRequest, localFragment } from "./fragments.ts";
import { sha256Hex } from "../util/hash.ts";
import { findOnPath } from "../util/find-on-path.ts";
import { memoByStat } from "../util/stat-memo.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import type { LocalTree } from "./local-tree.ts";
import { type KernelBuild, kernelBuildDir, readCached, storeBuild } from "./build-cache.ts";
import { installModules, runMake, stopOrphanMake } from "./build-make.ts";
import { withModuleFeature } from "./modules.ts";
import { type Arch, archInfo, hostArch, isCross } from "../util/arch.ts";

/** Bump when the build recipe changes, so older cache entries are not reused. */
const BUILD_FORMAT = 1;

/** Inputs of `buildKernel`. */
export interface KernelBuildOptions extends Omit<ConfigRequestOptions, "version"> {
  /** A release tarball (fetched and verified), or... */
  tarball?: { path: string; sha256: string; version: string };
  /** ...a local source tree of the user's, built out of tree and never written to. */
  tree?: string;
  /**
   * Switch loadable module support on (the `modules` feature), because
   * modules will be built against this kernel or loaded into it. It is on
   * by itself when some symbol is `=m`, unless the config says CONFIG_MODULES=n.
   */
  moduleSupport?: boolean;
  /** The guest architecture (default x86_64): cross-built with Debian's gcc-<arch>-linux-gnu elsewhere. */
  arch?: Arch;
  /** Extra make variables (`KCFLAGS=-O2`); part of the cache key. */
  makeVars?: readonly string[];
  jobs?: number;
  allowDropped?: boolean;
  env?: Record<string, string | undefined>;
  run?: Runner;
  log?: Logger;
  quiet?: boolean;
}

/** Environment for reproducible builds: fixed timestamp, user, host and build number. */
export function reproducibleEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const epoch = Number(env.SOURCE_DATE_EPOCH ?? 0);
  return {
    ...env,
    LC_ALL: "C",
    KBUILD_BUILD_TIMESTAMP: env.KBUILD_BUILD_TIMESTAMP ?? new Date(epoch * 1000).toUTCString(),
    KBUILD_BUILD_USER: env.KBUILD_BUILD_USER ?? "microforge",
    KBUILD_BUILD_HOST: env.KBUILD_BUILD_HOST ?? "microforge",
    KBUILD_BUILD_VERSION: env.KBUILD_BUILD_VERSION ?? "1",
  };
}

/** The make environment of a build for `arch`: ARCH, and CROSS_COMPILE on a host of another architecture. */
export function archEnv(arch: Arch): Record<string, string> {
  const a = archInfo(arch);
  return { ARCH: a.kernelArch, ...(isCross(arch) ? { CROSS_COMPILE: a.crossCompile } : {}) };
}

/**
 * The first line of `gcc --version`. On the real host it is remembered until
 * the compiler file changes (a warm cache hit then spawns nothing); an
 * injected runner is always asked.
 */
async function compilerVersion(run: Runner | undefined, env: Record<string, string | undefined>, arch: Arch): Promise<string> {
  const gcc = isCross(arch) ? `${archInfo(arch).crossCompile}gcc` : "gcc";
  const ask = async () => (await (run ?? runProcess)([gcc, "--version"], { env, nothrow: true }).catch(() => undefined))?.stdout.split("\n")[0] ?? "unknown";
  const path = run ? undefined : await findOnPath(gcc, env);
  return path ? await memoByStat(`${gcc} --version at ${path}`, [path], ask, env) : await ask();
}

/** The config request of a build: the layers, with the `modules` feature added when the build needs it. */
export function buildRequest(options: KernelBuildOptions, version: string): ReturnType<typeof kernelConfigRequest> {
  const base = { ...options, version, local: options.local ?? localFragment(options.templateDirs ?? []) };
  const request = kernelConfigRequest(base);
  const features = options.features ?? DEFAULT_FEATURES;
  const withModules = withModuleFeature(features, request.requested, options.moduleSupport);
  return withModules === features ? request : kernelConfigRequest({ ...base, features: withModules });
}

/** What a build is made from, its cache key, and where its entry lives. */
export interface BuildInputs {
  env: Record<string, string | undefined>;
  run: Runner;
  log: Logger;
  request: ReturnType<typeof kernelConfigRequest>;
  makeVars: string[];
  buildEnv: Record<string, string | undefined>;
  inputs: Record<string, unknown>;
  key: string;
  root: string;
  dir: string;
}

/**
 * The inputs of a build from `source` (a tarball's sha256 or a tree's real
 * path) at `version`, and its cache key: the sha256 of (source, merged
 * fragment, make variables, compiler version).
 */
export async function buildInputs(options: KernelBuildOptions, source: { tarball: string } | { tree: string }, version: string): Promise<BuildInputs> {
  const env = options.env ?? process.env;
  const run = options.run ?? runProcess;
  const log = options.log ?? stderrLogger({ quiet: options.quiet });
  const request = buildRequest(options, version);
  const makeVars = [...(options.makeVars ?? [])];
  const arch = options.arch ?? hostArch();
  const a = archInfo(arch);
  // ARCH and CROSS_COMPILE from the environment reach every make: allnoconfig, the build, modules, out-of-tree modules.
  const buildEnv = { ...reproducibleEnv(env), ...archEnv(arch) };
  // The key order is part of the key: unchanged, x86_64 entries built before architectures are reused.
  const inputs = { format: BUILD_FORMAT, ...source, fragment: request.fragment, makeVars, compiler: await compilerVersion(options.run, buildEnv, arch), target: a.makeTarget, ...(arch !== "x86_64" ? { arch } : {}) };
  const key = sha256Hex(JSON.stringify(inputs));
  const root = cacheRoot(env);
  return { env, run, log, request, makeVars, buildEnv, inputs, key, root, dir: join(root, "kernels", key) };
}

/** What {@linkcode configureAndMake} works from. */
export interface BuildJob extends BuildInputs {
  options: KernelBuildOptions;
  tree: string;
  version: string;
  started: number;
  local?: LocalTree;
}

/** Configure and verify in the kept O= directory, make, and store the artifacts under `dir`. */
export async function configureAndMake(j: BuildJob): Promise<KernelBuild> {
  const { options, tree, version, request, log } = j;
  const buildDir = kernelBuildDir(j.key, j.env);
  const orphan = await stopOrphanMake(buildDir);
  if (orphan) log.warn(`stopped make (pid ${orphan}) left running in ${buildDir} by a build that was killed`);
  log.step(`configuring linux ${version}: ${request.layers.map((l) => l.name).join(" → ")} (${request.requested.size} symbols)`);
  const configured = await configureKernel(tree, buildDir, request, { run: j.run, env: j.buildEnv, allowDropped: options.allowDropped });
  for (const d of configured.dropped) log.warn(`CONFIG_${d.symbol}=${d.requested} was dropped (${d.actual})${d.why.length ? `: ${d.why.join("; ")}` : ""}`);
  const configHash = sha256Hex(configured.config);
  // `make modules` also writes Module.symvers, which out-of-tree modules are built against.
  const modules = /^CONFIG_MODULES=y$/m.test(configured.config);
  const make = { tree, buildDir, makeVars: j.makeVars, run: j.run, env: j.buildEnv };
  const arch = j.options.arch ?? hostArch();
  const target = archInfo(arch).makeTarget;
  const steps = await runMake({ ...make, targets: modules ? [target, "modules"] : [target], version, configHash, yes: configured.yes, root: j.root, jobs: options.jobs, quiet: options.quiet });
  const release = (await readFile(join(buildDir, "include/config/kernel.release"), "utf8").catch(() => "")).trim() || undefined;
  if (modules && !release) throw new KernelBuildError(`The kernel build in ${buildDir} has no include/config/kernel.release, so its modules have no place`, "run the build again; if it keeps failing, remove that directory");
  const local = j.local ? { path: j.local.path, git: j.local.git } : undefined;
  const meta = { key: j.key, version, configHash, pvh: /^CONFIG_PVH=y$/m.test(configured.config), yes: configured.yes, steps, inputs: j.inputs, release, tree, local, arch };
  const installer = modules ? (root: string) => installModules(make, root) : undefined;
  await storeBuild(buildDir, j.dir, { config: configured.config, fragment: request.fragment, meta, started: j.started, env: j.env, installModules: installer, imagePath: archInfo(arch).imagePath });
  const built = await readCached(j.dir, j.key, j.env);
  if (!built.build) throw new KernelBuildError(`The kernel build in ${j.dir} did not verify after writing: ${built.problem}`, "check the disk and try again");
  return { ...built.build, cached: false };
}
