/**
 * Building a kernel: layered config → verified allnoconfig → `make bzImage`,
 * cached by its inputs. The cache key is the sha256 of (tarball sha256,
 * merged fragment, make variables, compiler version); a hit returns the
 * artifacts without touching the source tree, after checking their sha256:
 * a damaged or incomplete entry is reported with a warning and rebuilt.
 * Artifacts are copied out of the O= directory (moving a build directory
 * forces a near-full rebuild), which is kept in `<cache>/build/<key>` so a
 * rebuild is an incremental make; `cache clean` removes it like any entry.
 * A make left running by a killed build is stopped before the directory is
 * used again.
 */
import { createWriteStream } from "node:fs";
import { copyFile, readFile, readlink, rename, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { estimateSteps, recordBuildSteps } from "./build-estimate.ts";
import { cacheRoot, ensureDir, tempPathFor, writeError } from "../util/cache-dir.ts";
import { KernelBuildError } from "../util/errors.ts";
import { type Runner, runProcess } from "../util/process.ts";
import { withMutex } from "../fetch/mutex.ts";
import { configureKernel } from "./config.ts";
import { type ConfigRequestOptions, kernelConfigRequest } from "./fragments.ts";
import { sha256File, sha256Hex } from "../util/hash.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import { makeProgress } from "./make-progress.ts";
import { sourceTree } from "./source-tree.ts";
import { type LocalTree, localTree } from "./local-tree.ts";
import { assertBuildToolchain } from "../host/toolchain.ts";
import { groupMembers, groupRunning } from "../util/reaper.ts";

/** Bump when the build recipe changes, so older cache entries are not reused. */
const BUILD_FORMAT = 1;

/** A built (or cached) kernel. */
export interface KernelBuild {
  version: string;
  /** Cache key: sha256 of the build's inputs. */
  key: string;
  /** sha256 of the final `.config`. */
  configHash: string;
  dir: string;
  bzImage: string;
  vmlinux: string;
  /** What QEMU's `-kernel` boots: the vmlinux when it has the PVH entry (faster), else the bzImage. */
  bootImage: string;
  /** The config has CONFIG_PVH=y. */
  pvh: boolean;
  config: string;
  bzImageSha256: string;
  /** Set for builds since the PVH change; verified on use like the bzImage. */
  vmlinuxSha256?: string;
  /** Wall time of the build that made these artifacts. */
  seconds: number;
  /** `=y` symbols in the final config. */
  yes: number;
  cached: boolean;
  /** What `uname -r` says: `include/config/kernel.release` of the build (builds since local trees). */
  release?: string;
  /** The source tree it was built from (the cached extraction, or the user's own tree). */
  tree?: string;
  /** For a build of a local tree: the tree and its git state when it was built. */
  local?: { path: string; git?: LocalTree["git"] };
}

/** Inputs of {@linkcode buildKernel}. */
export interface KernelBuildOptions extends Omit<ConfigRequestOptions, "version"> {
  /** A release tarball (fetched and verified), or... */
  tarball?: { path: string; sha256: string; version: string };
  /** ...a local source tree of the user's, built out of tree and never written to. */
  tree?: string;
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

async function compilerVersion(run: Runner, env: Record<string, string | undefined>): Promise<string> {
  const r = await run(["gcc", "--version"], { env, nothrow: true }).catch(() => undefined);
  return r?.stdout.split("\n")[0] ?? "unknown";
}

/** What the cache holds for a key: a verified build, nothing, or an entry that is damaged (and why). */
type Cached = { build: KernelBuild; problem?: undefined } | { build?: undefined; problem?: string };

async function readCached(dir: string, key: string): Promise<Cached> {
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) return {};
  let meta;
  try {
    meta = JSON.parse(await readFile(join(dir, "build.json"), "utf8"));
  } catch (err) {
    return { problem: (err as NodeJS.ErrnoException).code === "ENOENT" ? "build.json is missing" : "build.json is unreadable" };
  }
  if (meta?.key !== key) return { problem: "build.json belongs to another build" };
  // Verify on use: a damaged image is rebuilt, never booted.
  const pvh = meta.pvh === true && typeof meta.vmlinuxSha256 === "string";
  const artifacts: [string, string | undefined][] = [["bzImage", meta.bzImageSha256], ["vmlinux", pvh ? meta.vmlinuxSha256 : undefined], ["config", undefined]];
  for (const [name, want] of artifacts) {
    const got = await (want ? sha256File(join(dir, name)) : stat(join(dir, name)).then(() => undefined)).catch((err: NodeJS.ErrnoException) => err);
    if (got instanceof Error) return { problem: `${name} is ${got.code === "ENOENT" ? "missing" : `unreadable (${got.message})`}` };
    if (want && got !== want) return { problem: `${name} does not match its recorded sha256 (${String(got).slice(0, 12)}…, expected ${want.slice(0, 12)}…)` };
  }
  const vmlinux = join(dir, "vmlinux");
  return { build: { ...meta, dir, bzImage: join(dir, "bzImage"), vmlinux, bootImage: pvh ? vmlinux : join(dir, "bzImage"), pvh, config: join(dir, "config"), cached: true } };
}

/** The O= directory of the build with this key, kept between builds for incremental makes. */
export function kernelBuildDir(key: string, env: Record<string, string | undefined> = process.env): string {
  return join(cacheRoot(env), "build", key);
}

/** Where a running make is recorded: a build killed with SIGKILL leaves its make running, and the next build stops it. */
const MAKE_RECORD = ".microforge-make.json";

/** Stop a make that a killed build left running in `buildDir`; returns its pid when there was one. */
async function stopOrphanMake(buildDir: string): Promise<number | undefined> {
  const record = await readFile(join(buildDir, MAKE_RECORD), "utf8").then(JSON.parse, () => undefined);
  const pid = record?.pid;
  if (typeof pid !== "number") return undefined;
  // Only a group still working in this directory (the pid may have been reused). Its
  // leader may be a zombie already: make dies of SIGPIPE once its output pipe is gone.
  const members = await Promise.all(groupMembers(pid).map(async (p) => {
    const cmdline = await readFile(`/proc/${p}/cmdline`, "utf8").catch(() => "");
    const cwd = await readlink(`/proc/${p}/cwd`).catch(() => "");
    return cmdline.includes(buildDir) || cwd === buildDir || cwd.startsWith(`${buildDir}/`);
  }));
  if (!members.includes(true)) return undefined;
  for (const [signal, waitMs] of [["SIGTERM", 10_000], ["SIGKILL", 5000]] as const) {
    try {
      process.kill(-pid, signal);
    } catch { /* gone */ }
    for (const end = Date.now() + waitMs; groupRunning(pid) && Date.now() < end;) await new Promise((r) => setTimeout(r, 100));
    if (!groupRunning(pid)) break;
  }
  return pid;
}

/** Build (or fetch from the cache) the kernel described by `options`. */
export async function buildKernel(options: KernelBuildOptions): Promise<KernelBuild> {
  if (options.tree !== undefined) return await buildLocalTree(options, await localTree(options.tree, { run: options.run }));
  if (!options.tarball) throw new KernelBuildError("buildKernel needs a tarball or a tree", "pass { tarball } (from lockedKernel) or { tree: DIR }");
  const env = options.env ?? process.env;
  const run = options.run ?? runProcess;
  const log = options.log ?? stderrLogger({ quiet: options.quiet });
  const version = options.tarball.version;
  const request = kernelConfigRequest({ ...options, version });
  const makeVars = [...(options.makeVars ?? [])];
  const buildEnv = reproducibleEnv(env);
  const inputs = { format: BUILD_FORMAT, tarball: options.tarball.sha256, fragment: request.fragment, makeVars, compiler: await compilerVersion(run, buildEnv), target: "bzImage" };
  const key = sha256Hex(JSON.stringify(inputs));
  const root = cacheRoot(env);
  const dir = join(root, "kernels", key);
  const first = await readCached(dir, key);
  if (first.build) {
    log.step(`kernel ${version} (config ${first.build.configHash.slice(0, 12)}) from the cache`);
    return first.build;
  }
  await assertBuildToolchain({ env, run });
  const tarball = options.tarball;
  return await withMutex(`kernel-${key}`, async () => {
    const again = await readCached(dir, key);
    if (again.build) return again.build;
    if (again.problem) {
      log.warn(`the cached kernel ${dir} is damaged: ${again.problem}; rebuilding it`);
      await rm(dir, { recursive: true, force: true });
    }
    const started = Date.now();
    const tree = await sourceTree(tarball, { env, log });
    return await configureAndMake({ options, tree, version, request, makeVars, buildEnv, key, dir, root, started, inputs, log, env, run });
  }, { cacheDir: root, what: `kernel build ${key.slice(0, 12)}`, log });
}

/**
 * A local tree: keyed by its real path and the merged config, so the kept O=
 * directory makes every later build incremental. The tree may have changed
 * since the last build, so make always runs (it does nothing when nothing changed).
 */
async function buildLocalTree(options: KernelBuildOptions, local: LocalTree): Promise<KernelBuild> {
  const env = options.env ?? process.env;
  const run = options.run ?? runProcess;
  const log = options.log ?? stderrLogger({ quiet: options.quiet });
  const request = kernelConfigRequest({ ...options, version: local.version });
  const makeVars = [...(options.makeVars ?? [])];
  const buildEnv = reproducibleEnv(env);
  const inputs = { format: BUILD_FORMAT, tree: local.path, fragment: request.fragment, makeVars, compiler: await compilerVersion(run, buildEnv), target: "bzImage" };
  const key = sha256Hex(JSON.stringify(inputs));
  const root = cacheRoot(env);
  const dir = join(root, "kernels", key);
  await assertBuildToolchain({ env, run });
  const git = local.git ? ` at ${local.git.commit.slice(0, 12)}${local.git.dirty ? " (dirty)" : ""}` : "";
  log.step(`kernel tree ${local.path}${git}: building out of tree in ${kernelBuildDir(key, env)}`);
  return await withMutex(`kernel-${key}`, async () => {
    return await configureAndMake({ options, tree: local.path, version: local.version, request, makeVars, buildEnv, key, dir, root, started: Date.now(), inputs, log, env, run, local });
  }, { cacheDir: root, what: `kernel build ${key.slice(0, 12)}`, log });
}

/** What {@linkcode configureAndMake} works from. */
interface BuildJob {
  options: KernelBuildOptions;
  tree: string;
  version: string;
  request: ReturnType<typeof kernelConfigRequest>;
  makeVars: string[];
  buildEnv: Record<string, string | undefined>;
  key: string;
  dir: string;
  root: string;
  started: number;
  inputs: Record<string, unknown>;
  log: Logger;
  env: Record<string, string | undefined>;
  run: Runner;
  local?: LocalTree;
}

/** Configure and verify in the kept O= directory, make, and store the artifacts under `dir`. */
async function configureAndMake(j: BuildJob): Promise<KernelBuild> {
  const { options, tree, version, request, log } = j;
  const buildDir = kernelBuildDir(j.key, j.env);
  const orphan = await stopOrphanMake(buildDir);
  if (orphan) log.warn(`stopped make (pid ${orphan}) left running in ${buildDir} by a build that was killed`);
  log.step(`configuring linux ${version}: ${request.layers.map((l) => l.name).join(" → ")} (${request.requested.size} symbols)`);
  const configured = await configureKernel(tree, buildDir, request, { run: j.run, env: j.buildEnv, allowDropped: options.allowDropped });
  for (const d of configured.dropped) log.warn(`CONFIG_${d.symbol}=${d.requested} was dropped (${d.actual})${d.why.length ? `: ${d.why.join("; ")}` : ""}`);
  const configHash = sha256Hex(configured.config);
  const steps = await runMake({ tree, buildDir, makeVars: j.makeVars, version, configHash, yes: configured.yes, root: j.root, run: j.run, env: j.buildEnv, jobs: options.jobs, quiet: options.quiet });
  const release = (await readFile(join(buildDir, "include/config/kernel.release"), "utf8").catch(() => "")).trim() || undefined;
  const local = j.local ? { path: j.local.path, git: j.local.git } : undefined;
  const meta = { key: j.key, version, configHash, pvh: /^CONFIG_PVH=y$/m.test(configured.config), yes: configured.yes, steps, inputs: j.inputs, release, tree, local };
  await storeBuild(buildDir, j.dir, { config: configured.config, fragment: request.fragment, meta, started: j.started, env: j.env });
  const built = await readCached(j.dir, j.key);
  if (!built.build) throw new KernelBuildError(`The kernel build in ${j.dir} did not verify after writing: ${built.problem}`, "check the disk and try again");
  return { ...built.build, cached: false };
}

/** What {@linkcode runMake} needs: the tree, where to build, and what the progress line estimates from. */
interface MakeJob {
  tree: string;
  buildDir: string;
  makeVars: readonly string[];
  version: string;
  configHash: string;
  yes: number;
  root: string;
  run: Runner;
  env: Record<string, string | undefined>;
  jobs?: number;
  quiet?: boolean;
}

/** Run `make bzImage` in the build directory with progress and a full log; resolves to the number of steps. */
async function runMake(job: MakeJob): Promise<number> {
  const jobs = job.jobs ?? availableParallelism();
  const logFile = join(job.buildDir, "build.log");
  // A log from an earlier make means this one is incremental: fewer steps than any full build, so no percentage and no record.
  const incremental = await stat(logFile).then(() => true, () => false);
  const expected = incremental ? undefined : await estimateSteps(job.root, { version: job.version, configHash: job.configHash, yes: job.yes }).catch(() => undefined);
  const progress = makeProgress({ label: `building linux ${job.version} (${jobs} jobs)`, expected, quiet: job.quiet });
  const logStream = createWriteStream(logFile);
  const makeStarted = Date.now();
  let made = false;
  try {
    await job.run(["make", "-C", job.tree, `O=${job.buildDir}`, `-j${jobs}`, ...job.makeVars, "bzImage"], {
      env: job.env,
      hint: `the full log is ${logFile}`,
      onSpawn: (pid) => void writeFile(join(job.buildDir, MAKE_RECORD), JSON.stringify({ pid })).catch(() => undefined),
      onOutput: (chunk, stream) => {
        if (stream === "stdout") progress.feed(chunk);
        logStream.write(chunk);
      },
    });
    made = true;
  } finally {
    progress.done(made);
    await new Promise((done) => logStream.end(done));
    await rm(join(job.buildDir, MAKE_RECORD), { force: true });
  }
  if (!incremental) {
    const seconds = Math.round((Date.now() - makeStarted) / 1000);
    // Only for the next build's percentage: not worth failing this one over.
    await recordBuildSteps(job.root, { version: job.version, configHash: job.configHash, steps: progress.steps, compiled: progress.compiled, yes: job.yes, seconds }).catch(() => undefined);
  }
  return progress.steps;
}

/** Copy the build's outputs and its record into the cache entry `dir`, whole or not at all. */
async function storeBuild(buildDir: string, dir: string, o: { config: string; fragment: string; meta: Record<string, unknown>; started: number; env: Record<string, string | undefined> }): Promise<void> {
  const out = tempPathFor(dir);
  try {
    await ensureDir(out);
    await copyFile(join(buildDir, "arch/x86/boot/bzImage"), join(out, "bzImage"));
    await copyFile(join(buildDir, "vmlinux"), join(out, "vmlinux"));
    await writeFile(join(out, "config"), o.config);
    await writeFile(join(out, "fragment.config"), o.fragment);
    const { key, version, configHash, pvh, yes, steps, inputs, release, tree, local } = o.meta;
    const meta = {
      key,
      version,
      release,
      tree,
      local,
      configHash,
      bzImageSha256: await sha256File(join(out, "bzImage")),
      vmlinuxSha256: await sha256File(join(out, "vmlinux")),
      pvh,
      seconds: Math.round((Date.now() - o.started) / 100) / 10,
      yes,
      steps,
      inputs,
    };
    await writeFile(join(out, "build.json"), JSON.stringify(meta, null, 2) + "\n");
    await rm(dir, { recursive: true, force: true });
    await ensureDir(join(dir, ".."));
    await rename(out, dir);
  } catch (err) {
    await rm(out, { recursive: true, force: true });
    const needs = await Promise.all(["arch/x86/boot/bzImage", "vmlinux"].map((f) => stat(join(buildDir, f)).then((s) => s.size, () => 0)));
    throw await writeError(err, dir, { env: o.env, needs: needs[0] + needs[1], what: `the kernel ${o.meta.version} (bzImage and vmlinux)` });
  }
}
