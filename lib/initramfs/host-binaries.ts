/**
 * Host executables for the image (`--binary PATH`): each at the path it has on
 * the host, with its ELF interpreter and every shared library it needs, found
 * in the order glibc's ld.so searches (ld.so(8)):
 *   1. DT_RPATH of the needing object, then of the objects that loaded it (each
 *      only when it has no DT_RUNPATH; none at all when the needing object has one);
 *   2. DT_RUNPATH of the needing object;
 *   3. the directories of /etc/ld.so.conf (ld.so learns them from /etc/ld.so.cache);
 *   4. the defaults /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib64, /usr/lib64, /lib, /usr/lib.
 * $ORIGIN and ${ORIGIN} are expanded. A name already loaded in that process
 * (by DT_NEEDED name or DT_SONAME, like libc's need of ld-linux-x86-64.so.2)
 * is not searched again.
 *
 * Limits: only DT_NEEDED is visible. Libraries a program dlopen()s at run
 * time (NSS modules for user and DNS lookups, gconv, plugins) are not found:
 * add them with --binary too. The host's LD_LIBRARY_PATH and LD_PRELOAD are
 * ignored (the guest does not have them); path entries with $LIB or $PLATFORM,
 * or relative ones, are skipped; glibc-hwcaps subdirectories are not searched
 * (the baseline copy of a library works on any x86_64). For a script only the
 * `#!` interpreter is checked, not what `#!/usr/bin/env python3` then runs.
 */
import type { Arch } from "../util/arch.ts";
import { readdir, readFile, readlink, stat } from "node:fs/promises";
import { posix } from "node:path";
import type { ExtraContent } from "./rootfs.ts";
import { type ElfInfo, readElf } from "../util/elf.ts";
import { BinaryError, ElfError } from "../util/errors.ts";
import { ldSoCache } from "./ld-so-cache.ts";

const SEARCH_DEFAULTS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];
/** ld.so's own search path on Debian amd64 (`/lib64/ld-linux-x86-64.so.2 --help`). */
const LDSO_SYSTEM_DIRS = new Set(["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"]);
const MAX_LINKS = 40;

/** Options of {@linkcode hostBinaryContent}. */
export interface HostBinaryOptions {
  /** Whether the image already has `path` (e.g. /bin/sh from busybox): a script's interpreter must be there or given too. */
  inImage?: (path: string) => boolean;
  /** The host root to read from (default "/"; tests use a fake one). */
  root?: string;
  /** The guest's architecture (default x86_64): a binary of another is refused, a library of another skipped. */
  arch?: Arch;
}

interface Found {
  path: string;
  dir: string;
  via: "path" | "rpath" | "runpath" | "conf" | "default";
  info: ElfInfo;
}

/** The host filesystem under `root`, resolved like a chroot. */
class Host {
  readonly elves = new Map<string, Promise<ElfInfo>>();
  #conf?: Promise<string[]>;
  constructor(readonly root: string, readonly arch: Arch = "x86_64") {}

  file(path: string): string {
    return this.root === "/" ? path : posix.join(this.root, path);
  }

  /** `path` with every symlink resolved inside the root; a missing part ends the walk (stat then says ENOENT). */
  async realpath(path: string): Promise<string> {
    const todo = path.split("/").filter(Boolean);
    let done = "/";
    let links = 0;
    while (todo.length) {
      const part = todo.shift()!;
      if (part === ".") continue;
      if (part === "..") {
        done = posix.dirname(done);
        continue;
      }
      const next = posix.join(done, part);
      let target: string;
      try {
        target = await readlink(this.file(next));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EINVAL") done = next;
        else return posix.join(next, ...todo);
        continue;
      }
      if (++links > MAX_LINKS) throw Object.assign(new Error(`too many symlinks in ${path}`), { code: "ELOOP" });
      todo.unshift(...target.split("/").filter(Boolean));
      if (target.startsWith("/")) done = "/";
    }
    return done;
  }

  /** The guest architecture's ELF at the real path `path` (read once). */
  elf(path: string): Promise<ElfInfo> {
    if (!this.elves.has(path)) this.elves.set(path, readElf(this.file(path), this.arch));
    return this.elves.get(path)!;
  }

  /** The directories /etc/ld.so.conf lists, following `include` globs (relative ones to the including file), in order. */
  confDirs(): Promise<string[]> {
    return this.#conf ??= this.#parseConf();
  }

  async #parseConf(): Promise<string[]> {
    const dirs: string[] = [];
    const seen = new Set<string>();
    const parse = async (file: string): Promise<void> => {
      if (seen.has(file) || seen.size > 256) return;
      seen.add(file);
      let text: string;
      try {
        text = await readFile(this.file(await this.realpath(file)), "utf8");
      } catch {
        return; // like ldconfig: a missing ld.so.conf is no directories
      }
      for (const raw of text.split("\n")) {
        const line = raw.replace(/#.*/, "").trim();
        const include = /^include\s+(.*)$/.exec(line);
        if (include) {
          for (const pattern of include[1].split(/\s+/).filter(Boolean)) {
            for (const f of await this.#glob(posix.resolve(posix.dirname(file), pattern))) await parse(f);
          }
        } else if (line.startsWith("/") && !/^hwcap\s/.test(line)) {
          const dir = posix.normalize(line).replace(/(.)\/+$/, "$1");
          if (!dirs.includes(dir)) dirs.push(dir);
        }
      }
    };
    await parse("/etc/ld.so.conf");
    return dirs;
  }

  /** glob(3) for `*`, `?` and `[...]` in any component; sorted, no dot files for a wildcard. */
  async #glob(pattern: string): Promise<string[]> {
    let bases = ["/"];
    for (const part of pattern.split("/").filter(Boolean)) {
      if (!/[*?[]/.test(part)) {
        bases = bases.map((b) => posix.join(b, part));
        continue;
      }
      const re = new RegExp(`^${part.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]").replace(/\[!/g, "[^")}$`);
      const next: string[] = [];
      for (const base of bases) {
        const names = await readdir(this.file(base)).catch(() => [] as string[]);
        next.push(...names.filter((n) => !n.startsWith(".") && re.test(n)).sort().map((n) => posix.join(base, n)));
      }
      bases = next;
    }
    return bases;
  }
}

/** `dirs` of an object at `origin` with $ORIGIN expanded; entries we cannot place in the guest are dropped. */
function expand(dirs: readonly string[], origin: string): string[] {
  return dirs
    .map((d) => d.replace(/\$ORIGIN(?![A-Za-z0-9_])|\$\{ORIGIN\}/g, origin))
    .filter((d) => d.startsWith("/") && !d.includes("$"))
    .map((d) => posix.normalize(d));
}

/** Find library `name` for `needer`, or throw naming the binary, the library and the directories searched. */
async function findLibrary(host: Host, given: string, needer: { path: string; info: ElfInfo; rpath: string[] }, name: string): Promise<Found> {
  const stages: [Found["via"], string[]][] = [
    ["rpath", needer.info.runpath.length ? [] : needer.rpath],
    ["runpath", expand(needer.info.runpath, posix.dirname(needer.path))],
    ["conf", await host.confDirs()],
    ["default", SEARCH_DEFAULTS],
  ];
  const tried: string[] = [];
  const skipped: string[] = [];
  for (const [via, dirs] of name.includes("/") ? [["path", [""]] as [Found["via"], string[]]] : stages) {
    for (const dir of dirs) {
      if (tried.includes(dir)) continue;
      tried.push(dir);
      const path = posix.resolve("/", dir, name);
      try {
        const real = await host.realpath(path);
        if (!(await stat(host.file(real))).isFile()) continue;
        return { path, dir, via, info: await host.elf(real) };
      } catch (err) {
        // ld.so too skips a file of another class or machine and searches on.
        if (err instanceof ElfError) skipped.push(`${path} (${err.summary})`);
      }
    }
  }
  const by = needer.path === given ? "" : ` (needed by ${needer.path})`;
  const also = skipped.length ? `; unusable: ${skipped.join(", ")}` : "";
  throw new BinaryError(
    `Cannot add ${given}: shared library ${name}${by} was not found in ${tried.join(", ")}${also}`,
    "install the package that provides it on this machine, or add the library with --binary PATH",
  );
}

/** Add `path`'s interpreter and the closure of its DT_NEEDED libraries, as one process would load them. */
async function addLibraries(host: Host, given: string, path: string, info: ElfInfo, add: (item: ExtraContent) => void, cache: Map<string, string>, confUsed: Set<string>): Promise<void> {
  const loaded = new Set<string>();
  if (info.interpreter) {
    const interp = info.interpreter;
    let ld: ElfInfo;
    try {
      ld = await host.elf(await host.realpath(interp));
    } catch (err) {
      const why = err instanceof ElfError ? err.summary : (err as Error).message;
      throw new BinaryError(`Cannot add ${given}: its interpreter ${interp} cannot be used: ${why}`, "install the C library it was built for, or build the program statically", { cause: err });
    }
    // The kernel opens PT_INTERP by its path: a copy there is all it needs.
    add({ dest: interp, source: host.file(await host.realpath(interp)) });
    if (ld.soname) loaded.add(ld.soname);
  }
  const queue = [{ path, info, rpath: info.runpath.length ? [] : expand(info.rpath, posix.dirname(path)) }];
  for (let i = 0; i < queue.length; i++) {
    const needer = queue[i];
    for (const name of needer.info.needed) {
      if (loaded.has(name)) continue;
      const lib = await findLibrary(host, given, needer, name);
      loaded.add(name);
      if (lib.info.soname) loaded.add(lib.info.soname);
      // A library lands at the path it was found at, content copied: ld.so opens
      // that path, and a library's $ORIGIN is the directory it was found in.
      add({ dest: lib.path, source: host.file(await host.realpath(lib.path)) });
      if (lib.via === "conf" || lib.via === "default") {
        cache.set(name, lib.path);
        if (!LDSO_SYSTEM_DIRS.has(lib.dir)) confUsed.add(lib.dir);
      }
      const own = lib.info.runpath.length ? [] : expand(lib.info.rpath, posix.dirname(lib.path));
      queue.push({ path: lib.path, info: lib.info, rpath: [...own, ...needer.rpath] });
    }
  }
}

/** The first bytes of `file`: "elf", a script's `#!` interpreter, or "other". */
async function sniff(file: string): Promise<{ kind: "elf" } | { kind: "script"; interpreter: string } | { kind: "other" }> {
  const head = (await readFile(file)).subarray(0, 256);
  if (head.length >= 4 && head.readUInt32BE(0) === 0x7f454c46) return { kind: "elf" };
  if (head[0] !== 0x23 || head[1] !== 0x21) return { kind: "other" };
  const line = head.toString("latin1").slice(2).split("\n")[0];
  return { kind: "script", interpreter: line.trim().split(/[ \t]/)[0] };
}

/**
 * The image content for host executables `paths` (`--binary`): each at its
 * host path, its interpreter and every DT_NEEDED library at the path ld.so
 * finds it at. A path whose real path differs (itself a symlink, or through a
 * linked directory like Debian's /bin → usr/bin) becomes the real file plus a
 * symlink at the given path: Linux resolves /proc/self/exe, from which glibc
 * takes the executable's $ORIGIN, so `$ORIGIN/../lib` must hold in the image too.
 * Libraries found through an /etc/ld.so.conf directory outside ld.so's own
 * search path also get an /etc/ld.so.cache (ld.so never reads ld.so.conf; only
 * ldconfig does, and busybox has none) and an /etc/ld.so.conf listing those
 * directories. dlopen()ed libraries are invisible: see the module comment.
 * Throws {@linkcode BinaryError} naming the file and what is missing.
 */
export async function hostBinaryContent(paths: readonly string[], o: HostBinaryOptions = {}): Promise<ExtraContent[]> {
  const host = new Host(o.root ?? "/", o.arch ?? "x86_64");
  const out = new Map<string, ExtraContent>();
  const add = (item: ExtraContent) => {
    if (!out.has(item.dest)) out.set(item.dest, item);
  };
  const cache = new Map<string, string>();
  const confUsed = new Set<string>();
  const absolute = paths.map((p) => posix.resolve(host.root === "/" ? process.cwd() : "/", p));
  const reals: string[] = [];
  for (const path of absolute) reals.push(await host.realpath(path).catch(() => path));
  const givenSet = new Set([...absolute, ...reals]);
  for (const [i, path] of absolute.entries()) {
    const given = paths[i];
    const real = reals[i];
    const st = await stat(host.file(real)).catch((err: NodeJS.ErrnoException) => err.code ?? String(err));
    if (typeof st === "string") {
      throw new BinaryError(`Cannot add ${given}: ${st === "ENOENT" ? "no such file" : st}`, "check the path: --binary takes an executable on this machine");
    }
    if (st.isDirectory()) throw new BinaryError(`Cannot add ${given}: it is a directory`, "pass the executable itself; add a directory's files with --file");
    if (!st.isFile()) throw new BinaryError(`Cannot add ${given}: it is not a regular file`, "pass an executable file");
    add({ dest: real, source: host.file(real) });
    if (real !== path) add({ dest: path, symlink: real });
    const kind = await sniff(host.file(real));
    if (kind.kind === "other") {
      throw new BinaryError(`Cannot add ${given}: it is neither an ELF executable nor a script starting with #!`, "pass a compiled program or a script; add data files with --file");
    }
    if (kind.kind === "script") {
      const interp = kind.interpreter;
      if (interp.startsWith("/") && (o.inImage?.(interp) || givenSet.has(interp))) continue;
      throw new BinaryError(`Cannot add ${given}: it is a script for ${interp || "(no interpreter)"}, which is not in the image`, `add it with --binary ${interp || "INTERP"}`);
    }
    let info: ElfInfo;
    try {
      info = await host.elf(real);
    } catch (err) {
      if (!(err instanceof ElfError)) throw err;
      throw new BinaryError(`Cannot add ${given}: ${err.summary}`, err.hint, { cause: err });
    }
    await addLibraries(host, given, real, info, add, cache, confUsed);
  }
  if (confUsed.size) {
    add({ dest: "/etc/ld.so.cache", content: ldSoCache([...cache].map(([name, path]) => ({ name, path }))) });
    add({ dest: "/etc/ld.so.conf", content: `# Written by microforge: directories of the host's ld.so.conf that --binary libraries came from.\n# ld.so reads /etc/ld.so.cache (written beside it); this file is for ldconfig and people.\n${[...confUsed].join("\n")}\n` });
  }
  return [...out.values()];
}
