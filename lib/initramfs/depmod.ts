/**
 * What `depmod` does for busybox's `modprobe`, in-process: read each
 * module's `.modinfo` section (NUL-separated `key=value` strings, among them
 * `depends=a,b`) and write `modules.dep`. Each line is `path: deps`, every
 * dependency listed (not just the direct ones) so that the last is loaded
 * first, the order kmod's depmod writes and busybox's modprobe reads
 * (modutils/modprobe.c reverses the list before loading). The host needs no
 * kmod, and modules from several builds share one index.
 * ELF layout: https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.sheader.html
 */
import { readFile } from "node:fs/promises";
import { ModuleError } from "../util/errors.ts";

/** The `.modinfo` strings of an x86_64 module as a multimap (`alias` and `parm` repeat). */
export function parseModinfo(elf: Uint8Array, source = "module"): Map<string, string[]> {
  const buf = Buffer.from(elf.buffer, elf.byteOffset, elf.byteLength);
  const bad = (why: string) => new ModuleError(`Cannot read the module ${source}: ${why}`, "rebuild it; a .ko file must be an uncompressed 64-bit ELF object (CONFIG_MODULE_COMPRESS_NONE)");
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw bad("it is not an ELF file");
  if (buf[4] !== 2 || buf[5] !== 1) throw bad("it is not a little-endian 64-bit ELF file");
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  let shnum = buf.readUInt16LE(0x3c);
  let shstrndx = buf.readUInt16LE(0x3e);
  if (shentsize < 64 || shoff + 64 > buf.length) throw bad("its section headers are out of range");
  // More sections than fit in the header fields: the counts are in section 0.
  if (shnum === 0) shnum = Number(buf.readBigUInt64LE(shoff + 0x20));
  if (shstrndx === 0xffff) shstrndx = buf.readUInt32LE(shoff + 0x28);
  if (shoff + shnum * shentsize > buf.length || shstrndx >= shnum) throw bad("its section headers are out of range");
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return { name: buf.readUInt32LE(at), offset: Number(buf.readBigUInt64LE(at + 0x18)), size: Number(buf.readBigUInt64LE(at + 0x20)) };
  };
  const names = section(shstrndx);
  const out = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const at = names.offset + s.name;
    if (at >= buf.length || buf.toString("latin1", at, buf.indexOf(0, at)) !== ".modinfo") continue;
    if (s.offset + s.size > buf.length) throw bad("its .modinfo section is out of range");
    for (const entry of buf.toString("utf8", s.offset, s.offset + s.size).split("\0")) {
      const eq = entry.indexOf("=");
      if (eq <= 0) continue;
      const key = entry.slice(0, eq);
      out.set(key, [...(out.get(key) ?? []), entry.slice(eq + 1)]);
    }
    return out;
  }
  throw bad("it has no .modinfo section");
}

/** The module names a module needs (`depends=`), from its file. */
export async function moduleDepends(path: string): Promise<string[]> {
  const info = parseModinfo(await readFile(path), path);
  return (info.get("depends") ?? []).flatMap((d) => d.split(",")).map((d) => d.trim().replaceAll("-", "_")).filter(Boolean);
}

/** One module of the index: its path under `lib/modules/<release>`, name and direct dependencies. */
export interface IndexedModule {
  path: string;
  name: string;
  depends: readonly string[];
}

/** `modules.dep` for `modules`; a dependency on a module that is not among them is a {@linkcode ModuleError}. */
export function modulesDep(modules: readonly IndexedModule[]): string {
  const byName = new Map(modules.map((m) => [m.name, m]));
  const lines: string[] = [];
  for (const m of [...modules].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    // Load order: every dependency after its own dependencies (post-order), each once.
    const order: IndexedModule[] = [];
    const seen = new Set<string>([m.name]);
    const visit = (mod: IndexedModule) => {
      for (const d of mod.depends) {
        const dep = byName.get(d);
        if (!dep) throw new ModuleError(`The module ${mod.name} needs ${d}, which is not among the packed modules`, `build ${d} as a module too (--set CONFIG_...=m), or build ${mod.name} in`);
        if (seen.has(d)) continue;
        seen.add(d);
        visit(dep);
        order.push(dep);
      }
    };
    visit(m);
    lines.push(`${m.path}:${order.reverse().map((d) => ` ${d.path}`).join("")}\n`);
  }
  return lines.join("");
}
