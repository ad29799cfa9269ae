/**
 * Kernel modules in the image: `/lib/modules/<release>` with the `.ko`
 * files of the kernel's own modules and of out-of-tree ones, merged, plus
 * the `modules.dep` busybox's `modprobe` needs (written by depmod.ts) and
 * the kernel's `modules.builtin`. The names `/init` is to load are checked
 * here, before any boot: one built into the kernel needs no loading, one
 * that is nowhere is an error naming the modules there are.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CpioEntry } from "./cpio.ts";
import { ModuleError } from "../util/errors.ts";
import { suggest } from "../util/suggest.ts";
import { moduleName, treeFiles } from "../kernel/modules.ts";
import { type IndexedModule, moduleDepends, modulesDep } from "./depmod.ts";

/** The modules to pack: the kernel's release and the module trees, and what `/init` loads. */
export interface ModuleSet {
  /** What `uname -r` says in the guest: the directory under /lib/modules. */
  release: string;
  /** `lib/modules/<release>` directories (the kernel's, each out-of-tree module's); a name may appear in only one. */
  dirs: readonly string[];
  /** Module names `/init` loads with `modprobe` before the command. */
  load?: readonly string[];
}

/** The image's part for a {@linkcode ModuleSet}. */
export interface PackedModules {
  entries: CpioEntry[];
  /** Every packed module's name. */
  names: string[];
  /** What `/init` loads: the requested names, less those built into the kernel. */
  load: string[];
  /** Requested names that are built into the kernel (nothing to load). */
  builtin: string[];
}

const RELEASE = /^[A-Za-z0-9._+~-]+$/;

/** The entries for `set`, its `modules.dep`, and the checked list of modules to load. */
export async function moduleEntries(set: ModuleSet): Promise<PackedModules> {
  if (!RELEASE.test(set.release) || set.release === "." || set.release === "..") throw new ModuleError(`Invalid kernel release ${JSON.stringify(set.release)} for /lib/modules`, "use the release the kernel build recorded (include/config/kernel.release)");
  const base = `lib/modules/${set.release}`;
  const modules: (IndexedModule & { source: string })[] = [];
  const builtin = new Set<string>();
  let builtinText = "";
  for (const dir of set.dirs) {
    for (const path of await treeFiles(dir)) {
      if (/\.ko\.(?:gz|xz|zst)$/.test(path)) throw new ModuleError(`The module ${join(dir, path)} is compressed`, "build the kernel with CONFIG_MODULE_COMPRESS_NONE=y: busybox's modprobe loads plain .ko files");
      if (path === "modules.builtin") {
        const text = await readFile(join(dir, path), "utf8");
        builtinText += text;
        for (const line of text.split("\n")) if (line.trim()) builtin.add(moduleName(line.trim()));
      }
      if (!path.endsWith(".ko")) continue;
      const name = moduleName(path);
      const twin = modules.find((m) => m.name === name);
      if (twin) throw new ModuleError(`Two modules are named ${name}: ${twin.source} and ${join(dir, path)}`, "rename one of them (its obj-m name), or leave one out");
      modules.push({ path, name, depends: await moduleDepends(join(dir, path)), source: join(dir, path) });
    }
  }
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const addParents = (path: string) => {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  };
  for (const m of modules) {
    addParents(`${base}/${m.path}`);
    entries.push({ type: "file", path: `${base}/${m.path}`, source: m.source, mode: 0o644 });
  }
  addParents(`${base}/modules.dep`);
  const encode = (text: string) => new TextEncoder().encode(text);
  entries.push({ type: "file", path: `${base}/modules.dep`, data: encode(modulesDep(modules)), mode: 0o644 });
  if (builtinText) entries.push({ type: "file", path: `${base}/modules.builtin`, data: encode(builtinText), mode: 0o644 });
  for (const d of dirs) entries.push({ type: "dir", path: d, mode: 0o755 });
  const names = modules.map((m) => m.name).sort();
  const load: string[] = [];
  const inKernel: string[] = [];
  for (const raw of set.load ?? []) {
    const name = raw.replaceAll("-", "_");
    if (names.includes(name)) {
      if (!load.includes(name)) load.push(name);
    } else if (builtin.has(name)) {
      if (!inKernel.includes(name)) inKernel.push(name);
    }
    else {
      const close = suggest(name, names);
      const there = names.length ? `the modules there are ${names.join(", ")}` : "no module was built";
      throw new ModuleError(`There is no module ${name} to load: ${there}`, `${close ? `did you mean ${close}? Or build` : "build"} it as a module (--set CONFIG_...=m) or from its source (--module DIR)`);
    }
  }
  return { entries, names, load, builtin: inKernel };
}
