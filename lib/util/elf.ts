/**
 * Just enough ELF reading to tell a static x86_64 executable from a dynamic
 * one: the header, the program headers and the PT_INTERP string.
 * Layout: https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.eheader.html
 */
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { ElfError } from "./errors.ts";

const EM_X86_64 = 62;
const PT_INTERP = 3;
const PN_XNUM = 0xffff;
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

async function readAt(file: FileHandle, path: string, offset: bigint | number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await file.read(buf, 0, length, Number(offset));
  if (bytesRead < length) {
    throw new ElfError(`Cannot read ELF file ${path}: it is truncated`, "the file is damaged; download or install it again");
  }
  return buf;
}

function checkHeader(path: string, head: Buffer, size: number): void {
  const notElf = () =>
    new ElfError(`${path} is not an ELF executable`, "point microforge at a compiled x86_64 binary, not a script or data file");
  if (size < 4 || head.readUInt32BE(0) !== 0x7f454c46) throw notElf();
  if (size < 64) throw new ElfError(`Cannot read ELF file ${path}: it is truncated`, "the file is damaged; download or install it again");
  const is64 = head[4] === 2;
  const little = head[5] === 1;
  const machine = little ? head.readUInt16LE(18) : head.readUInt16BE(18);
  if (!is64 || !little || machine !== EM_X86_64) {
    const name = machines[machine] ?? `machine ${machine}`;
    const bits = is64 ? "64-bit" : "32-bit";
    throw new ElfError(`${path} is a ${bits} ${name} ELF file, not x86_64`, "use a binary built for x86_64 (amd64)");
  }
  const type = head.readUInt16LE(16);
  if (type !== 2 && type !== 3) {
    throw new ElfError(`${path} is ${types[type] ?? `ELF type ${type}`}, not an executable`, "use a linked x86_64 executable");
  }
}

/** Number of program headers, following the PN_XNUM escape to section header 0. */
async function programHeaderCount(file: FileHandle, path: string, head: Buffer): Promise<number> {
  const phnum = head.readUInt16LE(0x38);
  if (phnum !== PN_XNUM) return phnum;
  const shoff = head.readBigUInt64LE(0x28);
  const section0 = await readAt(file, path, shoff, 64);
  return section0.readUInt32LE(0x2c);
}

/**
 * The program interpreter of an x86_64 ELF executable (e.g. "/lib64/ld-linux-x86-64.so.2"),
 * or undefined when it is statically linked (static-pie included).
 * Throws {@linkcode ElfError} when the file is not a readable x86_64 ELF executable.
 */
export async function elfInterpreter(path: string): Promise<string | undefined> {
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
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new ElfError(`Cannot read ELF file ${path}: ${code}`, "pass a regular file", { cause: err });
    }
    checkHeader(path, head, size);
    const phoff = head.readBigUInt64LE(0x20);
    const phentsize = head.readUInt16LE(0x36);
    const phnum = await programHeaderCount(file, path, head);
    if (phnum > 0 && phentsize < 56) {
      throw new ElfError(`${path} has malformed program headers (entry size ${phentsize})`, "the file is damaged; install it again");
    }
    const table = phnum > 0 ? await readAt(file, path, phoff, phnum * phentsize) : Buffer.alloc(0);
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      if (table.readUInt32LE(at) !== PT_INTERP) continue;
      const offset = table.readBigUInt64LE(at + 8);
      const filesz = Number(table.readBigUInt64LE(at + 32));
      if (filesz === 0 || filesz > 4096) {
        throw new ElfError(`${path} has a malformed PT_INTERP header (size ${filesz})`, "the file is damaged; install it again");
      }
      const raw = await readAt(file, path, offset, filesz);
      return raw.toString("latin1").replace(/\0+$/, "");
    }
    return undefined;
  } finally {
    await file.close();
  }
}
