/**
 * Just enough ELF reading to tell a static x86_64 executable from a dynamic
 * one and to list what a dynamic one needs: the header, the program headers,
 * the PT_INTERP string and the PT_DYNAMIC entries with their string table.
 * Layout: https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.eheader.html
 * and ch5.dynamic.html. Every read is bounded by the file's size, so a
 * damaged file gives an {@linkcode ElfError}, never a huge buffer.
 */
import { type Arch, archInfo, hostArch } from "./arch.ts";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { ElfError } from "./errors.ts";

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const PN_XNUM = 0xffff;
const DT = { NULL: 0n, NEEDED: 1n, STRTAB: 5n, SONAME: 14n, RPATH: 15n, RUNPATH: 29n } as const;
/** Longest string we read from a dynamic string table (a path list, a soname). */
const MAX_STRING = 4096;
/** Largest PT_DYNAMIC we read: real ones hold a few dozen 16-byte entries. */
const MAX_DYNAMIC = 1 << 20;
const machines: Record<number, string> = {
  3: "i386",
  8: "MIPS",
  20: "PowerPC",
  21: "PowerPC64",
  22: "s390",
  40: "ARM",
  62: "x86_64",
  183: "AArch64",
  243: "RISC-V",
  258: "LoongArch",
};
const types: Record<number, string> = { 1: "a relocatable object", 4: "a core dump" };

/** What {@linkcode readElf} reports about an x86_64 executable or shared library. */
export interface ElfInfo {
  /** The machine name ("x86_64"). */
  machine: string;
  /** ET_EXEC or ET_DYN (a PIE executable and a shared library are both "dyn"). */
  type: "exec" | "dyn";
  /** PT_INTERP: the program loader, absent when statically linked. */
  interpreter?: string;
  /** DT_NEEDED names, in order. */
  needed: string[];
  /** DT_RUNPATH, split at ":" (tokens like $ORIGIN are not expanded). */
  runpath: string[];
  /** DT_RPATH, split at ":". */
  rpath: string[];
  /** DT_SONAME. */
  soname?: string;
}

interface Segment {
  type: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
}

interface Opened {
  file: FileHandle;
  size: number;
  type: "exec" | "dyn";
  segments: Segment[];
}

const truncated = (path: string) => new ElfError(`Cannot read ELF file ${path}: it is truncated`, "the file is damaged; download or install it again");
const damaged = (path: string, what: string) => new ElfError(`${path} has ${what}`, "the file is damaged; install it again");

async function readAt(o: { file: FileHandle; size: number }, path: string, offset: bigint | number, length: number): Promise<Buffer> {
  if (BigInt(offset) + BigInt(length) > BigInt(o.size)) throw truncated(path);
  const buf = Buffer.alloc(length);
  const { bytesRead } = await o.file.read(buf, 0, length, Number(offset));
  if (bytesRead < length) throw truncated(path);
  return buf;
}

function checkHeader(path: string, head: Buffer, size: number, arch: Arch): "exec" | "dyn" {
  const want = archInfo(arch);
  const notElf = () =>
    new ElfError(`${path} is not an ELF executable`, `point microforge at a compiled ${arch} binary, not a script or data file`);
  if (size < 4 || head.readUInt32BE(0) !== 0x7f454c46) throw notElf();
  if (size < 64) throw truncated(path);
  const is64 = head[4] === 2;
  const little = head[5] === 1;
  const machine = little ? head.readUInt16LE(18) : head.readUInt16BE(18);
  if (!is64 || !little || machine !== want.elfMachine) {
    const name = machines[machine] ?? `machine ${machine}`;
    const bits = is64 ? "64-bit" : "32-bit";
    throw new ElfError(`${path} is a ${bits} ${name} ELF file, not ${arch}`, `use a binary built for ${arch} (${want.debian})`);
  }
  const type = head.readUInt16LE(16);
  if (type !== 2 && type !== 3) {
    throw new ElfError(`${path} is ${types[type] ?? `ELF type ${type}`}, not an executable`, `use a linked ${arch} executable`);
  }
  return type === 2 ? "exec" : "dyn";
}

/** Number of program headers, following the PN_XNUM escape to section header 0. */
async function programHeaderCount(o: Opened, path: string, head: Buffer): Promise<number> {
  const phnum = head.readUInt16LE(0x38);
  if (phnum !== PN_XNUM) return phnum;
  const shoff = head.readBigUInt64LE(0x28);
  const section0 = await readAt(o, path, shoff, 64);
  return section0.readUInt32LE(0x2c);
}

/** Open `path`, check its header and read its program headers, then run `use` and close it. */
async function withElf<T>(path: string, use: (o: Opened) => Promise<T>, arch: Arch = hostArch()): Promise<T> {
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ElfError(`Cannot read ELF file ${path}: ${code}`, "check the path exists and is readable", { cause: err });
  }
  try {
    const head = Buffer.alloc(64);
    let size: number;
    try {
      size = (await file.read(head, 0, 64, 0)).bytesRead;
      if (size === 64) size = (await file.stat()).size;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new ElfError(`Cannot read ELF file ${path}: ${code}`, "pass a regular file", { cause: err });
    }
    const o: Opened = { file, size, type: checkHeader(path, head, size, arch), segments: [] };
    const phoff = head.readBigUInt64LE(0x20);
    const phentsize = head.readUInt16LE(0x36);
    const phnum = await programHeaderCount(o, path, head);
    if (phnum > 0 && phentsize < 56) throw damaged(path, `malformed program headers (entry size ${phentsize})`);
    const table = phnum > 0 ? await readAt(o, path, phoff, phnum * phentsize) : Buffer.alloc(0);
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      o.segments.push({
        type: table.readUInt32LE(at),
        offset: table.readBigUInt64LE(at + 8),
        vaddr: table.readBigUInt64LE(at + 16),
        filesz: table.readBigUInt64LE(at + 32),
      });
    }
    return await use(o);
  } finally {
    await file.close();
  }
}

async function interpreterOf(o: Opened, path: string): Promise<string | undefined> {
  const seg = o.segments.find((s) => s.type === PT_INTERP);
  if (!seg) return undefined;
  if (seg.filesz === 0n || seg.filesz > 4096n) throw damaged(path, `a malformed PT_INTERP header (size ${seg.filesz})`);
  const raw = await readAt(o, path, seg.offset, Number(seg.filesz));
  return raw.toString("latin1").replace(/\0+$/, "");
}

/**
 * The program interpreter of an x86_64 ELF executable (e.g. "/lib64/ld-linux-x86-64.so.2"),
 * or undefined when it is statically linked (static-pie included).
 * Throws {@linkcode ElfError} when the file is not a readable x86_64 ELF executable.
 */
export async function elfInterpreter(path: string, arch: Arch = hostArch()): Promise<string | undefined> {
  return await withElf(path, (o) => interpreterOf(o, path), arch);
}

/** The NUL-terminated string at `vaddr`, found through the PT_LOAD segment that maps it. */
async function stringAt(o: Opened, path: string, vaddr: bigint): Promise<string> {
  const load = o.segments.find((s) => s.type === PT_LOAD && s.vaddr <= vaddr && vaddr < s.vaddr + s.filesz);
  if (!load) throw damaged(path, `a dynamic string at address 0x${vaddr.toString(16)} that no PT_LOAD segment maps`);
  const offset = load.offset + (vaddr - load.vaddr);
  const end = [load.offset + load.filesz, BigInt(o.size), offset + BigInt(MAX_STRING)].reduce((a, b) => (a < b ? a : b));
  if (end <= offset) throw damaged(path, `a dynamic string at address 0x${vaddr.toString(16)} outside the file`);
  const raw = await readAt(o, path, offset, Number(end - offset));
  const nul = raw.indexOf(0);
  if (nul < 0) throw damaged(path, "an unterminated dynamic string");
  return raw.toString("utf8", 0, nul);
}

/**
 * Read an x86_64 ELF executable or shared library: its type, interpreter and
 * the dynamic section's DT_NEEDED, DT_RUNPATH, DT_RPATH and DT_SONAME.
 * Throws {@linkcode ElfError} (naming the machine of a foreign file) when it is
 * not a readable x86_64 ELF file.
 */
export async function readElf(path: string, arch: Arch = hostArch()): Promise<ElfInfo> {
  return await withElf(path, async (o) => {
    const info: ElfInfo = { machine: archInfo(arch).machine, type: o.type, needed: [], runpath: [], rpath: [] };
    const interpreter = await interpreterOf(o, path);
    if (interpreter !== undefined) info.interpreter = interpreter;
    const dyn = o.segments.find((s) => s.type === PT_DYNAMIC);
    if (!dyn) return info;
    if (dyn.filesz > BigInt(MAX_DYNAMIC)) throw damaged(path, `a malformed PT_DYNAMIC header (size ${dyn.filesz})`);
    const raw = await readAt(o, path, dyn.offset, Number(dyn.filesz));
    let strtab: bigint | undefined;
    const refs: [bigint, bigint][] = [];
    for (let at = 0; at + 16 <= raw.length; at += 16) {
      const tag = raw.readBigInt64LE(at);
      if (tag === DT.NULL) break;
      const value = raw.readBigUInt64LE(at + 8);
      if (tag === DT.STRTAB) strtab = value;
      else if (tag === DT.NEEDED || tag === DT.SONAME || tag === DT.RPATH || tag === DT.RUNPATH) refs.push([tag, value]);
    }
    if (refs.length && strtab === undefined) throw damaged(path, "dynamic entries but no DT_STRTAB");
    for (const [tag, value] of refs) {
      const text = await stringAt(o, path, strtab! + value);
      if (tag === DT.NEEDED) info.needed.push(text);
      else if (tag === DT.SONAME) info.soname = text;
      else (tag === DT.RPATH ? info.rpath : info.runpath).push(...text.split(":"));
    }
    return info;
  }, arch);
}
