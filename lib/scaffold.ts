/**
 * The files of a new recipe project (`microforge new`): every file under
 * `templates/scaffold/` is rendered with the answers and written without its
 * `.ejs` suffix, so `templates/kernel/recipe.config.ejs.ejs` becomes the
 * project's own `templates/kernel/recipe.config.ejs`.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "./cache-dir.ts";
import { UsageError } from "./errors.ts";
import { renderTemplate } from "./template.ts";

/** The root of this microforge checkout (holds `package.json`, `lib/`, `templates/`). */
export const microforgeRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");

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

/** Options of {@linkcode scaffoldFiles}. */
export interface ScaffoldOptions {
  /** The microforge the project depends on (default: this checkout). */
  microforgeRoot?: string;
}

function templateFiles(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? templateFiles(dir, join(prefix, e.name)) : e.name.endsWith(".ejs") ? [join(prefix, e.name)] : []))
    .sort();
}

/** Render the project's files from `answers`: relative path → content. Reads templates, writes nothing. */
export function scaffoldFiles(answers: ScaffoldAnswers, options: ScaffoldOptions = {}): Record<string, string> {
  const root = resolve(options.microforgeRoot ?? microforgeRoot);
  const own = JSON.parse(readFileSync(join(microforgeRoot, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
  const init = readFileSync(join(microforgeRoot, "templates", "init.sh.ejs"), "utf8");
  const newline = init.indexOf("\n") + 1;
  const vars = {
    ...answers,
    microforgeRoot: root,
    tsxVersion: own.dependencies?.tsx ?? "^4",
    builtinInit: { shebang: init.slice(0, newline), body: init.slice(newline) },
    js: (v: unknown) => JSON.stringify(v),
  };
  const dir = join(microforgeRoot, "templates", "scaffold");
  return Object.fromEntries(templateFiles(dir).map((file) => [file.slice(0, -".ejs".length), renderTemplate(join(dir, file), vars)]));
}

/** True when `dir` exists and holds anything. */
export async function isNonEmptyDir(dir: string): Promise<boolean> {
  return (await readdir(dir).catch(() => [])).length > 0;
}

/** The refusal for a directory that is not empty. */
export function notEmptyError(dir: string): UsageError {
  return new UsageError(`Directory ${dir} is not empty`, "choose a new directory, or pass --force to write the recipe's files over it (other files are kept)");
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
    if (rel.startsWith("..") || rel === "" || path.startsWith("/")) throw new UsageError(`Refusing to write ${path} outside ${target}`, "scaffold paths must be relative");
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
