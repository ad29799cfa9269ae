import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkModuleName, moduleName, requestsModules, treeFiles, treeSha256, withModuleFeature } from "../../lib/kernel/modules.ts";
import { UsageError } from "../../lib/util/errors.ts";
import { runProcess } from "../../lib/util/process.ts";
import { tempDir } from "../helpers.ts";

const req = (pairs: Record<string, string>) => new Map(Object.entries(pairs));

test("requestsModules is true only when some symbol is =m", () => {
  assert.equal(requestsModules(req({})), false);
  assert.equal(requestsModules(req({ VIRTIO: "y", NET: "y", LOCALVERSION: '"m"' })), false);
  assert.equal(requestsModules(req({ VIRTIO: "y", DUMMY: "m" })), true);
  assert.equal(requestsModules(req({ DUMMY: "M" })), false, "only a lower-case m is a module in a .config");
});

test("withModuleFeature adds modules for an =m symbol or when wanted", () => {
  assert.deepEqual(withModuleFeature(["virtio"], req({ DUMMY: "m" })), ["virtio", "modules"]);
  assert.deepEqual(withModuleFeature([], req({}), true), ["modules"]);
  assert.deepEqual(withModuleFeature(["virtio"], req({ NET: "y" })), ["virtio"]);
  assert.deepEqual(withModuleFeature(["virtio"], req({ NET: "y" }), false), ["virtio"]);
});

test("withModuleFeature does not add modules twice, nor against an explicit CONFIG_MODULES", () => {
  const features = ["virtio", "modules"];
  assert.equal(withModuleFeature(features, req({ DUMMY: "m" }), true), features);
  const off = ["virtio"];
  assert.equal(withModuleFeature(off, req({ MODULES: "n", DUMMY: "m" }), true), off);
  assert.deepEqual(withModuleFeature(off, req({ MODULES: "y" })), ["virtio"]);
});

test("withModuleFeature leaves its input array unchanged", () => {
  const features = ["virtio"];
  const out = withModuleFeature(features, req({ DUMMY: "m" }));
  assert.deepEqual(features, ["virtio"]);
  assert.notEqual(out, features);
});

test("moduleName is the base name without .ko, with - as _", () => {
  assert.equal(moduleName("kernel/drivers/net/dummy.ko"), "dummy");
  assert.equal(moduleName("extra/hello-world.ko"), "hello_world");
  assert.equal(moduleName("virtio_net.ko"), "virtio_net");
  assert.equal(moduleName("kernel/fs/nls/nls-utf8"), "nls_utf8");
  assert.equal(moduleName("a.ko.xz"), "a.ko.xz", "only a trailing .ko is dropped");
  assert.equal(moduleName("my.ko/x.ko"), "x");
});

test("checkModuleName accepts modprobe's names and returns them with - as _", () => {
  assert.equal(checkModuleName("dummy"), "dummy");
  assert.equal(checkModuleName("hello-world"), "hello_world");
  assert.equal(checkModuleName("Nls_UTF8-2"), "Nls_UTF8_2");
  assert.equal(checkModuleName("a".repeat(55)), "a".repeat(55));
});

test("checkModuleName refuses names modprobe cannot take, with a UsageError naming the value", () => {
  for (const bad of ["", "a b", "dummy.ko", "../evil", "x;rm", "a,b", "é", "a".repeat(56)]) {
    assert.throws(() => checkModuleName(bad), (err: unknown) => {
      assert.ok(err instanceof UsageError, `${JSON.stringify(bad)}: ${err}`);
      assert.equal(err.summary, `Invalid module name ${JSON.stringify(bad)}`);
      assert.match(err.hint, /--modules dummy,hello/);
      return true;
    });
  }
});

test("treeFiles lists regular files as sorted relative paths, skipping symlinks and fifos", async () => {
  const dir = await tempDir("tree-");
  await mkdir(join(dir, "kernel", "net"), { recursive: true });
  await mkdir(join(dir, "extra"));
  await mkdir(join(dir, "empty"));
  await writeFile(join(dir, "modules.order"), "kernel/net/dummy.ko\n");
  await writeFile(join(dir, "kernel", "net", "dummy.ko"), "ko");
  await writeFile(join(dir, "extra", "b.ko"), "b");
  await writeFile(join(dir, "extra", "a.ko"), "a");
  await writeFile(join(dir, "extra-file"), "x");
  await symlink("/nonexistent", join(dir, "build"));
  await symlink("extra/a.ko", join(dir, "link.ko"));
  const fifo = await runProcess(["mkfifo", join(dir, "pipe")], { nothrow: true });
  assert.deepEqual(await treeFiles(dir), ["extra-file", "extra/a.ko", "extra/b.ko", "kernel/net/dummy.ko", "modules.order"]);
  assert.equal(fifo.code, 0, "mkfifo made the fifo the list skips");
});

test("treeFiles of an empty directory is empty, of a missing one an error", async () => {
  const dir = await tempDir("tree-");
  assert.deepEqual(await treeFiles(dir), []);
  await assert.rejects(treeFiles(join(dir, "nope")), { code: "ENOENT" });
});

test("treeSha256 hashes each path and its content's sha256, in path order", async () => {
  const dir = await tempDir("tree-");
  await mkdir(join(dir, "extra"));
  await writeFile(join(dir, "extra", "hello.ko"), "hello");
  await writeFile(join(dir, "modules.order"), "extra/hello.ko\n");
  const hex = (s: string) => createHash("sha256").update(s).digest("hex");
  const want = hex(`extra/hello.ko\0${hex("hello")}\nmodules.order\0${hex("extra/hello.ko\n")}\n`);
  assert.equal(await treeSha256(dir), want);
});

test("treeSha256 changes with a file's content or name, not with a symlink", async () => {
  const dir = await tempDir("tree-");
  await writeFile(join(dir, "a.ko"), "one");
  const first = await treeSha256(dir);
  await symlink("/usr/src/linux", join(dir, "build"));
  assert.equal(await treeSha256(dir), first);
  await writeFile(join(dir, "a.ko"), "two");
  const second = await treeSha256(dir);
  assert.notEqual(second, first);
  await writeFile(join(dir, "a.ko"), "one");
  assert.equal(await treeSha256(dir), first);
  const other = await tempDir("tree-");
  await writeFile(join(other, "b.ko"), "one");
  assert.notEqual(await treeSha256(other), first);
  const empty = await tempDir("tree-");
  assert.equal(await treeSha256(empty), createHash("sha256").digest("hex"));
});
