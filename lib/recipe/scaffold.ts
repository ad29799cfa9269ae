/**
 * The files of a new recipe project (`microforge new`): every file under
 * `templates/scaffold/` is rendered with the answers and written without its
 * `.ejs` suffix, so `templates/kernel/recipe.config.ejs.ejs` becomes the
 * project's own `templates/kernel/recipe.config.ejs`. Beside them, a
 * package-lock.json made from microforge's own lock, so that `npm install`
 * in the project finds everything in the npm cache `npm ci` of microforge
 * filled, and asks the registry nothing.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { writeFileAtomic } from "../util/cache-dir.ts";
import { ScaffoldError } from "../util/errors.ts";
import { renderTemplate } from "../util/template.ts";
import { packageRoot } from "../util/package-root.ts";

/** The root of this microforge checkout (holds `package.json`, `lib/`, `templates/`). */
export const microforgeRoot: string = packageRoot;

/** VM devices a new recipe can start with. */
export const SCAFFOLD_FEATURES = ["net", "share", "disk"] as const;

/** What the generated recipe starts with. */
export interface ScaffoldAnswers {
  /** Package name. */
  name: string;
  /** Kernel version spec (longterm, 6.1, ^6.6, ...). */
  kernel: string;
  /** Busybox version spec (latest, 1.36, ...). */
  busybox: string;
  memory: string;
  cpus: number;
  features: readonly string[];
  /** `shell`: a console on a terminal (or `-- CMD`); `command`: run `command` and exit with its status. */
  mode: "shell" | "command";
  command: string;
}

/** The answers `microforge new --yes` uses for what is not given. */
export const SCAFFOLD_DEFAULTS: Omit<ScaffoldAnswers, "name"> = {
  kernel: "longterm",
  busybox: "latest",
  memory: "512M",
  cpus: 1,
  features: [],
  mode: "shell",
  command: "uname -a",
};

/** An entry of an npm lock file's `packages` (`node_modules/tsx`: its version, integrity, dependencies, ...). */
export type LockEntry = {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optional?: boolean;
  hasInstallScript?: boolean;
  [field: string]: unknown;
};

/** tsx as microforge's own install has it. */
export interface InstalledTsx {
  /** The version in microforge's node_modules. */
  version: string;
  /** The lock entries of tsx and of everything it needs, by path; undefined when no lock file of microforge agrees with node_modules. */
  packages?: Record<string, LockEntry>;
}

/** Options of {@linkcode scaffoldFiles}. */
export interface ScaffoldOptions {
  /** The microforge the project depends on (default: this checkout). */
  microforgeRoot?: string;
  /** The project's directory, for the lock file's relative path to microforge (default: the current directory). */
  dir?: string;
  /** The tsx to pin (default: {@linkcode installedTsx}); `null`: none, so a range and no lock file. */
  tsx?: InstalledTsx | null;
}

// deno-lint-ignore no-explicit-any
const readJson = (path: string): any => {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
};

/** Where Node finds package `name` from the package at lock path `from`: its own node_modules, then each parent's. */
function lockResolve(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf("/node_modules/")))) {
    const path = `${dir ? `${dir}/` : ""}node_modules/${name}`;
    if (packages[path]) return path;
    if (!dir) return undefined;
  }
}

/**
 * The entries `start` needs from `packages`, at the same paths, flagged
 * optional where only optional edges reach them; undefined when a required
 * one is missing. microforge's own dev flags are dropped: here they are needed.
 */
function lockClosure(packages: Record<string, LockEntry>, start: string): Record<string, LockEntry> | undefined {
  const required = new Set<string>();
  const reached = new Set<string>();
  const walk = (path: string, optional: boolean): boolean => {
    if ((optional ? reached : required).has(path)) return true;
    reached.add(path);
    if (!optional) required.add(path);
    const e = packages[path];
    const edges: [string, boolean][] = [
      ...Object.keys(e.dependencies ?? {}).map((n): [string, boolean] => [n, optional]),
      ...Object.keys(e.peerDependencies ?? {}).map((n): [string, boolean] => [n, optional || e.peerDependenciesMeta?.[n]?.optional === true]),
      ...Object.keys(e.optionalDependencies ?? {}).map((n): [string, boolean] => [n, true]),
    ];
    return edges.every(([name, opt]) => {
      const dep = lockResolve(packages, path, name);
      return dep ? walk(dep, opt) : opt;
    });
  };
  if (!packages[start] || !walk(start, false)) return undefined;
  return Object.fromEntries([...reached].map((path) => {
    const { dev: _d, devOptional: _o, peer: _p, extraneous: _e, ...entry } = packages[path];
    if (required.has(path)) delete entry.optional;
    else entry.optional = true;
    return [path, entry];
  }));
}

/**
 * tsx as installed in `root`'s node_modules, with the entries for it and all
 * it needs from `root`'s package-lock.json (else npm's hidden
 * node_modules/.package-lock.json) when that has the same version; undefined
 * when tsx is not installed there.
 */
export function installedTsx(root: string = microforgeRoot): InstalledTsx | undefined {
  const version = readJson(join(root, "node_modules", "tsx", "package.json"))?.version;
  if (typeof version !== "string") return undefined;
  for (const file of [join(root, "package-lock.json"), join(root, "node_modules", ".package-lock.json")]) {
    const packages = readJson(file)?.packages as Record<string, LockEntry> | undefined;
    if (packages?.["node_modules/tsx"]?.version !== version) continue;
    const needed = lockClosure(packages, "node_modules/tsx");
    if (needed) return { version, packages: needed };
  }
  return { version };
}

const pick = (pkg: Record<string, unknown>, keys: readonly string[]) => Object.fromEntries(keys.filter((k) => pkg[k] !== undefined).map((k) => [k, pkg[k]]));

/**
 * The project's package-lock.json: microforge as a link (a `file:`
 * directory), tsx and what it needs as microforge's lock has them, so npm
 * installs from its cache and asks the registry nothing.
 */
function projectLock(pkg: Record<string, unknown>, link: string, microforgePkg: Record<string, unknown>, tsxPackages: Record<string, LockEntry>): string {
  const modules: Record<string, unknown> = { "node_modules/microforge": { resolved: link, link: true }, ...tsxPackages };
  const sorted = Object.keys(modules).sort((a, b) => a.localeCompare(b, "en")).map((k) => [k, modules[k]]);
  const target = pick(microforgePkg, ["name", "version", "license", "dependencies", "optionalDependencies", "peerDependencies", "bin", "devDependencies", "engines"]);
  const packages = { "": pick(pkg, ["name", "version", "dependencies"]), [link]: target, ...Object.fromEntries(sorted) };
  return `${JSON.stringify({ name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`;
}

function templateFiles(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? templateFiles(dir, join(prefix, e.name)) : e.name.endsWith(".ejs") ? [join(prefix, e.name)] : []))
    .sort();
}

/**
 * Render the project's files from `answers`: relative path → content. Reads
 * templates and microforge's install, writes nothing. With tsx installed
 * beside microforge, package.json pins its exact version and a
 * package-lock.json is added, so the project installs offline.
 */
export function scaffoldFiles(answers: ScaffoldAnswers, options: ScaffoldOptions = {}): Record<string, string> {
  const root = resolve(options.microforgeRoot ?? microforgeRoot);
  const own = readJson(join(microforgeRoot, "package.json")) as { dependencies?: Record<string, string> };
  const tsx = options.tsx === undefined ? installedTsx() : options.tsx ?? undefined;
  const init = readFileSync(join(microforgeRoot, "templates", "init.sh.ejs"), "utf8");
  const newline = init.indexOf("\n") + 1;
  // npm 11 runs no dependency's install script unless allowed, and warns about each;
  // tsx needs none (esbuild's only checks its binary), so say no and stay quiet.
  const noScripts = Object.entries(tsx?.packages ?? {}).filter(([, e]) => e.hasInstallScript).map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length));
  const vars = {
    ...answers,
    microforgeRoot: root,
    tsxVersion: tsx?.version ?? own.dependencies?.tsx ?? "^4",
    allowScripts: Object.fromEntries(noScripts.sort().map((name) => [name, false])),
    builtinInit: { shebang: init.slice(0, newline), body: init.slice(newline) },
    /** JSON; with `indent`, pretty-printed for a value nested that deep in a 2-space file. */
    js: (v: unknown, indent = 0) => (indent ? JSON.stringify(v, null, 2).replaceAll("\n", `\n${" ".repeat(indent)}`) : JSON.stringify(v)),
  };
  const dir = join(microforgeRoot, "templates", "scaffold");
  const files = Object.fromEntries(templateFiles(dir).map((file) => [file.slice(0, -".ejs".length), renderTemplate(join(dir, file), vars)]));
  if (tsx?.packages) {
    const link = relative(resolve(options.dir ?? "."), root);
    files["package-lock.json"] = projectLock(JSON.parse(files["package.json"]), link, own as Record<string, unknown>, tsx.packages);
  }
  return files;
}

/** True when `dir` exists and holds anything. */
export async function isNonEmptyDir(dir: string): Promise<boolean> {
  return (await readdir(dir).catch(() => [])).length > 0;
}

/** The refusal for a directory that is not empty. */
export function notEmptyError(dir: string): ScaffoldError {
  return new ScaffoldError(`Directory ${dir} is not empty`, "choose a new directory, or pass --force to write the recipe's files over it (other files are kept)");
}

const modeOf = (path: string, content: string) => (content.startsWith("#!") && !path.endsWith(".ejs") ? 0o755 : 0o644);

/**
 * Write `files` into `dir`. A missing or empty `dir` is filled in a temporary
 * sibling that is renamed into place, so a failure leaves nothing behind. A
 * non-empty `dir` is refused unless `force`; then each file is replaced
 * atomically and other files are left alone.
 */
export async function writeScaffold(dir: string, files: Record<string, string>, options: { force?: boolean } = {}): Promise<void> {
  const target = resolve(dir);
  for (const path of Object.keys(files)) {
    const rel = relative(target, join(target, path));
    if (rel.startsWith("..") || rel === "" || path.startsWith("/")) throw new ScaffoldError(`Refusing to write ${path} outside ${target}`, "scaffold paths must be relative");
  }
  if (await isNonEmptyDir(target)) {
    if (!options.force) throw notEmptyError(target);
    for (const [path, content] of Object.entries(files)) await writeFileAtomic(join(target, path), content, modeOf(path, content));
    return;
  }
  await mkdir(dirname(target), { recursive: true });
  // Not mkdtemp: its 0700 mode would become the project's.
  const staging = join(dirname(target), `.${basename(target)}.new-${process.pid}-${randomBytes(4).toString("hex")}`);
  await mkdir(staging);
  try {
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(staging, path)), { recursive: true });
      await writeFile(join(staging, path), content, { mode: modeOf(path, content) });
    }
    // rename() replaces an empty directory on Linux, but not everywhere: remove it first.
    if (existsSync(target)) await rmdir(target);
    await rename(staging, target);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}
