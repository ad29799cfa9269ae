import { test } from "node:test";
import assert from "node:assert/strict";
import { lstat, readFile, readlink, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { archivePath, cpioArchive, type CpioEntry, newcHeader } from "../../lib/initramfs/cpio.ts";
import { packInitramfs } from "../../lib/initramfs/pack.ts";
import { runProcess } from "../../lib/util/process.ts";
import { tempDir } from "../helpers.ts";

const isRoot = process.getuid?.() === 0;

async function sampleEntries(dir: string): Promise<CpioEntry[]> {
  const hostFile = join(dir, "host.bin");
  await writeFile(hostFile, new Uint8Array(5000).map((_, i) => i % 251));
  return [
    { type: "dir", path: "etc" },
    { type: "file", path: "/etc/motd", data: new TextEncoder().encode("hello\n"), mode: 0o640 },
    { type: "file", path: "bin/tool", source: hostFile, mode: 0o755 },
    { type: "dir", path: "bin" },
    { type: "symlink", path: "bin/sh", target: "tool" },
    { type: "hardlink", path: "bin/tool2", target: "bin/tool" },
    { type: "dir", path: "dev" },
    { type: "char", path: "dev/console", major: 5, minor: 1, mode: 0o600 },
    { type: "block", path: "dev/vda", major: 254, minor: 0, mode: 0o660 },
  ];
}

test("newc header has the 070701 magic, 13 hex fields and a padded name", () => {
  const h = newcHeader("init", { ino: 1, mode: 0o100755, uid: 0, gid: 0, nlink: 1, mtime: 0, size: 3 });
  const text = new TextDecoder().decode(h);
  assert.equal(text.slice(0, 6), "070701");
  assert.equal(text.slice(6, 14), "00000001");
  assert.equal(text.slice(14, 22), (0o100755).toString(16).padStart(8, "0"));
  assert.equal(h.length % 4, 0);
  assert.equal(text.slice(110, 115), "init\0");
});

test("archive paths are normalized and .. is refused", () => {
  assert.equal(archivePath("/bin//busybox"), "bin/busybox");
  assert.equal(archivePath("./init"), "init");
  assert.throws(() => archivePath("../etc/passwd"), /Invalid path/);
  assert.throws(() => archivePath("/"), /Invalid path/);
});

test("cpio -itv lists every entry with mode, owner, size and device numbers", async () => {
  const dir = await tempDir("cpio-");
  const out = join(dir, "a.cpio");
  await packInitramfs(await sampleEntries(dir), out, { gzip: false, mtime: 0 });
  const { stdout } = await runProcess(["cpio", "-itv", "--quiet", "-F", out], { env: { ...process.env, TZ: "UTC", LC_ALL: "C" } });
  const rows = stdout.trim().split("\n").map((l) => l.trim().split(/\s+/));
  const byName = new Map(rows.map((r) => [r[r.length - 1] === "tool" && r[r.length - 2] === "->" ? r[r.length - 3] : r[r.length - 1], r]));
  assert.deepEqual([...byName.keys()].sort(), ["bin", "bin/sh", "bin/tool", "bin/tool2", "dev", "dev/console", "dev/vda", "etc", "etc/motd"]);
  assert.equal(byName.get("etc/motd")![0], "-rw-r-----");
  assert.equal(byName.get("etc/motd")![4], "6");
  assert.equal(byName.get("bin")![0], "drwxr-xr-x");
  assert.equal(byName.get("bin/sh")![0], "lrwxrwxrwx");
  // hard links: both names show nlink 2 and the real size
  assert.equal(byName.get("bin/tool")![1], "2");
  assert.equal(byName.get("bin/tool2")![4], "5000");
  assert.deepEqual(byName.get("dev/console")!.slice(0, 6), ["crw-------", "1", "root", "root", "5,", "1"]);
  assert.deepEqual(byName.get("dev/vda")!.slice(0, 6), ["brw-rw----", "1", "root", "root", "254,", "0"]);
  for (const r of rows) assert.deepEqual(r.slice(2, 4), ["root", "root"]);
});

test("extracting with cpio reproduces files, links and device nodes", async () => {
  const dir = await tempDir("cpio-");
  const out = join(dir, "a.cpio.gz");
  await packInitramfs(await sampleEntries(dir), out, { mtime: 0 });
  const root = join(dir, "root");
  await runProcess(["sh", "-c", `mkdir -p "$1" && cd "$1" && gzip -dc "$2" | cpio -idm --quiet --no-absolute-filenames`, "sh", root, out]);
  assert.equal(await readFile(join(root, "etc/motd"), "utf8"), "hello\n");
  assert.deepEqual(await readFile(join(root, "bin/tool")), await readFile(join(dir, "host.bin")));
  assert.equal(((await stat(join(root, "bin/tool"))).mode & 0o7777), 0o755);
  assert.equal((await stat(join(root, "bin/tool"))).ino, (await stat(join(root, "bin/tool2"))).ino);
  assert.equal(await readlink(join(root, "bin/sh")), "tool");
  if (isRoot) {
    const console = await lstat(join(root, "dev/console"));
    assert.ok(console.isCharacterDevice());
    assert.equal(console.rdev, (5 << 8) | 1);
    assert.ok((await lstat(join(root, "dev/vda"))).isBlockDevice());
  }
});

test("entries come out sorted with the trailer last, whatever the input order", async () => {
  const chunks: Uint8Array[] = [];
  for await (const c of cpioArchive([{ type: "dir", path: "z" }, { type: "dir", path: "a" }, { type: "dir", path: "a/b" }])) chunks.push(c);
  const text = new TextDecoder().decode(Buffer.concat(chunks));
  const names = [...text.matchAll(/070701[0-9a-f]{104}([^\0]+)\0/g)].map((m) => m[1]);
  assert.deepEqual(names, ["a", "a/b", "z", "TRAILER!!!"]);
});

test("a hard link to a missing file is refused", async () => {
  const gen = cpioArchive([{ type: "hardlink", path: "b", target: "a" }]);
  await assert.rejects(gen.next(), /Hard link b points to a/);
});
