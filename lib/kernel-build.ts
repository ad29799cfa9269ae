/**
 * Building a kernel: layered config → verified allnoconfig → `make bzImage`,
 * cached by its inputs. The cache key is the sha256 of (tarball sha256,
 * merged fragment, make variables, compiler version); a hit returns the
 * artifacts without touching the source tree. Artifacts are copied out of
 * the O= directory (moving a build directory forces a near-full rebuild).
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { copyFile, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { cacheRoot, tempPathFor } from "./cache-dir.ts";
import { MicroforgeError } from "./errors.ts";
import { type Runner, runCommand } from "./exec.ts";
import { withLock } from "./file-lock.ts";
import { configureKernel } from "./kernel-config.ts";
import { type ConfigRequestOptions, kernelConfigRequest } from "./kernel-fragments.ts";
import { sha256File } from "./kernel-source.ts";
import { type Logger, stderrLogger } from "./log.ts";
import { makeProgress } from "./make-progress.ts";
import { sourceTree } from "./source-tree.ts";
import { assertBuildToolchain } from "./toolchain.ts";

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
}

/** Inputs of {@linkcode buildKernel}. */
export interface KernelBuildOptions extends Omit<ConfigRequestOptions, "version"> {
  tarball: { path: string; sha256: string; version: string };
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

async function readCached(dir: string, key: string): Promise<KernelBuild | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, "build.json"), "utf8"));
    if (meta.key !== key) return undefined;
    // Verify on use: a damaged image is rebuilt, never booted.
    if ((await sha256File(join(dir, "bzImage"))) !== meta.bzImageSha256) return undefined;
    const pvh = meta.pvh === true && typeof meta.vmlinuxSha256 === "string";
    if (pvh && (await sha256File(join(dir, "vmlinux"))) !== meta.vmlinuxSha256) return undefined;
    const vmlinux = join(dir, "vmlinux");
    return { ...meta, dir, bzImage: join(dir, "bzImage"), vmlinux, bootImage: pvh ? vmlinux : join(dir, "bzImage"), pvh, config: join(dir, "config"), cached: true };
  } catch {
    return undefined;
  }
}

/** Build (or fetch from the cache) the kernel described by `options`. */
export async function buildKernel(options: KernelBuildOptions): Promise<KernelBuild> {
  const env = options.env ?? process.env;
  const run = options.run ?? runCommand;
  const log = options.log ?? stderrLogger({ quiet: options.quiet });
  const version = options.tarball.version;
  const request = kernelConfigRequest({ ...options, version });
  const makeVars = [...(options.makeVars ?? [])];
  const buildEnv = reproducibleEnv(env);
  const inputs = { format: BUILD_FORMAT, tarball: options.tarball.sha256, fragment: request.fragment, makeVars, compiler: await compilerVersion(run, buildEnv), target: "bzImage" };
  const key = createHash("sha256").update(JSON.stringify(inputs)).digest("hex");
  const root = cacheRoot(env);
  const dir = join(root, "kernels", key);
  const hit = await readCached(dir, key);
  if (hit) {
    log.step(`kernel ${version} (config ${hit.configHash.slice(0, 12)}) from the cache`);
    return hit;
  }
  await assertBuildToolchain({ env, run });
  return await withLock(`kernel-${key}`, async () => {
    const again = await readCached(dir, key);
    if (again) return again;
    const started = Date.now();
    const tree = await sourceTree(options.tarball, { env, run, log });
    const buildDir = join(root, "build", key);
    await rm(buildDir, { recursive: true, force: true });
    log.step(`configuring linux ${version}: ${request.layers.map((l) => l.name).join(" → ")} (${request.requested.size} symbols)`);
    const configured = await configureKernel(tree, buildDir, request, { run, env: buildEnv, allowDropped: options.allowDropped });
    for (const d of configured.dropped) log.warn(`CONFIG_${d.symbol}=${d.requested} was dropped (${d.actual})${d.why.length ? `: ${d.why.join("; ")}` : ""}`);
    const jobs = options.jobs ?? availableParallelism();
    const logFile = join(buildDir, "build.log");
    const progress = makeProgress({ label: `building linux ${version} bzImage with ${jobs} jobs`, quiet: options.quiet });
    const logStream = createWriteStream(logFile);
    try {
      await run(["make", "-C", tree, `O=${buildDir}`, `-j${jobs}`, ...makeVars, "bzImage"], {
        env: buildEnv,
        hint: `the full log is ${logFile}`,
        onOutput: (chunk, stream) => {
          if (stream === "stdout") progress.feed(chunk);
          logStream.write(chunk);
        },
      });
    } finally {
      progress.done();
      await new Promise((done) => logStream.end(done));
    }
    const out = tempPathFor(dir);
    await mkdir(out, { recursive: true });
    await copyFile(join(buildDir, "arch/x86/boot/bzImage"), join(out, "bzImage"));
    await copyFile(join(buildDir, "vmlinux"), join(out, "vmlinux"));
    await writeFile(join(out, "config"), configured.config);
    await writeFile(join(out, "fragment.config"), request.fragment);
    const meta = {
      key,
      version,
      configHash: createHash("sha256").update(configured.config).digest("hex"),
      bzImageSha256: await sha256File(join(out, "bzImage")),
      vmlinuxSha256: await sha256File(join(out, "vmlinux")),
      pvh: /^CONFIG_PVH=y$/m.test(configured.config),
      seconds: Math.round((Date.now() - started) / 100) / 10,
      yes: configured.yes,
      steps: progress.steps,
      inputs,
    };
    await writeFile(join(out, "build.json"), JSON.stringify(meta, null, 2) + "\n");
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(dir, ".."), { recursive: true });
    await rename(out, dir);
    await rm(buildDir, { recursive: true, force: true });
    const built = await readCached(dir, key);
    if (!built) throw new MicroforgeError(`The kernel build in ${dir} did not verify after writing`, "check the disk and try again");
    return { ...built, cached: false };
  }, { cacheDir: root, what: `kernel build ${key.slice(0, 12)}`, log });
}
