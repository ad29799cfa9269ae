import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { hostBinaryContent } from "../../lib/initramfs/host-binaries.ts";
import { ldSoCache } from "../../lib/initramfs/ld-so-cache.ts";
import type { ExtraContent } from "../../lib/initramfs/rootfs.ts";
import { BinaryError } from "../../lib/util/errors.ts";
import { tempDir } from "../helpers.ts";

const BASE = 0x400000n;

/** (As in test/util/elf-dynamic.test.ts.) A small x86_64 ELF image: PT_LOAD over the whole file, optional PT_INTERP, PT_DYNAMIC over a string table. */
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

const LD = "/lib64/ld-linux-x86-64.so.2";
const has = (cmd: string, args: string[]) => {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const gcc = has("gcc", ["--version"]);
const userns = has("unshare", ["-r", "true"]);

/** A fake root holding `files` (paths inside it → bytes, or a symlink target as { link }), with a fake loader. */
async function fakeRoot(files: Record<string, Buffer | string | { link: string }>): Promise<string> {
  const root = await tempDir("hostbin-");
  const all = { [LD]: elf({ soname: "ld-linux-x86-64.so.2" }), ...files };
  for (const [path, data] of Object.entries(all)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    const link = typeof data === "string" ? undefined : (data as { link?: string }).link;
    if (link !== undefined) await symlink(link, join(root, path));
    else await writeFile(join(root, path), data as string | Uint8Array, { mode: 0o755 });
  }
  return root;
}

const dests = (items: ExtraContent[]) => items.map((i) => i.dest);

async function refused(p: Promise<unknown>, message: RegExp, hint?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BinaryError, String(err));
    assert.equal(err.exitCode, 2);
    assert.match(err.summary, message);
    if (hint) assert.match(err.hint, hint);
    return true;
  });
}

/** Write `items` into `dir` as the image would hold them. */
async function materialize(dir: string, items: ExtraContent[]): Promise<void> {
  for (const item of items) {
    const path = join(dir, item.dest);
    await mkdir(dirname(path), { recursive: true });
    if ("symlink" in item) await symlink(item.symlink, path);
    else if ("source" in item) await copyFile(item.source, path);
    else if ("content" in item) await writeFile(path, item.content);
  }
  await mkdir(join(dir, "proc"), { recursive: true });
}

test("/bin/ls comes with its loader and libc, each from an existing file, once", async () => {
  const items = await hostBinaryContent(["/bin/ls", "/bin/bash", "/usr/bin/env"]);
  const all = dests(items);
  assert.equal(new Set(all).size, all.length, "no duplicate dests");
  assert.ok(all.every((d) => d.startsWith("/")), all.join(" "));
  assert.ok(all.includes("/bin/ls") && all.includes("/usr/bin/env"));
  assert.ok(all.includes(LD), all.join(" "));
  assert.equal(all.filter((d) => d.endsWith("/libc.so.6")).length, 1, all.join(" "));
  for (const item of items) if ("source" in item) assert.ok(existsSync(item.source), item.source);
});

test("RUNPATH $ORIGIN/../lib is searched before the defaults, from the binary's directory", async () => {
  const root = await fakeRoot({
    "/app/bin/prog": elf({ interp: LD, needed: ["libfoo.so.1"], runpath: "${ORIGIN}/../lib" }),
    "/app/lib/libfoo.so.1": elf({ soname: "libfoo.so.1", needed: ["libbar.so.2"], runpath: "$ORIGIN" }),
    "/app/lib/libbar.so.2": elf({ soname: "libbar.so.2" }),
    "/lib/x86_64-linux-gnu/libfoo.so.1": elf({ soname: "libfoo.so.1" }),
  });
  const items = await hostBinaryContent(["/app/bin/prog"], { root });
  assert.deepEqual(dests(items).sort(), ["/app/bin/prog", "/app/lib/libbar.so.2", "/app/lib/libfoo.so.1", LD]);
  assert.deepEqual(items.find((i) => i.dest === "/app/lib/libfoo.so.1"), { dest: "/app/lib/libfoo.so.1", source: join(root, "app/lib/libfoo.so.1") });
});

test("RPATH is ignored when RUNPATH exists, and used before the defaults when not", async () => {
  const root = await fakeRoot({
    "/bin/both": elf({ interp: LD, needed: ["libx.so.1"], rpath: "/rp", runpath: "/run" }),
    "/bin/old": elf({ interp: LD, needed: ["libx.so.1"], rpath: "/rp" }),
    "/rp/libx.so.1": elf(),
    "/run/libx.so.1": elf(),
    "/usr/lib/libx.so.1": elf(),
  });
  assert.ok(dests(await hostBinaryContent(["/bin/both"], { root })).includes("/run/libx.so.1"));
  assert.ok(!dests(await hostBinaryContent(["/bin/both"], { root })).includes("/rp/libx.so.1"));
  assert.ok(dests(await hostBinaryContent(["/bin/old"], { root })).includes("/rp/libx.so.1"));
});

test("a loader's RPATH is inherited by the libraries it loads", async () => {
  const root = await fakeRoot({
    "/bin/prog": elf({ interp: LD, needed: ["liba.so"], rpath: "/opt/p" }),
    "/usr/lib/liba.so": elf({ needed: ["libb.so"] }),
    "/opt/p/libb.so": elf(),
  });
  assert.ok(dests(await hostBinaryContent(["/bin/prog"], { root })).includes("/opt/p/libb.so"));
});

test("ld.so.conf include globs are followed, and a non-default dir brings an ld.so.cache", async () => {
  const root = await fakeRoot({
    "/etc/ld.so.conf": "# comment\ninclude ld.so.conf.d/*.conf\n",
    "/etc/ld.so.conf.d/a.conf": "/opt/a/lib/\n",
    "/etc/ld.so.conf.d/b.txt": "/opt/b/lib\n",
    "/opt/a/lib/liba.so.1": elf({ soname: "liba.so.1" }),
    "/opt/b/lib/libb.so.1": elf(),
    "/usr/bin/prog": elf({ interp: LD, needed: ["liba.so.1"] }),
    "/usr/bin/other": elf({ interp: LD, needed: ["libb.so.1"] }),
  });
  const items = await hostBinaryContent(["/usr/bin/prog"], { root });
  assert.ok(dests(items).includes("/opt/a/lib/liba.so.1"));
  const conf = items.find((i) => i.dest === "/etc/ld.so.conf");
  assert.ok(conf && "content" in conf && /^\/opt\/a\/lib$/m.test(String(conf.content)));
  const cache = items.find((i) => i.dest === "/etc/ld.so.cache");
  assert.ok(cache && "content" in cache && Buffer.from(cache.content).includes("/opt/a/lib/liba.so.1"));
  await refused(hostBinaryContent(["/usr/bin/other"], { root }), /libb\.so\.1 was not found in .*\/opt\/a\/lib/);
});

test("libraries found in ld.so's own dirs need no ld.so.cache", async () => {
  const root = await fakeRoot({ "/bin/prog": elf({ interp: LD, needed: ["libz.so.1"] }), "/usr/lib/x86_64-linux-gnu/libz.so.1": elf() });
  const all = dests(await hostBinaryContent(["/bin/prog"], { root }));
  assert.ok(all.includes("/usr/lib/x86_64-linux-gnu/libz.so.1") && !all.includes("/etc/ld.so.cache"));
});

test("a missing library names the binary that needs it and the dirs searched", async () => {
  const root = await fakeRoot({
    "/bin/prog": elf({ interp: LD, needed: ["libfoo.so.1"], runpath: "/opt/r" }),
    "/opt/r/libfoo.so.1": elf({ needed: ["libgone.so.3"] }),
  });
  await refused(
    hostBinaryContent(["/bin/prog"], { root }),
    /^Cannot add \/bin\/prog: shared library libgone\.so\.3 \(needed by \/opt\/r\/libfoo\.so\.1\) was not found in \/lib\/x86_64-linux-gnu, .*\/usr\/lib$/,
    /install the package/,
  );
});

test("a library of another architecture is skipped, like ld.so does", async () => {
  const root = await fakeRoot({
    "/bin/prog": elf({ interp: LD, needed: ["libm.so.6"] }),
    "/lib/x86_64-linux-gnu/libm.so.6": elf({ machine: 183 }),
    "/usr/lib/libm.so.6": elf(),
  });
  assert.ok(dests(await hostBinaryContent(["/bin/prog"], { root })).includes("/usr/lib/libm.so.6"));
  const only = await fakeRoot({ "/bin/prog": elf({ interp: LD, needed: ["libm.so.6"] }), "/usr/lib/libm.so.6": elf({ machine: 183 }) });
  await refused(hostBinaryContent(["/bin/prog"], { root: only }), /unusable: \/usr\/lib\/libm\.so\.6 \(.*AArch64/);
});

test("a symlinked binary is packed at its real path with a link at the given one", async () => {
  const root = await fakeRoot({
    "/usr/bin/tool": { link: "../../opt/tool/bin/tool" },
    "/opt/tool/bin/tool": elf({ interp: LD, needed: ["libt.so"], runpath: "$ORIGIN/../lib" }),
    "/opt/tool/lib/libt.so": elf(),
  });
  const items = await hostBinaryContent(["/usr/bin/tool"], { root });
  assert.deepEqual(items.find((i) => i.dest === "/usr/bin/tool"), { dest: "/usr/bin/tool", symlink: "/opt/tool/bin/tool" });
  assert.ok(dests(items).includes("/opt/tool/bin/tool") && dests(items).includes("/opt/tool/lib/libt.so"));
});

test("a script needs its interpreter in the image or among the binaries", async () => {
  const root = await fakeRoot({ "/usr/bin/hello": "#!/usr/bin/python3 -u\nprint(1)\n", "/usr/bin/python3": elf({ interp: LD }), "/bin/run": "#! /bin/sh\necho\n" });
  await refused(hostBinaryContent(["/usr/bin/hello"], { root }), /hello: it is a script for \/usr\/bin\/python3, which is not in the image/, /add it with --binary \/usr\/bin\/python3/);
  assert.ok(dests(await hostBinaryContent(["/usr/bin/hello", "/usr/bin/python3"], { root })).includes(LD));
  assert.deepEqual(dests(await hostBinaryContent(["/bin/run"], { root, inImage: (p) => p === "/bin/sh" })), ["/bin/run"]);
});

test("a foreign-architecture binary, a truncated one and a data file are refused", async () => {
  const prog = elf({ interp: LD, needed: ["libc.so.6"] });
  const root = await fakeRoot({ "/bin/arm": elf({ machine: 183 }), "/bin/cut": prog.subarray(0, 150), "/bin/data": "hello\n" });
  await refused(hostBinaryContent(["/bin/arm"], { root }), /arm is a 64-bit AArch64 ELF file, not x86_64/, /x86_64/);
  await refused(hostBinaryContent(["/bin/cut"], { root }), /cut: it is truncated/);
  await refused(hostBinaryContent(["/bin/data"], { root }), /data: it is neither an ELF executable nor a script/, /--file/);
});

test("a missing path and a directory are refused with what to do", async () => {
  const root = await fakeRoot({});
  await refused(hostBinaryContent(["/bin/nothere"], { root }), /^Cannot add \/bin\/nothere: no such file$/, /--binary/);
  await refused(hostBinaryContent(["/lib64"], { root }), /lib64: it is a directory/);
  await refused(hostBinaryContent(["/bin/prog"], { root: await fakeRoot({ "/bin/prog": elf({ interp: "/lib/ld-musl-x86_64.so.1" }) }) }), /interpreter \/lib\/ld-musl-x86_64\.so\.1 cannot be used/);
});

test("ldSoCache writes a cache ldconfig can read", { skip: !has("ldconfig", ["--version"]) && "no ldconfig" }, async () => {
  const path = join(await tempDir("ldcache-"), "ld.so.cache");
  await writeFile(path, ldSoCache([{ name: "libz.so.1", path: "/opt/z/libz.so.1" }, { name: "liba.so.10", path: "/opt/a/liba.so.10" }, { name: "liba.so.9", path: "/opt/a/liba.so.9" }]));
  const listing = execFileSync("ldconfig", ["-p", "-C", path], { encoding: "utf8" });
  assert.match(listing, /^3 libs found/);
  assert.deepEqual([...listing.matchAll(/\t(\S+) \(libc6,x86-64\) => (\S+)/g)].map((m) => m[1]), ["libz.so.1", "liba.so.10", "liba.so.9"]);
});

test("a gcc-built program with RUNPATH $ORIGIN/../lib runs from the packed files", { skip: !gcc && "no gcc" }, async (t) => {
  const dir = await tempDir("hostbin-gcc-");
  await mkdir(join(dir, "app/bin"), { recursive: true });
  await mkdir(join(dir, "app/lib"), { recursive: true });
  await writeFile(join(dir, "hello.c"), `#include <stdio.h>\nvoid hello(void) { puts("hello from lib"); }\n`);
  await writeFile(join(dir, "main.c"), "void hello(void);\nint main(void) { hello(); return 0; }\n");
  execFileSync("gcc", ["-shared", "-fPIC", "-Wl,-soname,libhello.so.1", "-o", join(dir, "app/lib/libhello.so.1"), join(dir, "hello.c")]);
  execFileSync("gcc", ["-o", join(dir, "app/bin/hello"), join(dir, "main.c"), join(dir, "app/lib/libhello.so.1"), "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib"]);
  const items = await hostBinaryContent([join(dir, "app/bin/hello")]);
  assert.ok(dests(items).includes(join(dir, "app/lib/libhello.so.1")), dests(items).join(" "));
  assert.ok(dests(items).some((d) => d.endsWith("/libc.so.6")));
  if (!userns) return t.skip("no user namespaces to run it in");
  const stage = await tempDir("hostbin-stage-");
  await materialize(stage, items);
  const out = execFileSync("unshare", ["-rmpf", "--mount-proc", `--root=${stage}`, join(dir, "app/bin/hello")], { encoding: "utf8" });
  assert.equal(out, "hello from lib\n");
});

test("a library found through ld.so.conf loads in the image through the written ld.so.cache", { skip: (!gcc || !userns) && "needs gcc and user namespaces" }, async () => {
  const dir = await tempDir("hostbin-conf-");
  const root = join(dir, "root");
  for (const d of ["lib/x86_64-linux-gnu", "lib64", "opt/x/lib", "usr/bin", "etc"]) await mkdir(join(root, d), { recursive: true });
  for (const lib of ["libc.so.6", "ld-linux-x86-64.so.2"]) await copyFile(join("/lib/x86_64-linux-gnu", lib), join(root, "lib/x86_64-linux-gnu", lib));
  await symlink("../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", join(root, LD));
  await writeFile(join(root, "etc/ld.so.conf"), "/opt/x/lib\n");
  await writeFile(join(dir, "hello.c"), `#include <stdio.h>\nvoid hello(void) { puts("hello via cache"); }\n`);
  await writeFile(join(dir, "main.c"), "void hello(void);\nint main(void) { hello(); return 0; }\n");
  execFileSync("gcc", ["-shared", "-fPIC", "-Wl,-soname,libviacache.so.1", "-o", join(root, "opt/x/lib/libviacache.so.1"), join(dir, "hello.c")]);
  execFileSync("gcc", ["-o", join(root, "usr/bin/hello"), join(dir, "main.c"), join(root, "opt/x/lib/libviacache.so.1")]);
  const items = await hostBinaryContent(["/usr/bin/hello"], { root });
  assert.ok(dests(items).includes("/etc/ld.so.cache"));
  const stage = join(dir, "stage");
  await materialize(stage, items);
  assert.equal(execFileSync("unshare", ["-rmpf", "--mount-proc", `--root=${stage}`, "/usr/bin/hello"], { encoding: "utf8" }), "hello via cache\n");
  assert.match(await readFile(join(stage, "etc/ld.so.conf"), "utf8"), /^\/opt\/x\/lib$/m);
});
