import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { elfInterpreter } from "../../lib/util/elf.ts";
import { ElfError } from "../../lib/util/errors.ts";
import { tempDir } from "../helpers.ts";

/** A minimal ELF image: header, a PT_LOAD and optionally a PT_INTERP. */
function elf(options: { machine?: number; cls?: number; type?: number; interp?: string; xnum?: boolean } = {}): Buffer {
  const phnum = options.interp === undefined ? 1 : 2;
  const interp = Buffer.from(`${options.interp ?? ""}\0`, "latin1");
  const interpAt = 64 + phnum * 56;
  const shoff = interpAt + interp.length;
  const buf = Buffer.alloc(shoff + 64);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = options.cls ?? 2;
  buf[5] = 1;
  buf[6] = 1;
  buf.writeUInt16LE(options.type ?? 3, 16);
  buf.writeUInt16LE(options.machine ?? 62, 18);
  buf.writeUInt32LE(1, 20);
  buf.writeBigUInt64LE(64n, 0x20);
  buf.writeBigUInt64LE(BigInt(shoff), 0x28);
  buf.writeUInt16LE(64, 0x34);
  buf.writeUInt16LE(56, 0x36);
  buf.writeUInt16LE(options.xnum ? 0xffff : phnum, 0x38);
  buf.writeUInt32LE(phnum, shoff + 0x2c); // section 0 sh_info: the real count under PN_XNUM
  buf.writeUInt32LE(1, 64); // PT_LOAD
  if (options.interp !== undefined) {
    buf.writeUInt32LE(3, 64 + 56); // PT_INTERP
    buf.writeBigUInt64LE(BigInt(interpAt), 64 + 56 + 8);
    buf.writeBigUInt64LE(BigInt(interp.length), 64 + 56 + 32);
    interp.copy(buf, interpAt);
  }
  return buf;
}

async function file(name: string, data: string | Buffer): Promise<string> {
  const path = join(await tempDir("elf-"), name);
  await writeFile(path, data);
  return path;
}

test("a dynamic system binary names its loader", async () => {
  assert.equal(await elfInterpreter("/bin/ls"), "/lib64/ld-linux-x86-64.so.2");
});

test("a static busybox has no interpreter", { skip: !existsSync("/bin/busybox") && "no /bin/busybox (apt-get install busybox-static)" }, async () => {
  assert.equal(await elfInterpreter("/bin/busybox"), undefined);
});

test("a synthetic dynamic executable reports its PT_INTERP path", async () => {
  assert.equal(await elfInterpreter(await file("dyn", elf({ interp: "/lib/ld-musl-x86_64.so.1" }))), "/lib/ld-musl-x86_64.so.1");
});

test("a static-pie executable (ET_DYN without PT_INTERP) counts as static", async () => {
  assert.equal(await elfInterpreter(await file("spie", elf({ type: 3 }))), undefined);
});

test("program headers past PN_XNUM are found through section 0", async () => {
  assert.equal(await elfInterpreter(await file("xnum", elf({ interp: "/ld.so", xnum: true }))), "/ld.so");
});

test("a shell script is not ELF", async () => {
  await assert.rejects(elfInterpreter(await file("script", "#!/bin/sh\necho hi\n")), (err: unknown) => {
    assert.ok(err instanceof ElfError);
    assert.match(err.message, /script is not an ELF executable/);
    return true;
  });
});

test("an AArch64 binary is refused naming its architecture", async () => {
  await assert.rejects(elfInterpreter(await file("arm", elf({ machine: 183 }))), /64-bit AArch64 ELF file, not x86_64/);
});

test("a 32-bit i386 binary is refused", async () => {
  await assert.rejects(elfInterpreter(await file("i386", elf({ cls: 1, machine: 3 }))), /32-bit i386 ELF file, not x86_64/);
});

test("a relocatable object is not an executable", async () => {
  await assert.rejects(elfInterpreter(await file("x.o", elf({ type: 1 }))), /a relocatable object, not an executable/);
});

test("a truncated ELF file is refused, not misread as static", async () => {
  await assert.rejects(elfInterpreter(await file("short", elf({ interp: "/ld.so" }).subarray(0, 100))), /truncated/);
  await assert.rejects(elfInterpreter(await file("tiny", elf().subarray(0, 20))), /truncated/);
});

test("a missing file and a directory are ElfErrors with the reason", async () => {
  await assert.rejects(elfInterpreter("/nonexistent/busybox"), (err: unknown) => err instanceof ElfError && /ENOENT/.test(err.message));
  await assert.rejects(elfInterpreter(await tempDir("elf-dir-")), (err: unknown) => err instanceof ElfError && /EISDIR/.test(err.message));
});
