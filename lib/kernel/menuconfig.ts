/**
 * `make menuconfig` / `make nconfig` over the merged, verified config, keeping
 * only what the person changed: the request is configured into a scratch O=
 * directory, `.config` is snapshotted, the kernel's own UI runs on the user's
 * terminal, and every symbol whose value differs afterwards (the ones chosen
 * and the ones the choice selected or revealed) is written as a fragment, the
 * "local" layer of later builds.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseDotConfig, renderFragment } from "./dot-config.ts";
import { configureKernel } from "./config.ts";
import { makefileVersion } from "./local-tree.ts";
import { reproducibleEnv } from "./build.ts";
import { archEnv } from "./build-steps.ts";
import { type Arch, hostArch } from "../util/arch.ts";
import type { ConfigRequest } from "./fragments.ts";
import { cacheRoot, writeFileAtomic } from "../util/cache-dir.ts";
import { UsageError } from "../util/errors.ts";
import { type Runner, runProcess } from "../util/process.ts";
import { type Logger, stderrLogger } from "../util/log.ts";

/** Options of {@linkcode menuconfig}. */
export interface MenuconfigOptions {
  /** The kernel source tree (never written to: everything goes to the scratch O= directory). */
  tree: string;
  /** Where the scratch O= directory is created (default `<cache>/tmp`); the scratch directory is removed afterwards. */
  buildDir?: string;
  request: ConfigRequest;
  ui: "menuconfig" | "nconfig";
  /** The fragment to write (merged over its contents when it exists). */
  output: string;
  /** Runs allnoconfig and then the UI (with `stdio: "inherit"`); tests replace it to play the user's edit. */
  run?: Runner;
  env?: Record<string, string | undefined>;
  log?: Logger;
  /** Our stdin and stdout are a terminal (default: both `isTTY`). */
  tty?: boolean;
  /** Kernel version for the fragment's header (default: from the tree's Makefile). */
  version?: string;
  /** The guest architecture whose menu it is (default: the host's). */
  arch?: Arch;
}

/** What {@linkcode menuconfig} did. */
export interface MenuconfigResult {
  /** Symbols whose value changed in the UI ("n" for one that became unset), in `.config` order. */
  changed: Map<string, string>;
  /** False when nothing changed: the output file was not touched. */
  wrote: boolean;
  output: string;
}

/** Symbols of `after` whose value differs from `before` (an absent symbol counts as "n"), in `after`'s order, then the ones that vanished. */
export function configChanges(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of after) if ((before.get(name) ?? "n") !== value) out.set(name, value);
  for (const [name, value] of before) if (!after.has(name) && value !== "n") out.set(name, "n");
  return out;
}

const LINE = /^\s*(?:CONFIG_([A-Za-z0-9_]+)=|#\s*CONFIG_([A-Za-z0-9_]+) is not set\s*$)/;

/**
 * `changes` merged over fragment text `existing`: a symbol already set there
 * is rewritten in place (later duplicates dropped), new ones are appended, and
 * comments stay. Without `existing` the text starts with `header`.
 */
export function mergeFragment(existing: string | undefined, changes: ReadonlyMap<string, string>, header: string): string {
  if (existing === undefined) return header + renderFragment(changes);
  const pending = new Map(changes);
  const done = new Set<string>();
  const lines: string[] = [];
  for (const line of existing.replace(/\n$/, "").split("\n")) {
    const m = LINE.exec(line);
    const name = m?.[1] ?? m?.[2];
    if (name && done.has(name)) continue;
    if (name && pending.has(name)) {
      lines.push(renderFragment(new Map([[name, pending.get(name)!]])).trimEnd());
      pending.delete(name);
      done.add(name);
    } else lines.push(line);
  }
  const body = existing.trim() === "" ? header.trimEnd() : lines.join("\n");
  return `${body}\n${renderFragment(pending)}`;
}

async function treeVersion(tree: string): Promise<string | undefined> {
  return makefileVersion(await readFile(join(tree, "Makefile"), "utf8").catch(() => ""))?.version;
}

/** The header of a new local fragment (no date, so rewriting the same choices gives the same bytes). */
function headerFor(version: string | undefined, ui: string): string {
  return `# microforge local kernel config layer, written by \`microforge kernel ${ui}\`${version ? ` on linux ${version}` : ""}.\n` +
    "# Applied after the recipe's fragments and before --set overrides; edit it freely.\n";
}

/** Refuse to start `ui` without a terminal (before any download, in the CLI). */
export function assertTerminal(ui: string, tty: boolean = process.stdin.isTTY === true && process.stdout.isTTY === true): void {
  if (!tty) {
    throw new UsageError(`${ui} needs a terminal: stdin and stdout must be a TTY`, `run \`microforge kernel ${ui}\` in a terminal, or write the fragment by hand and pass it with --config`);
  }
}

/** Run the kernel's config UI over `request` and write what changed to `output`; refuses without a terminal. */
export async function menuconfig(o: MenuconfigOptions): Promise<MenuconfigResult> {
  assertTerminal(o.ui, o.tty);
  const run = o.run ?? runProcess;
  const log = o.log ?? stderrLogger();
  const env = { ...reproducibleEnv(o.env ?? process.env), ...archEnv(o.arch ?? hostArch()) };
  const parent = o.buildDir ?? join(cacheRoot(o.env ?? process.env), "tmp");
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(join(parent, `${o.ui}-`));
  try {
    log.step(`configuring ${o.tree} with ${o.request.requested.size} requested symbols`);
    await configureKernel(o.tree, dir, o.request, { run, env });
    const before = parseDotConfig(await readFile(join(dir, ".config"), "utf8"));
    await run(["make", "-C", o.tree, `O=${dir}`, o.ui], {
      env,
      stdio: "inherit",
      hint: `${o.ui} needs the ncurses headers (libncurses-dev): run \`microforge doctor --fix\``,
    });
    const changed = configChanges(before, parseDotConfig(await readFile(join(dir, ".config"), "utf8")));
    if (!changed.size) return { changed, wrote: false, output: o.output };
    const existing = await readFile(o.output, "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    const text = mergeFragment(existing, changed, headerFor(o.version ?? (await treeVersion(o.tree)), o.ui));
    parseDotConfig(text, { source: o.output }); // what we write must read back as a fragment
    await writeFileAtomic(o.output, text);
    return { changed, wrote: true, output: o.output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
