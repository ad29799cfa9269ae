/**
 * Out-of-tree modules (`--module DIR`): a directory with a Kbuild or
 * Makefile, built against a kernel microforge built, in its kept O=
 * directory (`make -C <tree> O=<build> M=<copy> modules`, then a stripped
 * `modules_install`). The directory is copied first, so nothing is ever
 * written into it, and build output found in it (`*.o`, `*.ko`, `.*.cmd`
 * from a build against another kernel) is neither copied nor hashed. The
 * result is cached in `<cache>/modules/<key>` by the sha256 of (the
 * directory's files, the kernel's key), as `lib/modules/<release>/extra/*.ko`.
 */
import { archEnv } from "./build-steps.ts";
import { hostArch } from "../util/arch.ts";
import { statSync } from "node:fs";
import { copyFile, lstat, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileKind } from "../util/file-kind.ts";
import { cacheRoot, ensureDir, tempPathFor, writeError } from "../util/cache-dir.ts";
import { CommandError, KernelBuildError, ModuleBuildError, ModuleError, outputTail } from "../util/errors.ts";
import { sha256File, sha256Hex } from "../util/hash.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import { type Runner, runProcess } from "../util/process.ts";
import { withMutex } from "../fetch/mutex.ts";
import { type KernelBuild, kernelBuildDir, moduleBuildReady } from "./build-cache.ts";
import { reproducibleEnv } from "./build-steps.ts";
import { installModules } from "./build-make.ts";
import { moduleName, treeFiles, treeSha256 } from "./modules.ts";

/** Bump when the module build recipe changes, so older cache entries are not reused. */
const MODULE_FORMAT = 1;
/** A module source larger than this is more likely a wrong directory (a home, a whole tree) than a module. */
const MAX_FILES = 2000;
const MAX_BYTES = 64 << 20;
/** The most of make's output kept for build.log (its last 400 lines are written). */
const LOG_CHARS = 256 << 10;
/** Build output and VCS data: never copied into the build, never part of the key. */
const SKIP = /^(?:\.git|\.tmp_versions|\..*\.cmd|.*\.(?:o|ko|mod|mod\.c|a|order|symvers|dwo)|Module\.symvers|modules\.order)$/;

/** A built out-of-tree module. */
export interface ExternalModule {
  /** The source directory's real path. */
  source: string;
  /** The module names it built (what `modprobe` takes). */
  names: string[];
  /** Its `lib/modules/<release>` directory (the `.ko` files are under `extra/`). */
  modules: string;
  /** Cache key: sha256 of (the source files, the kernel's key). */
  key: string;
  cached: boolean;
}

/** Options of {@linkcode buildExternalModule}. */
export interface ExternalModuleOptions {
  jobs?: number;
  env?: Record<string, string | undefined>;
  run?: Runner;
  log?: Logger;
  quiet?: boolean;
}

const HINT = "pass a directory holding the module's source and a Kbuild or Makefile (obj-m += NAME.o)";

/** Refuse a module source that is not a directory with a Kbuild or Makefile, before any long work. */
export function checkModuleSource(dir: string): void {
  let s;
  try {
    s = statSync(dir);
  } catch {
    throw new ModuleError(`Module source ${dir} does not exist`, HINT);
  }
  if (!s.isDirectory()) throw new ModuleError(`Module source ${dir} is ${fileKind(s)}, not a directory`, HINT);
  const has = (f: string) => statSync(join(dir, f), { throwIfNoEntry: false })?.isFile() ?? false;
  if (!has("Kbuild") && !has("Makefile")) throw new ModuleError(`Module source ${dir} has no Kbuild or Makefile`, HINT);
}

/** The files of a module source to copy and hash (build output skipped), with their sha256 and mode. */
async function sourceFiles(dir: string): Promise<{ path: string; sha256: string; mode: number }[]> {
  const out: { path: string; sha256: string; mode: number }[] = [];
  let bytes = 0;
  const walk = async (rel: string) => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      if (SKIP.test(name)) continue;
      const path = rel ? `${rel}/${name}` : name;
      let s = await lstat(join(dir, path));
      // A symlinked file (a shared header) is copied as the file it names; a symlinked directory could loop.
      if (s.isSymbolicLink()) {
        s = await stat(join(dir, path)).catch(() => s);
        if (s.isDirectory()) throw new ModuleError(`Module source ${dir} has a symlinked directory ${path}`, `${HINT}; copy the directory in instead of linking it`);
      }
      if (s.isDirectory()) await walk(path);
      else if (s.isFile()) {
        bytes += s.size;
        out.push({ path, sha256: await sha256File(join(dir, path)), mode: s.mode & 0o777 });
        if (out.length > MAX_FILES || bytes > MAX_BYTES) throw new ModuleError(`Module source ${dir} holds more than ${MAX_FILES} files or ${MAX_BYTES >> 20} MB`, `${HINT}, not a larger tree`);
      }
    }
  };
  await walk("");
  return out;
}

/** The cached module in `dir`, verified; undefined when missing or damaged. */
async function readEntry(dir: string, key: string, source: string): Promise<ExternalModule | undefined> {
  const meta = await readFile(join(dir, "module.json"), "utf8").then(JSON.parse, () => undefined);
  if (meta?.key !== key || typeof meta.release !== "string" || !Array.isArray(meta.names)) return undefined;
  const modules = join(dir, "lib", "modules", meta.release);
  if ((await treeSha256(modules).catch(() => "")) !== meta.modulesSha256) return undefined;
  return { source, names: meta.names, modules, key, cached: true };
}

/** Run one make of the module; a failure is a {@linkcode ModuleBuildError} with the command, its exit code and output tail. */
async function moduleMake(source: string, step: () => Promise<unknown>, copy?: { from: string; to: string }): Promise<void> {
  try {
    await step();
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    // The compiler names the build's copy of each file: show the user's own paths instead, so an editor can jump to them.
    const tail = copy ? err.tail.split(copy.from).join(copy.to) : err.tail;
    throw new ModuleBuildError(source, err.argv, err.code, tail, "fix the module's source or its Kbuild (the compiler's messages are above)");
  }
}

/** Build the module in `source` against `kernel` (or take it from the cache). */
export async function buildExternalModule(kernel: KernelBuild, source: string, o: ExternalModuleOptions = {}): Promise<ExternalModule> {
  const env = o.env ?? process.env;
  const run = o.run ?? runProcess;
  const log = o.log ?? stderrLogger({ quiet: o.quiet });
  if (!kernel.modules || !kernel.release || !kernel.tree) {
    throw new ModuleError(`The kernel ${kernel.version} has no module support (CONFIG_MODULES is off), so the module ${source} cannot be built for it`, "leave out CONFIG_MODULES=n (microforge switches modules on when one is asked for), or build the kernel with the modules feature");
  }
  checkModuleSource(source);
  const real = await realpath(source);
  const files = await sourceFiles(real);
  const key = sha256Hex(JSON.stringify({ format: MODULE_FORMAT, kernel: kernel.key, files: files.map((f) => [f.path, f.sha256, f.mode & 0o111 ? "x" : ""]) }));
  const root = cacheRoot(env);
  const dir = join(root, "modules", key);
  const hit = await readEntry(dir, key, real);
  if (hit) {
    log.step(`module ${source} (${hit.names.join(", ")}) from the cache`);
    return hit;
  }
  const buildDir = kernelBuildDir(kernel.key, env);
  if (!(await moduleBuildReady(kernel, env))) {
    throw new KernelBuildError(
      `The build directory ${buildDir} of kernel ${kernel.version} is gone (or incomplete), and the module ${source} is built against it`,
      `build the kernel again: \`microforge run\` and recipes do it by themselves; with \`microforge kernel build\`, remove ${kernel.dir} first`,
    );
  }
  const tree = kernel.tree;
  const release = kernel.release;
  // The kernel's mutex: a rebuild of that kernel must not change its O= directory under this make.
  return await withMutex(`kernel-${kernel.key}`, async () => {
    const again = await readEntry(dir, key, real);
    if (again) return again;
    log.step(`module ${source}: building against linux ${kernel.version} (${release})`);
    const out = tempPathFor(dir);
    try {
      const copy = join(out, "src");
      for (const f of files) {
        await mkdir(dirname(join(copy, f.path)), { recursive: true });
        await copyFile(join(real, f.path), join(copy, f.path));
      }
      // The kernel's own architecture and cross compiler: a module for an arm64 kernel is an arm64 module.
      const make = { tree, buildDir, makeVars: [`M=${copy}`], run, env: { ...reproducibleEnv(env), ...archEnv(kernel.arch ?? hostArch()) } };
      const jobs = o.jobs ?? availableParallelism();
      let output = "";
      await moduleMake(source, () =>
        run(["make", "-C", tree, `O=${buildDir}`, `M=${copy}`, `-j${jobs}`, "modules"], { env: make.env, onOutput: (c) => void (output = (output + c).slice(-LOG_CHARS)) }), { from: copy, to: real });
      await writeFile(join(out, "build.log"), `${outputTail(output, 400)}\n`);
      await moduleMake(source, () => installModules(make, out));
      const modules = join(out, "lib", "modules", release);
      await rm(join(modules, "build"), { force: true });
      await rm(join(modules, "source"), { force: true });
      const names = (await treeFiles(modules).catch(() => [])).filter((f) => f.endsWith(".ko")).map(moduleName);
      if (!names.length) throw new ModuleError(`The module ${source} built no .ko file`, "its Kbuild or Makefile must name the module: obj-m += NAME.o");
      await rm(copy, { recursive: true, force: true });
      const meta = { key, kernel: kernel.key, release, source: real, names, modulesSha256: await treeSha256(modules) };
      await writeFile(join(out, "module.json"), JSON.stringify(meta, null, 2) + "\n");
      await rm(dir, { recursive: true, force: true });
      await ensureDir(dirname(dir));
      await rename(out, dir);
      return { source: real, names, modules: join(dir, "lib", "modules", release), key, cached: false };
    } catch (err) {
      await rm(out, { recursive: true, force: true });
      throw await writeError(err, dir, { env, what: `the module ${source}` });
    }
  }, { cacheDir: root, what: `module build against kernel ${kernel.key.slice(0, 12)}`, log });
}
