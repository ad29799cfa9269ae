/**
 * A kernel build's cache entry, `<cache>/kernels/<key>`: bzImage, vmlinux,
 * config, the installed modules (`modules/lib/modules/<release>`, when the
 * config has CONFIG_MODULES=y) and `build.json`. An entry is written whole
 * or not at all (temp directory, then rename) and verified on every use: a
 * damaged or incomplete one is reported, and rebuilt by the caller.
 */
import { copyFile, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Arch } from "../util/arch.ts";
import { cacheRoot, ensureDir, tempPathFor, writeError } from "../util/cache-dir.ts";
import { sha256File } from "../util/hash.ts";
import { memoByStat } from "../util/stat-memo.ts";
import type { LocalTree } from "./local-tree.ts";
import { treeSha256 } from "./modules.ts";

/** A built (or cached) kernel. */
export interface KernelBuild {
  version: string;
  /** Cache key: sha256 of the build's inputs. */
  key: string;
  /** sha256 of the final `.config`. */
  configHash: string;
  dir: string;
  /** The architecture's compressed boot image: the bzImage on x86_64, `Image` on arm64 and riscv64. */
  bzImage: string;
  vmlinux: string;
  /** The guest architecture it was built for (builds without one are x86_64). */
  arch?: Arch;
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
  /**
   * The installed modules, `<dir>/modules/lib/modules/<release>` (the `=m`
   * modules under `kernel/`, with `modules.order` and `modules.builtin`):
   * set when the config has CONFIG_MODULES=y, even if no symbol is `=m`.
   */
  modules?: string;
  /** sha256 of the modules tree (see {@linkcode treeSha256}), verified on use. */
  modulesSha256?: string;
}

/** The O= directory of the build with this key, kept between builds for incremental makes. */
export function kernelBuildDir(key: string, env: Record<string, string | undefined> = process.env): string {
  return join(cacheRoot(env), "build", key);
}

/** True when the kept O= directory and source tree of `build` are still there to build modules against. */
export async function moduleBuildReady(build: KernelBuild, env: Record<string, string | undefined> = process.env): Promise<boolean> {
  const dir = kernelBuildDir(build.key, env);
  const have = (p: string) => stat(p).then(() => true, () => false);
  return (await have(join(dir, ".config"))) && (await have(join(dir, "Module.symvers"))) && build.tree !== undefined && (await have(join(build.tree, "Makefile")));
}

/** Where an entry keeps its installed modules: `<dir>/modules` is the `INSTALL_MOD_PATH`. */
export function modulesDir(dir: string, release: string): string {
  return join(dir, "modules", "lib", "modules", release);
}

/** What the cache holds for a key: a verified build, nothing, or an entry that is damaged (and why). */
export type Cached = { build: KernelBuild; problem?: undefined } | { build?: undefined; problem?: string };

/** Read and verify the entry `dir` of build `key`. */
export async function readCached(dir: string, key: string, env: Record<string, string | undefined> = process.env): Promise<Cached> {
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) return {};
  let meta;
  try {
    meta = JSON.parse(await readFile(join(dir, "build.json"), "utf8"));
  } catch (err) {
    return { problem: (err as NodeJS.ErrnoException).code === "ENOENT" ? "build.json is missing" : "build.json is unreadable" };
  }
  if (meta?.key !== key) return { problem: "build.json belongs to another build" };
  // Verify on use: a damaged image is rebuilt, never booted. The hash is
  // remembered until the file changes (its inode, size or mtime), as git's
  // index does, so a warm boot does not read 17 MB; any write to it is seen.
  const verified = (path: string) => memoByStat(`sha256 of booted ${path}`, [path], () => sha256File(path), env);
  const pvh = meta.pvh === true && typeof meta.vmlinuxSha256 === "string";
  const image = meta.image === "Image" ? "Image" : "bzImage";
  const artifacts: [string, string | undefined][] = [[image, meta.bzImageSha256], ["vmlinux", pvh ? meta.vmlinuxSha256 : undefined], ["config", undefined]];
  for (const [name, want] of artifacts) {
    const got = await (want ? verified(join(dir, name)) : stat(join(dir, name)).then(() => undefined)).catch((err: NodeJS.ErrnoException) => err);
    if (got instanceof Error) return { problem: `${name} is ${got.code === "ENOENT" ? "missing" : `unreadable (${got.message})`}` };
    if (want && got !== want) return { problem: `${name} does not match its recorded sha256 (${String(got).slice(0, 12)}…, expected ${want.slice(0, 12)}…)` };
  }
  const modules = await checkModules(dir, meta);
  if (typeof modules === "object") return modules;
  const vmlinux = join(dir, "vmlinux");
  const build = { ...meta, dir, bzImage: join(dir, image), vmlinux, bootImage: pvh ? vmlinux : join(dir, image), pvh, config: join(dir, "config"), cached: true };
  return { build: modules ? { ...build, modules } : build };
}

/**
 * The entry's modules directory, verified; undefined for a config without
 * modules. An entry from before modules were installed has none although its
 * config enables them: rebuilding it is an incremental make.
 */
async function checkModules(dir: string, meta: Record<string, unknown>): Promise<string | undefined | { problem: string }> {
  const config = await readFile(join(dir, "config"), "utf8").catch(() => "");
  if (!/^CONFIG_MODULES=y$/m.test(config)) return undefined;
  if (typeof meta.modulesSha256 !== "string" || typeof meta.release !== "string") return { problem: "its config enables modules, but it was built before microforge installed them" };
  const modules = modulesDir(dir, meta.release);
  const got = await treeSha256(modules).catch((err: Error) => err);
  if (got instanceof Error) return { problem: `its modules cannot be read (${got.message})` };
  if (got !== meta.modulesSha256) return { problem: `its modules do not match their recorded sha256 (${got.slice(0, 12)}…, expected ${meta.modulesSha256.slice(0, 12)}…)` };
  return modules;
}

/** What {@linkcode storeBuild} writes besides the images. */
export interface StoreOptions {
  config: string;
  fragment: string;
  meta: Record<string, unknown> & { version: string; release?: string };
  started: number;
  env: Record<string, string | undefined>;
  /** Install the modules with this `INSTALL_MOD_PATH` (the config has CONFIG_MODULES=y). */
  installModules?: (root: string) => Promise<void>;
  /** The boot image in the O= directory (default arch/x86/boot/bzImage); kept under its own name (`bzImage`, `Image`). */
  imagePath?: string;
}

/** Copy the build's outputs and its record into the cache entry `dir`, whole or not at all. */
export async function storeBuild(buildDir: string, dir: string, o: StoreOptions): Promise<void> {
  const out = tempPathFor(dir);
  const imagePath = o.imagePath ?? "arch/x86/boot/bzImage";
  const image = basename(imagePath);
  try {
    await ensureDir(out);
    await copyFile(join(buildDir, imagePath), join(out, image));
    await copyFile(join(buildDir, "vmlinux"), join(out, "vmlinux"));
    await writeFile(join(out, "config"), o.config);
    await writeFile(join(out, "fragment.config"), o.fragment);
    let modulesSha256: string | undefined;
    if (o.installModules && o.meta.release) {
      await o.installModules(join(out, "modules"));
      // modules_install links `build` and `source` to this machine's directories: not part of the entry.
      const modules = modulesDir(out, o.meta.release);
      await rm(join(modules, "build"), { force: true });
      await rm(join(modules, "source"), { force: true });
      modulesSha256 = await treeSha256(modules);
    }
    const { key, version, configHash, pvh, yes, steps, inputs, release, tree, local, arch } = o.meta;
    const meta = {
      key,
      version,
      release,
      tree,
      local,
      configHash,
      ...(arch && arch !== "x86_64" ? { arch, image } : {}),
      bzImageSha256: await sha256File(join(out, image)),
      vmlinuxSha256: await sha256File(join(out, "vmlinux")),
      ...(modulesSha256 ? { modulesSha256 } : {}),
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
    const needs = await Promise.all([imagePath, "vmlinux"].map((f) => stat(join(buildDir, f)).then((s) => s.size, () => 0)));
    throw await writeError(err, dir, { env: o.env, needs: needs[0] + needs[1], what: `the kernel ${o.meta.version} (bzImage and vmlinux)` });
  }
}
