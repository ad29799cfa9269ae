/**
 * The default root filesystem (the blog's layout) as cpio entries, built in
 * small steps like virtme-ng's mkinitramfs: base layout, device nodes,
 * busybox, `/init` from its EJS template, kernel modules (modules.ts), then
 * the recipe's extra content.
 */
import { stat } from "node:fs/promises";
import { archivePath, type CpioEntry } from "./cpio.ts";
import { InitVarError, RootfsError } from "../util/errors.ts";
import { join } from "node:path";
import { builtinTemplates, findTemplate, renderTemplate } from "../util/template.ts";
import type { Logger } from "../util/log.ts";
import { moduleEntries, type ModuleSet } from "./modules.ts";

/** The blog's top-level directories. */
export const BASE_DIRS: readonly string[] = ["bin", "dev", "etc", "lib", "mnt", "proc", "sys", "tmp", "var"];

/** A mount `/init` performs. */
export interface InitMount {
  type: string;
  source: string;
  target: string;
  options?: string;
}

/** Variables of `templates/init.sh.ejs`; every one has a default. */
export interface InitVars {
  hostname: string;
  /** A line `/init` prints once it runs; boots are detected by it. */
  banner: string;
  term: string;
  mounts: InitMount[];
  /** "auto": DHCP on eth0 when the VM has a NIC; or a static IPv4 setup (QEMU user networking: 10.0.2.15/24 via 10.0.2.2); or null. */
  network: "auto" | "dhcp" | { address: string; gateway: string; dns: string } | null;
  /** A 9p share to mount and `cd` into. */
  share: { tag: string; mountpoint: string; readonly: boolean } | null;
  /** A command (argv) to run instead of a shell; its status is printed after `exitMarker`. */
  command: string[] | null;
  exitMarker: string;
  /** Start an interactive shell when there is no command (the old name `shell` is still accepted). */
  interactiveShell: boolean;
  /**
   * Kernel modules to `modprobe` before the command or shell; if one cannot
   * be loaded, the command does not run and its status is modprobe's.
   */
  modules: string[];
}

/** The blog's `/init`: install busybox links, mount proc, sysfs, devtmpfs and tmpfs, run `sh`, then end the VM. */
export function defaultInitVars(): InitVars {
  return {
    hostname: "microforge",
    banner: "microforge: /init started",
    term: "linux",
    mounts: [
      { type: "proc", source: "proc", target: "/proc" },
      { type: "sysfs", source: "sysfs", target: "/sys" },
      { type: "devtmpfs", source: "devtmpfs", target: "/dev" },
      { type: "tmpfs", source: "tmpfs", target: "/tmp" },
    ],
    network: "auto",
    share: null,
    command: null,
    exitMarker: "microforge-exit-status:",
    interactiveShell: true,
    modules: [],
  };
}

const isString = (v: unknown) => typeof v === "string";
const fields = (v: unknown, keys: readonly string[]) => typeof v === "object" && v !== null && keys.every((k) => isString((v as Record<string, unknown>)[k]));
const isMount = (m: unknown) => fields(m, ["type", "source", "target"]) && [undefined, null].includes((m as InitMount).options as never) || fields(m, ["type", "source", "target", "options"]);

/** What each variable of the default `/init` must be: a check, the type in words, and an example `--set`. */
const VAR_TYPES: Record<string, [(v: unknown) => boolean, string, string]> = {
  hostname: [isString, "a string", "--set hostname=vm1"],
  banner: [isString, "a string", "--set banner=booted"],
  term: [isString, "a string", "--set term=vt100"],
  exitMarker: [isString, "a string", "--set exitMarker=status:"],
  mounts: [(v) => Array.isArray(v) && v.every(isMount), "a list of { type, source, target, options? } strings", `--set 'mounts=[{"type":"proc","source":"proc","target":"/proc"}]'`],
  network: [(v) => v === null || v === "auto" || v === "dhcp" || fields(v, ["address", "gateway", "dns"]), `"auto", "dhcp", null or { address, gateway, dns }`, "--set network=null"],
  share: [(v) => v === null || fields(v, ["tag", "mountpoint"]), "null or { tag, mountpoint, readonly }", "--set share=null"],
  command: [(v) => v === null || (Array.isArray(v) && v.length > 0 && v.every(isString)), "a list of words (or null)", `--set 'command=["uname","-a"]'`],
  interactiveShell: [(v) => typeof v === "boolean", "true or false", "--set interactiveShell=false"],
  shell: [(v) => typeof v === "boolean", "true or false", "--set interactiveShell=false"],
  modules: [(v) => Array.isArray(v) && v.every((m) => typeof m === "string" && /^[A-Za-z0-9_-]+$/.test(m)), "a list of module names", `--set 'modules=["dummy"]'`],
};

/**
 * Refuse a variable of the default `/init` whose value has the wrong type,
 * before any work, naming the variable and what it needs (`--set command=true`
 * would otherwise fail deep in the template). Other names pass: a recipe's
 * own template may use them.
 */
export function checkInitVars(vars: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(vars)) {
    const type = VAR_TYPES[name];
    if (type && !type[0](value)) throw new InitVarError(name, type[1], value, type[2]);
  }
}

/** A file, directory or symlink a recipe adds to the image. */
export type ExtraContent =
  | { dest: string; source: string; mode?: number }
  | { dest: string; content: string | Uint8Array; mode?: number }
  | { dest: string; dir: true; mode?: number }
  | { dest: string; symlink: string };

/** What goes into the image. */
export interface RootfsSpec {
  /** Path of a static busybox (see `resolveBusybox`). */
  busybox: string;
  /** `/init`: a template (name or path) and variables over {@linkcode defaultInitVars}, or literal content. */
  init?: { template?: string; vars?: Partial<InitVars> & Record<string, unknown>; templateDirs?: string[] } | { content: string };
  /** Extra content, applied last (it may replace defaults, even `/init`). */
  extra?: ExtraContent[];
  /**
   * busybox's applet names (`busyboxApplets`): each becomes a `/bin/<name>`
   * link to busybox in the image, so `/init` need not install them at boot.
   */
  applets?: readonly string[];
  /** Kernel modules to pack under /lib/modules/<release>; the names in its `load` become `/init`'s `modules`. */
  modules?: ModuleSet;
}

/** The blog's directories plus `/dev/console` (c 5 1) and `/dev/null` (c 1 3), so output works before devtmpfs. */
export function baseLayout(): CpioEntry[] {
  return [
    ...BASE_DIRS.map((path): CpioEntry => ({ type: "dir", path, mode: path === "tmp" ? 0o1777 : 0o755 })),
    { type: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 },
    { type: "char", path: "dev/null", mode: 0o666, major: 1, minor: 3 },
  ];
}

/** Render `/init` as configured by `init`. */
export function renderInit(init: RootfsSpec["init"] = {}): string {
  if ("content" in init) return init.content;
  const file = findTemplate(init.template ?? "init.sh.ejs", init.templateDirs);
  // The variable's old name: `--set shell=false` and DSL vars from before the rename keep working.
  checkInitVars(init.vars ?? {});
  const { shell: oldName, ...vars } = init.vars ?? {};
  const renamed = oldName !== undefined && vars.interactiveShell === undefined ? { interactiveShell: oldName as boolean } : {};
  return renderTemplate(file, { ...defaultInitVars(), ...vars, ...renamed });
}

/** Directories leading to `path` ("a/b/c" → "a", "a/b"). */
function parents(path: string): string[] {
  const parts = archivePath(path).split("/");
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

async function extraEntry(item: ExtraContent): Promise<CpioEntry> {
  const path = archivePath(item.dest);
  if ("symlink" in item) return { type: "symlink", path, target: item.symlink };
  if ("dir" in item) return { type: "dir", path, mode: item.mode ?? 0o755 };
  if ("content" in item) {
    const data = typeof item.content === "string" ? new TextEncoder().encode(item.content) : item.content;
    return { type: "file", path, data, mode: item.mode ?? 0o644 };
  }
  let mode: number;
  try {
    const st = await stat(item.source);
    if (!st.isFile()) throw new Error("not a regular file");
    mode = st.mode & 0o7777;
  } catch (err) {
    throw new RootfsError(`Cannot add ${item.source} as /${path}: ${(err as Error).message}`, "check the source path of --file SRC:DEST");
  }
  return { type: "file", path, source: item.source, mode: item.mode ?? mode };
}

/** `init` with the modules to load added to its variables (a literal `/init` is left as it is). */
function initWithModules(init: RootfsSpec["init"], load: readonly string[]): RootfsSpec["init"] {
  if (!load.length || (init && "content" in init)) return init;
  const vars = init?.vars ?? {};
  const modules = [...new Set([...((vars.modules as string[] | undefined) ?? []), ...load])];
  return { ...init, vars: { ...vars, modules } };
}

/** All entries of the image described by `spec` (unsorted; the cpio writer sorts). */
export async function rootfsEntries(spec: RootfsSpec, o: { log?: Logger } = {}): Promise<CpioEntry[]> {
  const modules = spec.modules ? await moduleEntries(spec.modules) : undefined;
  if (modules?.builtin.length) o.log?.step(`${modules.builtin.join(", ")} ${modules.builtin.length === 1 ? "is" : "are"} built into the kernel: nothing to load`);
  const entries: CpioEntry[] = [
    ...baseLayout(),
    { type: "file", path: "bin/busybox", source: spec.busybox, mode: 0o755 },
    { type: "file", path: "init", data: new TextEncoder().encode(renderInit(initWithModules(spec.init, modules?.load ?? []))), mode: 0o755 },
    { type: "file", path: "etc/udhcpc.script", source: join(builtinTemplates, "udhcpc.script"), mode: 0o755 },
    ...(modules?.entries ?? []),
  ];
  // The recipe's own content wins over a link.
  const taken = new Set([...entries.map((e) => e.path), ...(spec.extra ?? []).map((x) => archivePath(x.dest))]);
  for (const name of spec.applets ?? []) {
    // Plain names only: an applet list is data from a binary, not paths.
    if (!/^[\w.\-[]+$/.test(name) || name === "busybox" || taken.has(`bin/${name}`)) continue;
    entries.push({ type: "symlink", path: `bin/${name}`, target: "busybox" });
  }
  const dirs = new Set(entries.filter((e) => e.type === "dir").map((e) => e.path));
  for (const item of spec.extra ?? []) {
    for (const dir of parents(item.dest)) {
      if (!dirs.has(dir)) entries.push({ type: "dir", path: dir, mode: 0o755 });
      dirs.add(dir);
    }
    entries.push(await extraEntry(item));
  }
  return entries;
}
