import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Prompts } from "../../lib/recipe/ask.ts";
import { parseFlags } from "../../lib/cli/command.ts";
import { newCommand, packageName, runNew } from "../../lib/cli/new.ts";
import { parseDotConfig } from "../../lib/kernel/dot-config.ts";
import { ScaffoldError } from "../../lib/util/errors.ts";
import { installedTsx, type ScaffoldAnswers, scaffoldFiles, writeScaffold } from "../../lib/recipe/scaffold.ts";
import { renderTemplate } from "../../lib/util/template.ts";
import { repoRoot, tempDir } from "../helpers.ts";

const answers: ScaffoldAnswers = {
  name: "demo",
  kernel: "6.6",
  busybox: "1.36",
  memory: "1G",
  cpus: 2,
  features: ["net", "disk"],
  mode: "command",
  command: "cat /proc/cpuinfo",
};

/** The tsx version microforge's own install has. */
const ownTsx: string = JSON.parse(await readFile(join(repoRoot, "node_modules", "tsx", "package.json"), "utf8")).version;

test("scaffold renders a recipe project from the answers", () => {
  const files = scaffoldFiles(answers, { microforgeRoot: "/opt/microforge", dir: "/home/me/demo" });
  assert.deepEqual(Object.keys(files).sort(), [".npmrc", "README.md", "deno.json", "package-lock.json", "package.json", "recipe.ts", "templates/init.sh.ejs", "templates/kernel/recipe.config.ejs"]);
  const pkg = JSON.parse(files["package.json"]);
  assert.equal(pkg.name, "demo");
  assert.equal(pkg.type, "module");
  assert.deepEqual(pkg.scripts, { start: "tsx recipe.ts", test: "tsx recipe.ts --yes -- true" });
  assert.deepEqual(pkg.dependencies, { microforge: "file:/opt/microforge", tsx: ownTsx }, "tsx exactly as installed beside microforge, not a range");
  assert.equal(JSON.parse(files["deno.json"]).imports.microforge, "/opt/microforge/lib/mod.ts");
  assert.match(files[".npmrc"], /^prefer-offline=true$/m);
  const recipe = files["recipe.ts"];
  assert.match(recipe, /^import \{ ask, busybox, initramfs, kernel, microvm \} from "microforge";$/m);
  assert.doesNotMatch(recipe, /from "\.\.?\//, "the recipe imports microforge by its package name only");
  for (const dflt of ['default: "6.6"', 'default: "1.36"', 'default: "1G"', "default: 2 }", 'default: ["net","disk"]', 'default: "cat /proc/cpuinfo"']) {
    assert.ok(recipe.includes(dflt), `recipe.ts has ${dflt}`);
  }
  assert.match(recipe, /^process\.exit\(await vm\.start\(opts\._\.length \? opts\._ : \["sh", "-c", opts\.command\]\)\);$/m);
  assert.doesNotMatch(recipe, /vm\.run\(|vm\.exec\(|isTTY/, "vm.start() alone decides about the terminal and stdin");
  assert.match(files["README.md"], /npm install && npm start/);
  assert.match(files["README.md"], /npx tsx recipe\.ts --yes -- uname -a/);
});

test("scaffold in shell mode ends with vm.start(opts._): a console on a terminal, piped stdin to the guest's shell, `-- CMD`", () => {
  const files = scaffoldFiles({ ...answers, mode: "shell", features: [] });
  const recipe = files["recipe.ts"];
  assert.match(recipe, /^process\.exit\(await vm\.start\(opts\._\)\);$/m);
  assert.doesNotMatch(recipe, /vm\.run\(|vm\.exec\(|isTTY|execAndExit/);
  assert.match(recipe, /default: \[\],/);
  assert.doesNotMatch(recipe, /opts\.command/);
  assert.match(files["README.md"], /printf 'uname -r\\n' \| npx tsx recipe\.ts --yes/);
});

/** Where Node finds `name` from lock path `from`, as npm lays node_modules out. */
function resolveInLock(packages: Record<string, unknown>, from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf("/node_modules/")))) {
    const path = `${dir ? `${dir}/` : ""}node_modules/${name}`;
    if (packages[path]) return path;
    if (!dir) return undefined;
  }
}

test("scaffold's package-lock.json links microforge and holds tsx and all it needs as microforge's lock has them", async () => {
  const files = scaffoldFiles(answers, { microforgeRoot: "/opt/microforge", dir: "/home/me/demo" });
  const lock = JSON.parse(files["package-lock.json"]);
  const pkg = JSON.parse(files["package.json"]);
  assert.equal(lock.lockfileVersion, 3);
  assert.deepEqual(lock.packages[""], { name: "demo", version: pkg.version, dependencies: pkg.dependencies });
  assert.deepEqual(lock.packages["node_modules/microforge"], { resolved: "../../../opt/microforge", link: true });
  assert.equal(lock.packages["../../../opt/microforge"].name, "microforge");
  assert.equal(lock.packages["node_modules/tsx"].version, ownTsx);
  const own = JSON.parse(await readFile(join(repoRoot, "package-lock.json"), "utf8")).packages;
  for (const [path, entry] of Object.entries(lock.packages as Record<string, Record<string, Record<string, string>>>)) {
    if (!path.startsWith("node_modules/") || path === "node_modules/microforge") continue;
    assert.equal(entry.integrity, own[path].integrity, `${path} as microforge installed it`);
    assert.equal(entry.dev, undefined, `${path} is not a dev dependency here`);
    for (const name of Object.keys(entry.dependencies ?? {})) assert.ok(resolveInLock(lock.packages, path, name), `${path} needs ${name}, and it is in the lock`);
  }
  assert.deepEqual(pkg.allowScripts, { esbuild: false }, "esbuild's install script is not run, as in microforge's own install, and npm does not warn about it");
});

test("installedTsx follows nested node_modules, skips missing optional packages, and falls back to npm's hidden lock file", async () => {
  const root = await tempDir("scaffold-tsx-");
  const lockOf = (packages: Record<string, unknown>) => JSON.stringify({ lockfileVersion: 3, packages: { "": { name: "microforge" }, ...packages } });
  const tsx = { version: "4.1.0", integrity: "sha512-t", dependencies: { a: "^1" }, optionalDependencies: { fsevents: "~2", gone: "1" } };
  const packages = {
    "node_modules/tsx": tsx,
    "node_modules/tsx/node_modules/a": { version: "1.0.0", dependencies: { b: "^2" }, dev: true },
    "node_modules/a": { version: "0.9.0" },
    "node_modules/b": { version: "2.0.0", hasInstallScript: true },
    "node_modules/fsevents": { version: "2.3.3", optional: true },
    "node_modules/unrelated": { version: "9.9.9" },
  };
  await mkdir(join(root, "node_modules", "tsx"), { recursive: true });
  await writeFile(join(root, "node_modules", "tsx", "package.json"), JSON.stringify({ name: "tsx", version: "4.1.0" }));
  assert.deepEqual(installedTsx(root), { version: "4.1.0" }, "no lock file: the version alone");
  await writeFile(join(root, "package-lock.json"), lockOf({ ...packages, "node_modules/tsx": { ...tsx, version: "4.0.0" } }));
  await writeFile(join(root, "node_modules", ".package-lock.json"), lockOf(packages));
  assert.deepEqual(installedTsx(root), {
    version: "4.1.0",
    packages: {
      "node_modules/tsx": tsx,
      "node_modules/tsx/node_modules/a": { version: "1.0.0", dependencies: { b: "^2" } },
      "node_modules/b": { version: "2.0.0", hasInstallScript: true },
      "node_modules/fsevents": { version: "2.3.3", optional: true },
    },
  }, "package-lock.json has another tsx, so the hidden lock file, which describes node_modules");
  await writeFile(join(root, "node_modules", ".package-lock.json"), lockOf({ ...packages, "node_modules/b": undefined }));
  assert.deepEqual(installedTsx(root), { version: "4.1.0" }, "a required package is missing: no lock entries");
  const files = scaffoldFiles(answers, { tsx: null });
  assert.equal(files["package-lock.json"], undefined);
  assert.equal(JSON.parse(files["package.json"]).dependencies.tsx, JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")).dependencies.tsx);
});

test("scaffold copies microforge's /init template and says it is the recipe's own", async () => {
  const builtin = await readFile(join(repoRoot, "templates", "init.sh.ejs"), "utf8");
  const init = scaffoldFiles(answers)["templates/init.sh.ejs"];
  const [shebang, ...rest] = builtin.split("\n");
  assert.ok(init.startsWith(`${shebang}\n# This is demo's own /init template`));
  assert.ok(init.endsWith(rest.join("\n")), "the rest is a verbatim copy");
});

test("scaffold's kernel fragment sets nothing until it is edited, and renders as a config template", async () => {
  const dir = await tempDir("scaffold-");
  const file = join(dir, "recipe.config.ejs");
  await writeFile(file, scaffoldFiles(answers)["templates/kernel/recipe.config.ejs"]);
  const vars = { kernel: { version: "6.1.192", major: 6, minor: 1 }, atLeast: () => true };
  const text = renderTemplate(file, { ...vars, opts: { features: ["disk"] } });
  assert.match(text, /^# CONFIG_IKCONFIG=y$/m);
  assert.equal(parseDotConfig(text).size, 0);
});

test("writeScaffold creates the directory with nested files and leaves no staging directory", async () => {
  const parent = await tempDir("scaffold-");
  const dir = join(parent, "proj");
  await writeScaffold(dir, { "a.txt": "a\n", "templates/kernel/x.config.ejs": "# x\n", "run.ts": "#!/usr/bin/env -S npx tsx\n" });
  assert.equal(await readFile(join(dir, "templates/kernel/x.config.ejs"), "utf8"), "# x\n");
  assert.equal((await stat(join(dir, "run.ts"))).mode & 0o111, 0o111, "a script with #! is executable");
  assert.equal((await stat(join(dir, "a.txt"))).mode & 0o111, 0);
  assert.deepEqual(await readdir(parent), ["proj"]);
});

test("writeScaffold refuses a directory that is not empty, naming it and --force", async () => {
  const dir = await tempDir("scaffold-");
  await writeFile(join(dir, "notes.txt"), "mine\n");
  await assert.rejects(writeScaffold(dir, { "a.txt": "a\n" }), (err: unknown) => {
    assert.ok(err instanceof ScaffoldError);
    assert.match(err.message, new RegExp(`Directory ${dir} is not empty`));
    assert.match(err.message, /--force/);
    return true;
  });
  assert.deepEqual(await readdir(dir), ["notes.txt"]);
});

test("writeScaffold --force replaces the recipe's files and keeps the others", async () => {
  const dir = await tempDir("scaffold-");
  await writeFile(join(dir, "notes.txt"), "mine\n");
  await writeFile(join(dir, "a.txt"), "old\n");
  await writeScaffold(dir, { "a.txt": "new\n", "sub/b.txt": "b\n" }, { force: true });
  assert.equal(await readFile(join(dir, "a.txt"), "utf8"), "new\n");
  assert.equal(await readFile(join(dir, "sub/b.txt"), "utf8"), "b\n");
  assert.equal(await readFile(join(dir, "notes.txt"), "utf8"), "mine\n");
  assert.deepEqual((await readdir(dir)).sort(), ["a.txt", "notes.txt", "sub"]);
});

test("writeScaffold leaves nothing behind when a file cannot be written", async () => {
  const parent = await tempDir("scaffold-");
  const dir = join(parent, "proj");
  // "a" is a file, so "a/b" cannot be created under it.
  await assert.rejects(writeScaffold(dir, { a: "x\n", "a/b": "y\n" }));
  assert.deepEqual(await readdir(parent), []);
  await assert.rejects(writeScaffold(dir, { "../escape.txt": "x\n" }), /outside/);
});

/** Prompts that answer from `replies` by message and record what was asked. */
function fakePrompts(replies: Record<string, unknown>): { prompts: Prompts; asked: string[] } {
  const asked: string[] = [];
  const reply = (o: { message: string; default?: unknown; choices?: { value: string; checked?: boolean }[] }) => {
    asked.push(o.message);
    const key = Object.keys(replies).find((k) => o.message.startsWith(k));
    if (key) return Promise.resolve(replies[key]);
    return Promise.resolve(o.default ?? o.choices?.filter((c) => c.checked).map((c) => c.value));
  };
  return { prompts: { input: reply, select: reply, checkbox: reply, confirm: reply } as unknown as Prompts, asked };
}

async function newIn(argv: string[], deps: Parameters<typeof runNew>[1] = {}): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await runNew(parseFlags(newCommand, argv), { write: (t) => (out += t), env: {}, ...deps });
  return { code, out };
}

test("new asks only for what the flags leave open, and writes the answers", async () => {
  const dir = join(await tempDir("scaffold-"), "My VM");
  const { prompts, asked } = fakePrompts({ "Guest memory": "256M", Devices: ["share"], "What the recipe does": "command", "Command to run": "ls /" });
  const { code, out } = await newIn([dir, "--cpus", "4", "--kernel", "6.10"], { prompts, interactive: true });
  assert.equal(code, 0);
  assert.deepEqual(asked.map((m) => m.split(" ")[0]), ["Package", "Busybox", "Guest", "Devices", "What", "Command"]);
  assert.match(out, /Created my-vm in .*My VM/);
  assert.match(out, /npm install && npm start/);
  const recipe = await readFile(join(dir, "recipe.ts"), "utf8");
  for (const dflt of ['default: "6.10"', 'default: "256M"', "default: 4 }", 'default: ["share"]', 'default: "ls /"']) assert.ok(recipe.includes(dflt), dflt);
  assert.equal(JSON.parse(await readFile(join(dir, "package.json"), "utf8")).name, "my-vm");
});

test("new --yes takes the defaults without prompting", async () => {
  const dir = join(await tempDir("scaffold-"), "quick");
  const { prompts, asked } = fakePrompts({});
  assert.equal((await newIn([dir, "--yes", "--features", "net,disk"], { prompts, interactive: false })).code, 0);
  assert.deepEqual(asked, []);
  const recipe = await readFile(join(dir, "recipe.ts"), "utf8");
  for (const dflt of ['default: "longterm"', 'default: "latest"', 'default: "512M"', "default: 1 }", 'default: ["net","disk"]']) assert.ok(recipe.includes(dflt), dflt);
  assert.match(recipe, /vm\.start\(opts\._\)/);
  assert.equal(JSON.parse(await readFile(join(dir, "package.json"), "utf8")).name, "quick");
});

test("new refuses a non-empty directory before asking anything; --force writes into it", async () => {
  const dir = await tempDir("scaffold-");
  await writeFile(join(dir, "keep.txt"), "x\n");
  const { prompts, asked } = fakePrompts({});
  await assert.rejects(newIn([dir], { prompts, interactive: true }), (err: unknown) => err instanceof ScaffoldError && err.message.includes(dir) && err.message.includes("--force"));
  assert.deepEqual(asked, []);
  assert.equal((await newIn([dir, "--force", "--yes", "--name", "forced"])).code, 0);
  assert.equal(JSON.parse(await readFile(join(dir, "package.json"), "utf8")).name, "forced");
  assert.equal(await readFile(join(dir, "keep.txt"), "utf8"), "x\n");
});

test("new refuses bad values with the flag's name, before writing anything", async () => {
  const parent = await tempDir("scaffold-");
  const dir = join(parent, "bad");
  const cases: [string[], RegExp][] = [
    [["--memory", "2G"], /Invalid --memory "2G": Memory of exactly 2 GiB is refused/],
    [["--cpus", "0"], /Invalid --cpus 0: Invalid CPU count/],
    [["--features", "net,gpu"], /Invalid --features \["net","gpu"\]: choose among net, share, disk/],
    [["--mode", "daemon"], /Invalid --mode "daemon": use shell or command/],
    [["--kernel", "newest"], /Invalid --kernel "newest": newest is not a kernel version spec/],
    [["--name", "Bad Name"], /Invalid --name "Bad Name"/],
  ];
  for (const [flags, message] of cases) await assert.rejects(newIn([dir, "--yes", ...flags]), message);
  await assert.rejects(newIn([]), /microforge new needs a directory/);
  await assert.rejects(newIn([dir, "extra"]), /Unexpected argument extra/);
  assert.deepEqual(await readdir(parent), []);
});

test("new names the package after the directory, as npm allows", () => {
  assert.equal(packageName("/x/My Project!"), "my-project");
  assert.equal(packageName("./.hidden"), "hidden");
  assert.equal(packageName("/"), "recipe");
});
