import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildExternalModule, checkModuleSource } from "../../lib/kernel/external-module.ts";
import { type KernelBuild, kernelBuildDir } from "../../lib/kernel/build-cache.ts";
import { treeFiles, treeSha256 } from "../../lib/kernel/modules.ts";
import { CommandError, KernelBuildError, ModuleBuildError, ModuleError } from "../../lib/util/errors.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import type { RunOptions, RunResult } from "../../lib/util/process.ts";
import { tempDir } from "../helpers.ts";

const RELEASE = "6.1.0-microforge";

test("checkModuleSource refuses a missing directory", async () => {
  const dir = join(await tempDir("extmod-"), "nope");
  assert.throws(() => checkModuleSource(dir), (err: unknown) => {
    assert.ok(err instanceof ModuleError);
    assert.equal(err.summary, `Module source ${dir} does not exist`);
    assert.match(err.hint, /Kbuild or Makefile \(obj-m \+= NAME\.o\)/);
    return true;
  });
});

test("checkModuleSource refuses a file, naming what it is", async () => {
  const file = join(await tempDir("extmod-"), "hello.c");
  await writeFile(file, "int x;\n");
  assert.throws(() => checkModuleSource(file), (err: unknown) => err instanceof ModuleError && err.summary === `Module source ${file} is a file, not a directory`);
});

test("checkModuleSource refuses a directory without a Kbuild or Makefile file", async () => {
  const dir = await tempDir("extmod-");
  await writeFile(join(dir, "hello.c"), "int x;\n");
  const refused = (re: RegExp) => assert.throws(() => checkModuleSource(dir), (err: unknown) => err instanceof ModuleError && re.test(err.summary));
  refused(new RegExp(`^Module source ${dir} has no Kbuild or Makefile$`));
  // A directory named Makefile is not a Makefile.
  await mkdir(join(dir, "Makefile"));
  refused(/has no Kbuild or Makefile$/);
});

test("checkModuleSource accepts a directory with a Kbuild or with a Makefile", async () => {
  const a = await tempDir("extmod-");
  await writeFile(join(a, "Kbuild"), "obj-m += hello.o\n");
  checkModuleSource(a);
  const b = await tempDir("extmod-");
  await writeFile(join(b, "Makefile"), "obj-m += hello.o\n");
  checkModuleSource(b);
});

/** A cache with a kept O= directory and a source tree, and a kernel built in it (nothing real). */
async function rig(o: { ready?: boolean; modules?: boolean } = {}) {
  const root = await tempDir("extmod-");
  const env = { MICROFORGE_CACHE: join(root, "cache"), PATH: process.env.PATH };
  const key = "a1".repeat(32);
  const tree = join(root, "linux");
  await mkdir(tree);
  await writeFile(join(tree, "Makefile"), "VERSION = 6\n");
  const buildDir = kernelBuildDir(key, env);
  if (o.ready !== false) {
    await mkdir(buildDir, { recursive: true });
    await writeFile(join(buildDir, ".config"), "CONFIG_MODULES=y\n");
    await writeFile(join(buildDir, "Module.symvers"), "");
  }
  const entry = join(env.MICROFORGE_CACHE, "kernels", key);
  const kernel: KernelBuild = {
    version: "6.1.0",
    key,
    configHash: "c".repeat(64),
    dir: entry,
    bzImage: join(entry, "bzImage"),
    vmlinux: join(entry, "vmlinux"),
    bootImage: join(entry, "bzImage"),
    pvh: false,
    config: join(entry, "config"),
    bzImageSha256: "b".repeat(64),
    seconds: 1,
    yes: 1,
    cached: true,
    release: RELEASE,
    tree,
    ...(o.modules === false ? {} : { modules: join(entry, "modules", "lib", "modules", RELEASE) }),
  };
  const source = join(root, "hello");
  await mkdir(join(source, "include"), { recursive: true });
  await writeFile(join(source, "Kbuild"), "obj-m += hello.o\n");
  await writeFile(join(source, "hello.c"), "#include <linux/module.h>\nMODULE_LICENSE(\"GPL\");\n");
  await writeFile(join(source, "include", "hello.h"), "#define HELLO 1\n");
  // Left over from a build against another kernel: never copied, never hashed.
  await writeFile(join(source, "hello.o"), "stale object");
  await writeFile(join(source, "hello.ko"), "stale module");
  await writeFile(join(source, ".hello.o.cmd"), "cmd_hello.o := gcc\n");
  return { root, env, key, tree, buildDir, kernel, source };
}

/** Every file under `dir` with its content, to see that nothing changed. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of await treeFiles(dir)) out[f] = await readFile(join(dir, f), "utf8");
  return out;
}

interface Call {
  argv: readonly string[];
  options?: RunOptions;
  /** The files of the M= copy when the command ran. */
  copy?: string[];
}

/** A `run` that plays make: `modules` writes output, `modules_install` installs `kos` (or fails as told). */
function fakeMake(o: { kos?: string[]; fail?: "modules" | "modules_install"; tail?: string; chunks?: string[] } = {}) {
  const calls: Call[] = [];
  const run = async (argv: readonly string[], options?: RunOptions): Promise<RunResult> => {
    const m = argv.find((a) => a.startsWith("M="))?.slice(2);
    calls.push({ argv, options, copy: m ? await treeFiles(m) : undefined });
    const target = argv[argv.length - 1];
    if (o.fail === target) throw new CommandError(argv, 2, null, o.tail ?? "hello.c:3:1: error: expected ';'");
    if (target === "modules") for (const c of o.chunks ?? ["  CC [M]  hello.o\n  LD [M]  hello.ko\n"]) options?.onOutput?.(c, "stdout");
    if (target === "modules_install") {
      const root = argv.find((a) => a.startsWith("INSTALL_MOD_PATH="))!.slice("INSTALL_MOD_PATH=".length);
      const mods = join(root, "lib", "modules", RELEASE);
      await mkdir(join(mods, "extra"), { recursive: true });
      for (const ko of o.kos ?? ["hello.ko"]) await writeFile(join(mods, "extra", ko), `module ${ko}`);
      await symlink("/nonexistent/build", join(mods, "build"));
      await symlink("/nonexistent/source", join(mods, "source"));
    }
    return { code: 0, signal: null, stdout: "", stderr: "" };
  };
  return { run, calls };
}

test("buildExternalModule runs make -C <tree> O=<build> M=<copy> modules, then modules_install, and caches the .ko", async () => {
  const r = await rig();
  const before = await snapshot(r.source);
  const make = fakeMake({ kos: ["hello-world.ko"] });
  const log = memoryLogger();
  const mod = await buildExternalModule(r.kernel, r.source, { env: r.env, run: make.run, jobs: 3, log });

  assert.equal(make.calls.length, 2);
  const [build, install] = make.calls;
  const m = build.argv[4].slice(2);
  assert.deepEqual(build.argv, ["make", "-C", r.tree, `O=${r.buildDir}`, `M=${m}`, "-j3", "modules"]);
  assert.ok(!m.startsWith(r.source), `M= is a copy, not the source: ${m}`);
  assert.ok(m.startsWith(join(r.env.MICROFORGE_CACHE, "modules")), m);
  assert.deepEqual(build.copy, ["Kbuild", "hello.c", "include/hello.h"], "build output in the source is not copied");
  assert.equal(build.options?.env?.LC_ALL, "C");
  assert.equal(build.options?.env?.KBUILD_BUILD_USER, "microforge");
  assert.equal(build.options?.env?.MICROFORGE_CACHE, r.env.MICROFORGE_CACHE);
  const root = install.argv.find((a) => a.startsWith("INSTALL_MOD_PATH="))!.slice("INSTALL_MOD_PATH=".length);
  assert.deepEqual(install.argv, ["make", "-C", r.tree, `O=${r.buildDir}`, `M=${m}`, `INSTALL_MOD_PATH=${root}`, "INSTALL_MOD_STRIP=1", "DEPMOD=true", "modules_install"]);

  assert.deepEqual(mod.names, ["hello_world"]);
  assert.equal(mod.cached, false);
  assert.match(mod.key, /^[0-9a-f]{64}$/);
  const entry = join(r.env.MICROFORGE_CACHE, "modules", mod.key);
  assert.equal(mod.modules, join(entry, "lib", "modules", RELEASE));
  assert.deepEqual(await treeFiles(mod.modules), ["extra/hello-world.ko"], "the build and source links are removed");
  assert.ok(!existsSync(join(mod.modules, "build")) && !existsSync(join(mod.modules, "source")));
  assert.ok(!existsSync(join(entry, "src")), "the copy is removed");
  // One chunk of output: its lines are kept (outputTail drops the final newline).
  assert.equal(await readFile(join(entry, "build.log"), "utf8"), "  CC [M]  hello.o\n  LD [M]  hello.ko\n");
  const meta = JSON.parse(await readFile(join(entry, "module.json"), "utf8"));
  assert.deepEqual(meta, { key: mod.key, kernel: r.key, release: RELEASE, source: mod.source, names: ["hello_world"], modulesSha256: await treeSha256(mod.modules) });
  assert.deepEqual(await readdir(join(r.env.MICROFORGE_CACHE, "modules")), [mod.key], "no temp directory is left");
  assert.deepEqual(log.lines, [`module ${r.source}: building against linux 6.1.0 (${RELEASE})`]);

  assert.deepEqual(await snapshot(r.source), before, "the source directory is never written to");
});

// Known bug: each chunk goes through outputTail, which trims trailing whitespace,
// so the newline ending a chunk is lost and the next chunk's first line is glued to it.
test("build.log keeps make's lines apart when the output comes in several chunks", async () => {
  const r = await rig();
  const make = fakeMake({ chunks: ["  CC [M]  hello.o\n", "  LD [M]  hello.ko\n"] });
  const mod = await buildExternalModule(r.kernel, r.source, { env: r.env, run: make.run, log: memoryLogger() });
  const log = await readFile(join(r.env.MICROFORGE_CACHE, "modules", mod.key, "build.log"), "utf8");
  assert.deepEqual(log.trimEnd().split("\n"), ["  CC [M]  hello.o", "  LD [M]  hello.ko"]);
});

test("buildExternalModule takes a second build from the cache without running make", async () => {
  const r = await rig();
  const first = await buildExternalModule(r.kernel, r.source, { env: r.env, run: fakeMake().run, log: memoryLogger() });
  const make = fakeMake();
  const log = memoryLogger();
  const again = await buildExternalModule(r.kernel, r.source, { env: r.env, run: make.run, log });
  assert.equal(make.calls.length, 0);
  assert.deepEqual(again, { ...first, cached: true });
  assert.deepEqual(log.lines, [`module ${r.source} (hello) from the cache`]);
});

test("buildExternalModule's key follows the source files and the kernel, not build output in the source", async () => {
  const r = await rig();
  const opts = () => ({ env: r.env, run: fakeMake().run, log: memoryLogger() });
  const first = await buildExternalModule(r.kernel, r.source, opts());
  await writeFile(join(r.source, "Module.symvers"), "0x0 sym\n");
  await writeFile(join(r.source, "hello.mod.c"), "// generated\n");
  assert.equal((await buildExternalModule(r.kernel, r.source, opts())).key, first.key);
  await writeFile(join(r.source, "hello.c"), "// changed\n");
  const changed = await buildExternalModule(r.kernel, r.source, opts());
  assert.notEqual(changed.key, first.key);
  assert.equal(changed.cached, false);
  const other = await buildExternalModule({ ...r.kernel, key: "b2".repeat(32) }, r.source, opts()).catch((e) => e);
  // The other kernel has no O= directory: refused, but only after the key differs (a cache miss).
  assert.ok(other instanceof KernelBuildError, String(other));
});

test("a failing make is a ModuleBuildError with the command, exit code and output tail", async () => {
  const r = await rig();
  const before = await snapshot(r.source);
  const make = fakeMake({ fail: "modules", tail: "hello.c:3:1: error: expected ';' before '}' token" });
  const err = await buildExternalModule(r.kernel, r.source, { env: r.env, run: make.run, log: memoryLogger() }).catch((e) => e);
  assert.ok(err instanceof ModuleBuildError, String(err));
  assert.equal(err.source, r.source);
  assert.deepEqual(err.argv, make.calls[0].argv);
  assert.equal(err.argv.at(-1), "modules");
  assert.equal(err.code, 2);
  assert.equal(err.tail, "hello.c:3:1: error: expected ';' before '}' token");
  assert.equal(err.summary, `Module ${r.source} did not build: ${make.calls[0].argv.join(" ")} exited with code 2\n--- last lines of output ---\nhello.c:3:1: error: expected ';' before '}' token\n---`);
  assert.match(err.hint, /fix the module's source or its Kbuild/);
  assert.equal(make.calls.length, 1, "modules_install does not run after a failed build");
  assert.deepEqual(await readdir(join(r.env.MICROFORGE_CACHE, "modules")).catch(() => []), [], "nothing is left in the cache");
  assert.deepEqual(await snapshot(r.source), before);
});

test("a failing modules_install is a ModuleBuildError too", async () => {
  const r = await rig();
  const make = fakeMake({ fail: "modules_install", tail: "depmod: oops" });
  const err = await buildExternalModule(r.kernel, r.source, { env: r.env, run: make.run, log: memoryLogger() }).catch((e) => e);
  assert.ok(err instanceof ModuleBuildError, String(err));
  assert.equal(err.argv.at(-1), "modules_install");
  assert.equal(err.tail, "depmod: oops");
  assert.equal(make.calls.length, 2);
});

test("a build that installs no .ko file is a ModuleError", async () => {
  const r = await rig();
  const err = await buildExternalModule(r.kernel, r.source, { env: r.env, run: fakeMake({ kos: [] }).run, log: memoryLogger() }).catch((e) => e);
  assert.ok(err instanceof ModuleError, String(err));
  assert.equal(err.summary, `The module ${r.source} built no .ko file`);
  assert.match(err.hint, /obj-m \+= NAME\.o/);
  assert.deepEqual(await readdir(join(r.env.MICROFORGE_CACHE, "modules")).catch(() => []), []);
});

test("buildExternalModule refuses a kernel without module support before running anything", async () => {
  const r = await rig({ modules: false });
  const make = fakeMake();
  const err = await buildExternalModule(r.kernel, r.source, { env: r.env, run: make.run, log: memoryLogger() }).catch((e) => e);
  assert.ok(err instanceof ModuleError, String(err));
  assert.match(err.summary, /^The kernel 6\.1\.0 has no module support \(CONFIG_MODULES is off\)/);
  assert.equal(make.calls.length, 0);
});

test("buildExternalModule refuses a bad source before running anything", async () => {
  const r = await rig();
  const make = fakeMake();
  const missing = join(r.root, "missing");
  await assert.rejects(buildExternalModule(r.kernel, missing, { env: r.env, run: make.run, log: memoryLogger() }), (err: unknown) => err instanceof ModuleError && err.summary === `Module source ${missing} does not exist`);
  assert.equal(make.calls.length, 0);
});

test("buildExternalModule refuses when the kernel's O= directory is gone", async () => {
  const r = await rig({ ready: false });
  const make = fakeMake();
  const err = await buildExternalModule(r.kernel, r.source, { env: r.env, run: make.run, log: memoryLogger() }).catch((e) => e);
  assert.ok(err instanceof KernelBuildError, String(err));
  assert.match(err.summary, new RegExp(`^The build directory ${r.buildDir} of kernel 6\\.1\\.0 is gone \\(or incomplete\\)`));
  assert.match(err.hint, /build the kernel again/);
  assert.equal(make.calls.length, 0);
});
