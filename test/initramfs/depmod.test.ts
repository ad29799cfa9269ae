import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type IndexedModule, moduleDepends, modulesDep, parseModinfo } from "../../lib/initramfs/depmod.ts";
import { ModuleError } from "../../lib/util/errors.ts";
import { tempDir } from "../helpers.ts";

/**
 * A minimal x86_64 ELF relocatable: a null section, `.shstrtab`, and the
 * given sections (name → bytes), section headers at the end.
 */
function elf(sections: Record<string, Uint8Array>, o: { extended?: boolean } = {}): Uint8Array {
  const enc = new TextEncoder();
  const names = Object.keys(sections);
  const shstrtab = enc.encode(`\0.shstrtab\0${names.join("\0")}\0`);
  const nameAt = (n: string) => new TextDecoder().decode(shstrtab).indexOf(`\0${n}\0`) + 1;
  const datas = [shstrtab, ...names.map((n) => sections[n])];
  let offset = 64;
  const placed = datas.map((d) => {
    const at = offset;
    offset += d.length;
    return at;
  });
  const shoff = offset;
  const shnum = datas.length + 1;
  const buf = Buffer.alloc(shoff + shnum * 64);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; // ELFCLASS64
  buf[5] = 1; // ELFDATA2LSB
  buf[6] = 1;
  buf.writeUInt16LE(1, 0x10); // ET_REL
  buf.writeUInt16LE(62, 0x12); // EM_X86_64
  buf.writeBigUInt64LE(BigInt(shoff), 0x28);
  buf.writeUInt16LE(64, 0x34);
  buf.writeUInt16LE(64, 0x3a);
  // Extended numbering: the count in section 0's sh_size, the string table index in its sh_link.
  buf.writeUInt16LE(o.extended ? 0 : shnum, 0x3c);
  buf.writeUInt16LE(o.extended ? 0xffff : 1, 0x3e);
  if (o.extended) {
    buf.writeBigUInt64LE(BigInt(shnum), shoff + 0x20);
    buf.writeUInt32LE(1, shoff + 0x28);
  }
  datas.forEach((d, i) => {
    Buffer.from(d).copy(buf, placed[i]);
    const at = shoff + (i + 1) * 64;
    buf.writeUInt32LE(i === 0 ? 1 : nameAt(names[i - 1]), at);
    buf.writeUInt32LE(i === 0 ? 3 : 1, at + 4); // SHT_STRTAB, SHT_PROGBITS
    buf.writeBigUInt64LE(BigInt(placed[i]), at + 0x18);
    buf.writeBigUInt64LE(BigInt(d.length), at + 0x20);
  });
  return new Uint8Array(buf);
}

/** A `.modinfo` section: NUL-terminated `key=value` strings. */
const modinfo = (...entries: string[]) => new TextEncoder().encode(entries.map((e) => `${e}\0`).join(""));

test("parseModinfo reads .modinfo as a multimap, values may hold =", () => {
  const ko = elf({
    ".text": new Uint8Array([0xc3]),
    ".modinfo": modinfo("license=GPL", "alias=net-pf-1", "alias=rtnl-link-dummy", "depends=", "parm=numdummies:Number of dummy pseudo devices (int)", "vermagic=6.1.0 SMP mod_unload ", "name=dummy", "opt=a=b"),
    ".comment": new TextEncoder().encode("GCC\0"),
  });
  assert.deepEqual([...parseModinfo(ko)], [
    ["license", ["GPL"]],
    ["alias", ["net-pf-1", "rtnl-link-dummy"]],
    ["depends", [""]],
    ["parm", ["numdummies:Number of dummy pseudo devices (int)"]],
    ["vermagic", ["6.1.0 SMP mod_unload "]],
    ["name", ["dummy"]],
    ["opt", ["a=b"]],
  ]);
});

test("parseModinfo skips strings without a key and padding NULs", () => {
  const ko = elf({ ".modinfo": new TextEncoder().encode("\0\0=nokey\0noequals\0name=x\0\0\0") });
  assert.deepEqual([...parseModinfo(ko)], [["name", ["x"]]]);
});

test("parseModinfo reads an ELF with extended section numbering", () => {
  const ko = elf({ ".modinfo": modinfo("depends=a,b", "name=c") }, { extended: true });
  assert.deepEqual(parseModinfo(ko).get("depends"), ["a,b"]);
});

test("parseModinfo accepts a view into a larger buffer", () => {
  const ko = elf({ ".modinfo": modinfo("name=inner") });
  const big = new Uint8Array(ko.length + 16);
  big.set(ko, 8);
  assert.deepEqual(parseModinfo(big.subarray(8, 8 + ko.length)).get("name"), ["inner"]);
});

test("parseModinfo refuses what is not a 64-bit little-endian ELF with .modinfo, naming the file", () => {
  const refused = (bytes: Uint8Array, why: string, source?: string) =>
    assert.throws(() => parseModinfo(bytes, source), (err: unknown) => {
      assert.ok(err instanceof ModuleError, String(err));
      assert.equal(err.summary, `Cannot read the module ${source ?? "module"}: ${why}`);
      assert.match(err.hint, /uncompressed 64-bit ELF object \(CONFIG_MODULE_COMPRESS_NONE\)/);
      return true;
    });
  const good = elf({ ".modinfo": modinfo("name=x") });
  refused(new TextEncoder().encode("not an elf file at all, but long enough to have a header of 64 bytes"), "it is not an ELF file", "dummy.ko");
  refused(good.subarray(0, 40), "it is not an ELF file");
  // An xz-compressed module.
  refused(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, ...new Uint8Array(80)]), "it is not an ELF file", "dummy.ko.xz");
  const class32 = good.slice();
  class32[4] = 1;
  refused(class32, "it is not a little-endian 64-bit ELF file");
  const bigEndian = good.slice();
  bigEndian[5] = 2;
  refused(bigEndian, "it is not a little-endian 64-bit ELF file");
  refused(good.subarray(0, good.length - 64), "its section headers are out of range", "cut.ko");
  const farHeaders = good.slice();
  Buffer.from(farHeaders.buffer).writeBigUInt64LE(BigInt(1 << 30), 0x28);
  refused(farHeaders, "its section headers are out of range");
  refused(elf({ ".text": new Uint8Array([0xc3]) }), "it has no .modinfo section", "stripped.ko");
  const farInfo = good.slice();
  // The third section header (.modinfo): its size past the end of the file.
  const shoff = Number(Buffer.from(farInfo.buffer).readBigUInt64LE(0x28));
  Buffer.from(farInfo.buffer).writeBigUInt64LE(BigInt(1 << 20), shoff + 2 * 64 + 0x20);
  refused(farInfo, "its .modinfo section is out of range");
});

test("moduleDepends reads depends= from the file, - as _, empty as none", async () => {
  const dir = await tempDir("depmod-");
  const write = async (name: string, ...entries: string[]) => {
    const path = join(dir, name);
    await writeFile(path, elf({ ".modinfo": modinfo(...entries) }));
    return path;
  };
  assert.deepEqual(await moduleDepends(await write("a.ko", "license=GPL", "depends=virtio-net, failover,", "name=a")), ["virtio_net", "failover"]);
  assert.deepEqual(await moduleDepends(await write("b.ko", "depends=", "name=b")), []);
  assert.deepEqual(await moduleDepends(await write("c.ko", "name=c")), []);
  const text = join(dir, "d.ko");
  await writeFile(text, "x".repeat(100));
  await assert.rejects(moduleDepends(text), (err: unknown) => err instanceof ModuleError && err.summary === `Cannot read the module ${text}: it is not an ELF file`);
  await assert.rejects(moduleDepends(join(dir, "missing.ko")), { code: "ENOENT" });
});

const mod = (path: string, depends: string[] = []): IndexedModule => ({ path, name: path.split("/").pop()!.replace(/\.ko$/, ""), depends });

test("modulesDep writes one line per module in path order, a module without dependencies with none", () => {
  assert.equal(modulesDep([]), "");
  assert.equal(modulesDep([mod("kernel/z.ko"), mod("extra/a.ko"), mod("kernel/b.ko")]), "extra/a.ko:\nkernel/b.ko:\nkernel/z.ko:\n");
});

test("modulesDep lists every dependency, the one to load first last", () => {
  const modules = [mod("kernel/net/virtio_net.ko", ["net_failover"]), mod("kernel/net/net_failover.ko", ["failover"]), mod("kernel/net/failover.ko")];
  assert.equal(
    modulesDep(modules),
    [
      "kernel/net/failover.ko:\n",
      "kernel/net/net_failover.ko: kernel/net/failover.ko\n",
      "kernel/net/virtio_net.ko: kernel/net/net_failover.ko kernel/net/failover.ko\n",
    ].join(""),
  );
});

test("modulesDep lists a shared dependency once, after everything that needs it", () => {
  // a needs b and c, both need d: busybox's modprobe loads the list reversed, d, b, c, then a.
  const modules = [mod("a.ko", ["b", "c"]), mod("b.ko", ["d"]), mod("c.ko", ["d"]), mod("d.ko")];
  const lines = modulesDep(modules).split("\n");
  assert.equal(lines[0], "a.ko: c.ko b.ko d.ko");
  const order = lines[0].split(" ").slice(1).reverse();
  for (const [before, after] of [["d.ko", "b.ko"], ["d.ko", "c.ko"]]) assert.ok(order.indexOf(before) < order.indexOf(after), `${before} before ${after}`);
});

test("modulesDep survives a dependency cycle, listing each module once", () => {
  assert.equal(modulesDep([mod("a.ko", ["b"]), mod("b.ko", ["a"])]), "a.ko: b.ko\nb.ko: a.ko\n");
  assert.equal(modulesDep([mod("self.ko", ["self"])]), "self.ko:\n");
});

test("modulesDep refuses a dependency that is not packed, naming both modules", () => {
  assert.throws(() => modulesDep([mod("extra/hello.ko", ["dummy"]), mod("kernel/x.ko", ["hello"])]), (err: unknown) => {
    assert.ok(err instanceof ModuleError);
    assert.equal(err.summary, "The module hello needs dummy, which is not among the packed modules");
    assert.equal(err.hint, "build dummy as a module too (--set CONFIG_...=m), or build hello in");
    return true;
  });
});

test("modulesDep does not reorder its input", () => {
  const modules = [mod("b.ko"), mod("a.ko")];
  modulesDep(modules);
  assert.deepEqual(modules.map((m) => m.path), ["b.ko", "a.ko"]);
});
