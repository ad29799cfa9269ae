import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { packInitramfs } from "../../lib/initramfs/pack.ts";
import { BASE_DIRS, rootfsEntries } from "../../lib/initramfs/rootfs.ts";
import { runProcess } from "../../lib/util/process.ts";
import { tempDir } from "../helpers.ts";

async function fakeBusybox(dir: string, text = "not really busybox"): Promise<string> {
  const path = join(dir, "busybox");
  await writeFile(path, text, { mode: 0o755 });
  return path;
}

test("the default rootfs has the blog's layout, device nodes, busybox and /init", async () => {
  const dir = await tempDir("rootfs-");
  const entries = await rootfsEntries({ busybox: await fakeBusybox(dir) });
  const paths = entries.map((e) => e.path).sort();
  assert.deepEqual(paths, [...BASE_DIRS, "bin/busybox", "dev/console", "dev/null", "etc/udhcpc.script", "init"].sort());
  const init = entries.find((e) => e.path === "init")!;
  assert.equal(init.mode, 0o755);
  assert.deepEqual(entries.find((e) => e.path === "dev/console"), { type: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 });
});

test("extra content adds parents and may replace defaults", async () => {
  const dir = await tempDir("rootfs-");
  await writeFile(join(dir, "hello"), "#!/bin/sh\necho hi\n", { mode: 0o750 });
  const entries = await rootfsEntries({
    busybox: await fakeBusybox(dir),
    extra: [
      { source: join(dir, "hello"), dest: "/usr/local/bin/hello" },
      { content: "custom init", dest: "/init", mode: 0o700 },
      { symlink: "/bin/busybox", dest: "/sbin/init" },
    ],
  });
  const paths = entries.map((e) => e.path);
  for (const p of ["usr", "usr/local", "usr/local/bin", "usr/local/bin/hello", "sbin", "sbin/init"]) assert.ok(paths.includes(p), p);
  assert.equal(entries.find((e) => e.path === "usr/local/bin/hello")!.mode, 0o750);
});

test("a missing extra file is an error naming it", async () => {
  const dir = await tempDir("rootfs-");
  await assert.rejects(rootfsEntries({ busybox: await fakeBusybox(dir), extra: [{ source: join(dir, "nope"), dest: "/x" }] }), /Cannot add .*nope as \/x/);
});

test("the same rootfs packed twice has the same sha256; changing one file changes it", async () => {
  const dir = await tempDir("rootfs-");
  const busybox = await fakeBusybox(dir, "x".repeat(100_000));
  const a = await packInitramfs(await rootfsEntries({ busybox }), join(dir, "a.cpio.gz"));
  const b = await packInitramfs(await rootfsEntries({ busybox }), join(dir, "b.cpio.gz"));
  assert.equal(a.sha256, b.sha256);
  assert.equal(a.size, b.size);
  const c = await packInitramfs(await rootfsEntries({ busybox, init: { vars: { hostname: "other" } } }), join(dir, "c.cpio.gz"));
  assert.notEqual(c.sha256, a.sha256);
  await writeFile(busybox, "x".repeat(99_999) + "y");
  const d = await packInitramfs(await rootfsEntries({ busybox }), join(dir, "d.cpio.gz"));
  assert.notEqual(d.sha256, a.sha256);
});

test("SOURCE_DATE_EPOCH sets every mtime", async () => {
  const dir = await tempDir("rootfs-");
  const out = join(dir, "e.cpio");
  await packInitramfs(await rootfsEntries({ busybox: await fakeBusybox(dir) }), out, { gzip: false, mtime: 1700000000 });
  const { stdout } = await runProcess(["cpio", "-itv", "--quiet", "-F", out], { env: { ...process.env, TZ: "UTC", LC_ALL: "C" } });
  for (const line of stdout.trim().split("\n")) assert.match(line, /Nov 14\s+2023/);
});

test("the gzip header has no name and no timestamp", async () => {
  const dir = await tempDir("rootfs-");
  const r = await packInitramfs(await rootfsEntries({ busybox: await fakeBusybox(dir) }), join(dir, "f.cpio.gz"));
  const { readFile } = await import("node:fs/promises");
  const head = (await readFile(r.path)).subarray(0, 10);
  assert.deepEqual([...head.subarray(0, 4)], [0x1f, 0x8b, 8, 0]); // no FNAME flag
  assert.deepEqual([...head.subarray(4, 8)], [0, 0, 0, 0]); // mtime 0
});

test("large files get their own cached gzip member; the bytes are the same with or without the cache", async () => {
  const dir = await tempDir("rootfs-");
  const busybox = await fakeBusybox(dir, "big file ".repeat(40_000));
  const entries = await rootfsEntries({ busybox });
  const memberCache = join(dir, "members");
  const plain = await packInitramfs(entries, join(dir, "plain.cpio.gz"));
  const cold = await packInitramfs(entries, join(dir, "cold.cpio.gz"), { memberCache });
  const { readdir } = await import("node:fs/promises");
  assert.equal((await readdir(memberCache)).length, 1);
  const warm = await packInitramfs(entries, join(dir, "warm.cpio.gz"), { memberCache });
  assert.equal(cold.sha256, plain.sha256);
  assert.equal(warm.sha256, plain.sha256);
  // gzip and cpio read the concatenated members as one archive
  const root = join(dir, "root");
  await runProcess(["sh", "-c", 'mkdir -p "$1" && cd "$1" && gzip -dc "$2" | cpio -idm --quiet', "sh", root, warm.path]);
  const { readFile } = await import("node:fs/promises");
  assert.equal(await readFile(join(root, "bin/busybox"), "utf8"), "big file ".repeat(40_000));
  assert.match(await readFile(join(root, "init"), "utf8"), /^#!\/bin\/busybox sh/);
});

test("applets become /bin links to busybox; odd names, busybox itself and taken paths are skipped", async () => {
  const dir = await tempDir("applets-");
  const entries = await rootfsEntries({ busybox: await fakeBusybox(dir), applets: ["sh", "[", "ls", "busybox", "../evil", "a/b", "ls"], extra: [{ dest: "/bin/ls", content: "mine" }] });
  const links = entries.filter((e) => e.type === "symlink").map((e) => [e.path, e.type === "symlink" ? e.target : ""]);
  assert.deepEqual(links, [["bin/sh", "busybox"], ["bin/[", "busybox"]]);
  assert.equal(entries.filter((e) => e.path === "bin/ls").length, 1);
});

test("init variables of the wrong type are refused naming the variable, the type and an example", async () => {
  const { checkInitVars, renderInit } = await import("../../lib/initramfs/rootfs.ts");
  const { InitVarError } = await import("../../lib/util/errors.ts");
  const refused = (vars: Record<string, unknown>, re: RegExp) => assert.throws(() => renderInit({ vars }), (err: unknown) => err instanceof InitVarError && re.test(err.message));
  refused({ command: true }, /^Template variable command must be a list of words \(or null\), not true\n {2}→ for example --set 'command=\["uname","-a"\]'$/);
  refused({ command: "uname -a" }, /command must be a list of words/);
  refused({ command: [] }, /command must be a list of words/);
  refused({ hostname: 3 }, /hostname must be a string, not 3/);
  refused({ interactiveShell: "no" }, /interactiveShell must be true or false, not "no"/);
  refused({ network: "static" }, /network must be "auto", "dhcp", null or \{ address, gateway, dns \}/);
  refused({ mounts: [{ type: "proc" }] }, /mounts must be a list of/);
  // Right types pass, and names the default template does not know are a custom template's business.
  checkInitVars({ command: ["uname", "-a"], network: null, mounts: [{ type: "proc", source: "proc", target: "/proc" }], myOwn: 42 });
  assert.match(renderInit({ vars: { command: ["uname", "-a"] } }), /^ {2}run_sh 'uname -a'$/m);
});

test("/init mounts with one mount -a from an /etc/fstab its printf writes, spaces and backslashes escaped as fstab wants", async () => {
  const { renderInit } = await import("../../lib/initramfs/rootfs.ts");
  const mounts = [
    { type: "proc", source: "proc", target: "/proc" },
    { type: "tmpfs", source: "scratch", target: "/mnt/my dir", options: "size=1m,mode=0755" },
    { type: "tmpfs", source: "a\\b", target: "/mnt/tab\there" },
  ];
  const init = renderInit({ vars: { mounts } });
  // (9p shares and --host-root mount later, from the kernel command line.)
  assert.doesNotMatch(init.slice(0, init.indexOf("read -r cmdline")), /^mount -t /m, "no mount command per mount");
  assert.match(init, /^mount -a$/m);
  assert.match(init, /^\[ -d '\/mnt\/my dir' \] \|\| mkdir -p '\/mnt\/my dir'$/m, "targets are made first");
  // The printf line, run by a real shell into a file of ours instead of /etc/fstab.
  const line = init.split("\n").find((l) => l.startsWith("printf "));
  assert.ok(line?.endsWith(" >/etc/fstab"), "printf writes /etc/fstab");
  const dir = await tempDir("fstab-");
  const file = join(dir, "fstab");
  const r = await runProcess(["sh", "-c", `${line!.slice(0, -" >/etc/fstab".length)} >"$1"`, "sh", file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(file, "utf8"), [
    "proc /proc proc defaults 0 0",
    "scratch /mnt/my\\040dir tmpfs size=1m,mode=0755 0 0",
    "a\\134b /mnt/tab\\011here tmpfs defaults 0 0",
    "",
  ].join("\n"));
  // Without mounts, no fstab and no mount -a.
  const none = renderInit({ vars: { mounts: [] } });
  assert.doesNotMatch(none, /fstab|mount -a/);
});
