/**
 * The package from outside. `npm pack` runs in a copy of the working tree as
 * a fresh clone has it (no dist/, so `prepack` builds it), the tarball is
 * installed into an empty project outside the repository (so nothing
 * resolves to the repository's own node_modules, tsconfig.json or
 * deno.json), and used as a user would: plain Node ESM, TypeScript under
 * tsx and tsc, Deno, and the `microforge` bin.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { runProcess, type RunResult } from "../../lib/util/process.ts";
import { onDeno, repoRoot, tempDir, testCache } from "../helpers.ts";

const skip = onDeno ? "packs and installs with npm; runs under Node" : false;

/** A packed and installed microforge. */
interface Installed {
  /** The files in the tarball, without the leading `package/`. */
  files: string[];
  /** The project that installed it (outside the repository). */
  project: string;
  /** The copy of the working tree and the tarball. */
  work: string;
}

async function timed(t: { diagnostic(message: string): void }, what: string, argv: string[], options: { cwd: string; env?: Record<string, string | undefined> }): Promise<RunResult> {
  const started = performance.now();
  const r = await runProcess(argv, { ...options, nothrow: true, timeoutMs: 15 * 60_000 });
  t.diagnostic(`${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  assert.equal(r.code, 0, `${argv.join(" ")} (in ${options.cwd}) exited ${r.code}:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`);
  return r;
}

/** The files a fresh clone of the working tree has: tracked and untracked, not ignored (so no dist/ or node_modules/). */
async function cloneLike(dest: string): Promise<void> {
  const ls = await runProcess(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repoRoot });
  for (const file of ls.stdout.split("\0").filter((f) => f && existsSync(join(repoRoot, f)))) {
    await mkdir(dirname(join(dest, file)), { recursive: true });
    await copyFile(join(repoRoot, file), join(dest, file));
  }
  // npm ci's node_modules, as the clone would have after `npm ci`.
  await symlink(join(repoRoot, "node_modules"), join(dest, "node_modules"));
}

let installing: Promise<Installed> | undefined;
/** Pack and install once for this file; `t` gets each step's time. */
function installed(t: { diagnostic(message: string): void }): Promise<Installed> {
  return installing ??= (async () => {
    const work = await tempDir("package-");
    const source = join(work, "microforge");
    await cloneLike(source);
    await timed(t, "npm pack (prepack builds dist/)", ["npm", "pack", "--pack-destination", work], { cwd: source });
    const tarball = join(work, (await readdir(work)).find((f) => /^microforge-.*\.tgz$/.test(f)) ?? assert.fail(`npm pack left no tarball in ${work}`));
    const listing = await runProcess(["tar", "-tzf", tarball]);
    const files = listing.stdout.split("\n").filter(Boolean).map((f) => f.replace(/^package\//, ""));

    const project = await mkdtemp(join(tmpdir(), "microforge-user-"));
    await writeFile(join(project, "package.json"), `${JSON.stringify({ name: "user-project", private: true, type: "module" }, null, 2)}\n`);
    await timed(t, "npm install of the tarball", ["npm", "install", tarball, "--prefer-offline", "--no-audit", "--no-fund"], { cwd: project });
    return { files, project, work };
  })();
}

after(async () => {
  const done = await installing?.catch(() => undefined);
  if (done) await Promise.all([done.project, done.work].map((dir) => rm(dir, { recursive: true, force: true })));
});

test("the tarball holds bin, dist (JS and .d.ts), lib and templates, and no test, bench or scripts", { skip, timeout: 20 * 60_000 }, async (t) => {
  const { files } = await installed(t);
  for (const f of ["package.json", "README.md", "bin/microforge.js", "dist/cli.js", "dist/lib/mod.js", "dist/lib/mod.d.ts", "dist/lib/kernel/build.js", "lib/mod.ts", "templates/init.sh.ejs"]) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  assert.deepEqual(files.filter((f) => /^(test|bench|scripts|recipes)\//.test(f) || f.startsWith("tsconfig")), []);
});

test("plain Node ESM imports the DSL, and a stage by its subpath", { skip, timeout: 20 * 60_000 }, async (t) => {
  const { project } = await installed(t);
  await writeFile(join(project, "plain.mjs"), [
    'import { ask, kernel, microvm } from "microforge";',
    'import { buildKernel } from "microforge/kernel/build";',
    'import { packageRoot } from "microforge/util/package-root";',
    "console.log(JSON.stringify({ types: [ask, kernel, microvm, buildKernel].map((f) => typeof f), packageRoot, mod: import.meta.resolve(\"microforge\") }));",
    "",
  ].join("\n"));
  const r = await runProcess([process.execPath, "plain.mjs"], { cwd: project, nothrow: true });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const installedRoot = await realpath(join(project, "node_modules", "microforge"));
  assert.deepEqual(out.types, ["function", "function", "function", "function"]);
  assert.equal(out.mod, pathToFileURL(join(installedRoot, "dist", "lib", "mod.js")).href);
  assert.equal(out.packageRoot, installedRoot, "templates are found in the installed copy");
});

const typedRecipe = [
  'import { ask, kernel, microvm, type KernelBuild, type VmOptions } from "microforge";',
  'import { buildKernel } from "microforge/kernel/build";',
  "",
  "const dsl: Array<(...args: never[]) => unknown> = [ask, kernel, microvm, buildKernel];",
  "// @ts-expect-error kernel() takes an options object; an unused directive would mean kernel is untyped",
  "const wrong = () => kernel(42);",
  "const version = (k: KernelBuild): string => k.version;",
  'const memory: VmOptions["memory"] = "512M";',
  'console.log(JSON.stringify({ types: [...dsl, wrong, version].map((f) => typeof f), memory, mod: import.meta.resolve("microforge") }));',
  "",
].join("\n");

test("TypeScript: tsx (microforge's dependency) runs it, tsc checks it against the shipped .d.ts", { skip, timeout: 20 * 60_000 }, async (t) => {
  const { project } = await installed(t);
  await writeFile(join(project, "typed.ts"), typedRecipe);
  // The project's own tsconfig.json; @types/node is the repository's (a TypeScript user has their own).
  const compilerOptions = { module: "nodenext", moduleResolution: "nodenext", target: "es2022", strict: true, noEmit: true, skipLibCheck: true, types: ["node"], typeRoots: [join(repoRoot, "node_modules", "@types")] };
  await writeFile(join(project, "tsconfig.json"), `${JSON.stringify({ compilerOptions, include: ["typed.ts"] }, null, 2)}\n`);
  const tsx = join(project, "node_modules", ".bin", "tsx");
  assert.ok(existsSync(tsx), "installing microforge installs tsx");
  const r = await runProcess([tsx, "typed.ts"], { cwd: project, nothrow: true });
  assert.equal(r.code, 0, r.stderr);
  const installedMod = pathToFileURL(join(await realpath(join(project, "node_modules", "microforge")), "dist", "lib", "mod.js")).href;
  assert.deepEqual(JSON.parse(r.stdout), { types: ["function", "function", "function", "function", "function", "function"], memory: "512M", mod: installedMod });
  const tsc = await runProcess([process.execPath, join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", "."], { cwd: project, nothrow: true });
  assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);
});

test("Deno runs the TypeScript file against node_modules", { skip, timeout: 20 * 60_000 }, async (t) => {
  const { project } = await installed(t);
  await writeFile(join(project, "deno-typed.ts"), typedRecipe);
  const deno = join(repoRoot, "node_modules", ".bin", "deno");
  const r = await runProcess([deno, "run", "-A", "--quiet", "deno-typed.ts"], { cwd: project, env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" }, nothrow: true, timeoutMs: 5 * 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.memory, "512M");
  assert.match(out.mod, /\/node_modules\/microforge\/dist\/lib\/mod\.js$/, "Deno loads the installed package, not the repository's lib/");
});

test("npx microforge --help, and run -- true boots the cached kernel", { skip, timeout: 30 * 60_000 }, async (t) => {
  const { project } = await installed(t);
  const help = await runProcess(["npx", "--no", "--", "microforge", "--help"], { cwd: project, nothrow: true });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: microforge <command> \[options\]/);
  // The kernel the other e2e tests build (Debian's 6.1 sources) and the host's busybox: nothing is downloaded.
  const env = { ...process.env, MICROFORGE_CACHE: testCache, MICROFORGE_KERNEL_SOURCE: "debian", MICROFORGE_KERNEL_VERSION: "6.1", MICROFORGE_BUSYBOX_SOURCE: "host" };
  const started = performance.now();
  const run = await runProcess(["npx", "--no", "--", "microforge", "run", "--accel", "tcg", "--timeout", "600", "--", "true"], { cwd: project, env, nothrow: true, timeoutMs: 29 * 60_000 });
  t.diagnostic(`npx microforge run -- true: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  assert.equal(run.code, 0, run.stderr.slice(-3000));
});
