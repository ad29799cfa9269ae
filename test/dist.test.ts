import { after, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { runProcess } from "../lib/util/process.ts";
import { onDeno, repoRoot, tempDir } from "./helpers.ts";

const bin = join(repoRoot, "bin", "microforge.js");
const skipDeno = onDeno ? "builds with esbuild and tsc; runs under Node" : false;

/** Every file below `dir` (relative path → bytes). */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const paths = (await readdir(dir, { recursive: true })).sort();
  const files = await Promise.all(paths.map(async (f) => ((await stat(join(dir, f))).isFile() ? [[f, await readFile(join(dir, f))] as const] : [])));
  return new Map(files.flat());
}

/** The paths whose bytes differ between `a` and `b`, or that only one has. */
function differences(a: Map<string, Buffer>, b: Map<string, Buffer>): string[] {
  const same = (f: string) => a.has(f) && b.has(f) && a.get(f)!.equals(b.get(f)!);
  return [...new Set([...a.keys(), ...b.keys()])].filter((f) => !same(f)).sort();
}

const builds: string[] = [];
after(() => Promise.all(builds.map((dir) => rm(dirname(dir), { recursive: true, force: true }))));

/** A temp dir to build into, removed after this file's tests. */
async function buildDir(): Promise<string> {
  const dir = join(await tempDir("dist-"), "dist");
  builds.push(dir);
  return dir;
}

let fresh: Promise<string> | undefined;
/** A build of lib/ as it is now, into a temp dir (made once for this file). */
function freshBuild(): Promise<string> {
  return fresh ??= (async () => {
    // Imported here, not at the top: under Deno these tests are skipped and esbuild never loads.
    const { buildDist } = await import("../scripts/build.ts");
    const dir = await buildDir();
    await buildDist(dir);
    return dir;
  })();
}

test("npm run build makes the same bytes twice", { skip: skipDeno, timeout: 10 * 60_000 }, async () => {
  const { buildDist } = await import("../scripts/build.ts");
  const again = await buildDir();
  const [first] = await Promise.all([freshBuild(), buildDist(again)]);
  const [a, b] = [await snapshot(first), await snapshot(again)];
  assert.ok(a.has("cli.js") && a.has(join("lib", "mod.js")) && a.has(join("lib", "mod.d.ts")), `the build lacks cli.js, lib/mod.js or lib/mod.d.ts: ${[...a.keys()].join(", ")}`);
  assert.deepEqual(differences(a, b), []);
});

test("dist/ is what npm run build makes from lib/ now", { skip: skipDeno, timeout: 10 * 60_000 }, async () => {
  // bin/microforge.js runs dist/cli.js; a stale one would run (and test) old code.
  const built = await snapshot(join(repoRoot, "dist")).catch(() => new Map<string, Buffer>());
  assert.ok(built.size > 0, "dist/ is missing: run npm run build (npm ci runs it)");
  assert.deepEqual(differences(built, await snapshot(await freshBuild())), [], "dist/ is stale: run npm run build");
});

test("dist/lib/mod.js exports what lib/mod.ts exports", { skip: skipDeno, timeout: 10 * 60_000 }, async () => {
  const built = await import(pathToFileURL(join(await freshBuild(), "lib", "mod.js")).href);
  const source = await import("../lib/mod.ts");
  assert.deepEqual(Object.keys(built).sort(), Object.keys(source).sort());
});

test("dist/lib/ imports .js files, never .ts", { skip: skipDeno, timeout: 10 * 60_000 }, async () => {
  const files = await snapshot(join(await freshBuild(), "lib"));
  const ts = [...files].filter(([f]) => f.endsWith(".js")).flatMap(([f, bytes]) =>
    [...bytes.toString("utf8").matchAll(/(?:from |import\()\s*"(\.{1,2}\/[^"]*\.ts)"/g)].map((m) => `${f}: ${m[1]}`)
  );
  assert.deepEqual(ts, []);
});

test("dist/cli.js loads no npm package before a warm run's VM starts, and no chunk loads zx or Inquirer.js at start-up", { skip: skipDeno, timeout: 10 * 60_000 }, async () => {
  // The entry and what it imports statically start a warm run's QEMU (run/warm-start.ts); the commands are a chunk loaded after.
  const dir = await freshBuild();
  const files = await snapshot(dir);
  const entry = files.get("cli.js")!.toString("utf8");
  const statics = (text: string) => [...text.matchAll(/^import [\s\S]*? from "([^"]+)";$/gm)].map((m) => m[1]);
  const startup = [entry, ...statics(entry).filter((f) => f.startsWith("./")).map((f) => files.get(join(f))!.toString("utf8"))];
  assert.deepEqual(startup.flatMap(statics).filter((m) => !m.startsWith("./") && !m.startsWith("node:")), []);
  // Each of zx and Inquirer.js costs the CLI's start ~100 ms on Node (issue #7); import them inside the function that needs them.
  const eager = [...files].filter(([f]) => !f.startsWith("lib")).flatMap(([, b]) => [...b.toString("utf8").matchAll(/^import .* from "(zx|@inquirer\/prompts)";$/gm)].map((m) => m[0]));
  assert.deepEqual(eager, []);
});

test("the bin prints usage for --help and exits 0", { skip: onDeno }, async () => {
  const r = await runProcess([process.execPath, bin, "--help"], { nothrow: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: microforge <command> \[options\]/);
  assert.match(r.stdout, /^ {2}emit {8}/m);
});

test("the bin prints a subcommand's usage for emit --help", { skip: onDeno }, async () => {
  const r = await runProcess([process.execPath, bin, "emit", "--help"], { nothrow: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: microforge emit /);
  assert.match(r.stdout, /--one-line/);
});

test("the bin refuses an unknown option with exit 2 and a suggestion", { skip: onDeno }, async () => {
  const r = await runProcess([process.execPath, bin, "emit", "--one-lin"], { nothrow: true });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^microforge: Unknown option --one-lin for `microforge emit`\n {2}→ did you mean --one-line\?/);
});
