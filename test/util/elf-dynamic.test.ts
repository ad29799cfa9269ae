import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readElf } from "../../lib/util/elf.ts";
import { ElfError } from "../../lib/util/errors.ts";
import { tempDir } from "../helpers.ts";

const BASE = 0x400000n;

/** A small x86_64 ELF image: PT_LOAD over the whole file, optional PT_INTERP, PT_DYNAMIC over a string table. */
function elf(o: { interp?: string; needed?: string[]; runpath?: string; rpath?: string; soname?: string; machine?: number; unmapped?: boolean; dynSize?: bigint } = {}): Buffer {
  const strs: string[] = ["", ...(o.needed ?? []), o.runpath ?? "", o.rpath ?? "", o.soname ?? ""];
  const strtab = Buffer.from(strs.join("\0") + "\0", "utf8");
  const at = (s: string, from = 0) => strtab.indexOf(Buffer.from(`\0${s}\0`), from) + 1;
  const dyn: [number, bigint][] = [[5, BASE + 0n]];
  for (const n of o.needed ?? []) dyn.push([1, BigInt(at(n))]);
  if (o.runpath !== undefined) dyn.push([29, BigInt(at(o.runpath))]);
  if (o.rpath !== undefined) dyn.push([15, BigInt(at(o.rpath))]);
  if (o.soname !== undefined) dyn.push([14, BigInt(at(o.soname))]);
  dyn.push([0, 0n]);
  const interp = o.interp === undefined ? undefined : Buffer.from(`${o.interp}\0`);
  const phnum = interp ? 3 : 2;
  const interpAt = 64 + phnum * 56;
  const strAt = interpAt + (interp?.length ?? 0);
  const dynAt = strAt + strtab.length;
  const buf = Buffer.alloc(dynAt + dyn.length * 16);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2, buf[5] = 1, buf[6] = 1;
  buf.writeUInt16LE(3, 16);
  buf.writeUInt16LE(o.machine ?? 62, 18);
  buf.writeBigUInt64LE(64n, 0x20);
  buf.writeUInt16LE(56, 0x36);
  buf.writeUInt16LE(phnum, 0x38);
  const ph = (i: number, type: number, offset: number, size: bigint, vaddr = BASE + BigInt(offset)) => {
    const p = 64 + i * 56;
    buf.writeUInt32LE(type, p);
    buf.writeBigUInt64LE(BigInt(offset), p + 8);
    buf.writeBigUInt64LE(vaddr, p + 16);
    buf.writeBigUInt64LE(size, p + 32);
  };
  ph(0, 1, 0, BigInt(buf.length), o.unmapped ? 0x900000n : BASE);
  ph(1, 2, dynAt, o.dynSize ?? BigInt(dyn.length * 16));
  if (interp) ph(2, 3, interpAt, BigInt(interp.length)), interp.copy(buf, interpAt);
  strtab.copy(buf, strAt);
  dyn.forEach(([tag, value], i) => {
    buf.writeBigInt64LE(BigInt(tag), dynAt + i * 16);
    buf.writeBigUInt64LE(tag === 5 ? BASE + BigInt(strAt) : value, dynAt + i * 16 + 8);
  });
  return buf;
}

async function file(name: string, data: Buffer): Promise<string> {
  const path = join(await tempDir("elfdyn-"), name);
  await writeFile(path, data);
  return path;
}

test("readElf lists what /bin/ls needs and its loader", async () => {
  const info = await readElf("/bin/ls");
  assert.equal(info.machine, "x86_64");
  assert.equal(info.interpreter, "/lib64/ld-linux-x86-64.so.2");
  assert.ok(info.needed.includes("libc.so.6"), info.needed.join(" "));
  assert.equal(info.soname, undefined);
});

test("readElf reads the soname of the host libc", async () => {
  const info = await readElf("/lib/x86_64-linux-gnu/libc.so.6");
  assert.equal(info.soname, "libc.so.6");
  assert.equal(info.type, "dyn");
});

test("readElf keeps DT_NEEDED order and splits RUNPATH and RPATH at colons", async () => {
  const path = await file("prog", elf({ interp: "/ld.so", needed: ["libb.so.2", "liba.so.1"], runpath: "$ORIGIN/../lib:/opt/x", rpath: "/r", soname: "libprog.so" }));
  assert.deepEqual(await readElf(path), {
    machine: "x86_64",
    type: "dyn",
    interpreter: "/ld.so",
    needed: ["libb.so.2", "liba.so.1"],
    runpath: ["$ORIGIN/../lib", "/opt/x"],
    rpath: ["/r"],
    soname: "libprog.so",
  });
});

test("readElf of a file with no dynamic strings needs nothing", async () => {
  const info = await readElf(await file("static", elf()));
  assert.deepEqual([info.needed, info.runpath, info.rpath, info.interpreter], [[], [], [], undefined]);
});

test("a string table no PT_LOAD maps is an ElfError", async () => {
  await assert.rejects(readElf(await file("unmapped", elf({ needed: ["libc.so.6"], unmapped: true }))), (err: unknown) => {
    assert.ok(err instanceof ElfError);
    assert.match(err.message, /no PT_LOAD segment maps/);
    return true;
  });
});

test("a huge PT_DYNAMIC size is refused without reading it", async () => {
  await assert.rejects(readElf(await file("bigdyn", elf({ needed: ["a.so"], dynSize: 1n << 40n }))), /malformed PT_DYNAMIC header/);
});

test("a truncated dynamic section is refused", async () => {
  const whole = elf({ needed: ["liba.so.1"] });
  await assert.rejects(readElf(await file("cut", whole.subarray(0, whole.length - 8))), /truncated/);
});

test("a program header count past the file is truncated, not a huge buffer", async () => {
  const buf = Buffer.concat([elf(), Buffer.alloc(64)]);
  buf.writeUInt16LE(0xffff, 0x38);
  buf.writeBigUInt64LE(BigInt(buf.length - 64), 0x28);
  buf.writeUInt32LE(0xffffffff, buf.length - 64 + 0x2c);
  await assert.rejects(readElf(await file("xnum", buf)), /truncated/);
});

test("readElf names the machine of a foreign file", async () => {
  await assert.rejects(readElf(await file("arm", elf({ machine: 183 }))), /64-bit AArch64 ELF file, not x86_64/);
});
