import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { CpioEntry } from "../../lib/initramfs/cpio.ts";
import { moduleEntries } from "../../lib/initramfs/modules.ts";
import { ModuleError } from "../../lib/util/errors.ts";
import { tempDir } from "../helpers.ts";
import { ko } from "../fixtures/ko.ts";

const RELEASE = "6.1.0-microforge";


/** Write `files` (relative path → content) under a new `lib/modules/<release>` directory. */
async function moduleDir(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = join(await tempDir("modset-"), "lib", "modules", RELEASE);
  await mkdir(dir, { recursive: true });
  for (const [path, data] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), data);
  }
  return dir;
}

const text = (e: CpioEntry | undefined) => (e && e.type === "file" && "data" in e && e.data ? new TextDecoder().decode(e.data) : undefined);
const byPath = (entries: CpioEntry[], path: string) => entries.find((e) => e.path === path);

test("moduleEntries packs the .ko files of every tree under /lib/modules/<release>, with modules.dep and modules.builtin", async () => {
  const kernel = await moduleDir({
    "kernel/drivers/net/dummy.ko": ko(),
    "kernel/net/core/failover.ko": ko(),
    "kernel/drivers/net/net_failover.ko": ko(["failover"]),
    "modules.order": "kernel/drivers/net/dummy.ko\n",
    "modules.builtin": "kernel/drivers/virtio/virtio.ko\nkernel/drivers/block/virtio_blk.ko\n",
    "modules.builtin.modinfo": "virtio.license=GPL\0",
  });
  const extra = await moduleDir({ "extra/hello-world.ko": ko(["dummy"]) });
  const packed = await moduleEntries({ release: RELEASE, dirs: [kernel, extra] });
  const base = `lib/modules/${RELEASE}`;

  assert.deepEqual(packed.names, ["dummy", "failover", "hello_world", "net_failover"]);
  assert.deepEqual(packed.load, []);
  assert.deepEqual(packed.builtin, []);
  const files = packed.entries.filter((e) => e.type === "file");
  assert.deepEqual(files.map((e) => e.path).sort(), [`${base}/extra/hello-world.ko`, `${base}/kernel/drivers/net/dummy.ko`, `${base}/kernel/drivers/net/net_failover.ko`, `${base}/kernel/net/core/failover.ko`, `${base}/modules.builtin`, `${base}/modules.dep`]);
  assert.deepEqual(byPath(packed.entries, `${base}/extra/hello-world.ko`), { type: "file", path: `${base}/extra/hello-world.ko`, source: join(extra, "extra/hello-world.ko"), mode: 0o644 });
  assert.equal(
    text(byPath(packed.entries, `${base}/modules.dep`)),
    [
      "extra/hello-world.ko: kernel/drivers/net/dummy.ko\n",
      "kernel/drivers/net/dummy.ko:\n",
      "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n",
      "kernel/net/core/failover.ko:\n",
    ].join(""),
  );
  assert.equal(text(byPath(packed.entries, `${base}/modules.builtin`)), "kernel/drivers/virtio/virtio.ko\nkernel/drivers/block/virtio_blk.ko\n");
  for (const e of files) assert.equal(e.mode, 0o644, e.path);
  const dirs = packed.entries.filter((e) => e.type === "dir");
  assert.deepEqual(dirs.map((e) => e.path).sort(), ["lib", "lib/modules", base, `${base}/extra`, `${base}/kernel`, `${base}/kernel/drivers`, `${base}/kernel/drivers/net`, `${base}/kernel/net`, `${base}/kernel/net/core`]);
  for (const e of dirs) assert.equal(e.mode, 0o755, e.path);
});

test("moduleEntries with no module trees still writes an empty modules.dep", async () => {
  const packed = await moduleEntries({ release: RELEASE, dirs: [] });
  assert.deepEqual(packed.names, []);
  assert.deepEqual(packed.entries.map((e) => [e.type, e.path]).sort(), [["dir", "lib"], ["dir", "lib/modules"], ["dir", `lib/modules/${RELEASE}`], ["file", `lib/modules/${RELEASE}/modules.dep`]]);
  assert.equal(text(byPath(packed.entries, `lib/modules/${RELEASE}/modules.dep`)), "");
});

test("moduleEntries skips symlinks in a module tree (modules_install's build and source)", async () => {
  const dir = await moduleDir({ "extra/hello.ko": ko() });
  await symlink("/usr/src/linux", join(dir, "build"));
  await symlink("extra/hello.ko", join(dir, "alias.ko"));
  const packed = await moduleEntries({ release: RELEASE, dirs: [dir] });
  assert.deepEqual(packed.names, ["hello"]);
});

test("moduleEntries loads the requested modules once each, in the order asked, - as _", async () => {
  const dir = await moduleDir({ "kernel/a/dummy.ko": ko(), "extra/hello_world.ko": ko(), "modules.builtin": "kernel/drivers/virtio/virtio_net.ko\n" });
  const packed = await moduleEntries({ release: RELEASE, dirs: [dir], load: ["hello-world", "dummy", "hello_world"] });
  assert.deepEqual(packed.load, ["hello_world", "dummy"]);
  assert.deepEqual(packed.builtin, []);
});

test("moduleEntries reports requested modules built into the kernel instead of loading them", async () => {
  const dir = await moduleDir({ "kernel/a/dummy.ko": ko(), "modules.builtin": "kernel/drivers/net/virtio_net.ko\nkernel/fs/nls/nls-utf8.ko\n" });
  const packed = await moduleEntries({ release: RELEASE, dirs: [dir], load: ["virtio-net", "dummy", "nls_utf8"] });
  assert.deepEqual(packed.load, ["dummy"]);
  assert.deepEqual(packed.builtin, ["virtio_net", "nls_utf8"]);
});

test("moduleEntries refuses a module to load that is nowhere, naming the ones there are and the closest", async () => {
  const dir = await moduleDir({ "kernel/a/dummy.ko": ko(), "extra/hello.ko": ko() });
  await assert.rejects(moduleEntries({ release: RELEASE, dirs: [dir], load: ["dumy"] }), (err: unknown) => {
    assert.ok(err instanceof ModuleError, String(err));
    assert.equal(err.summary, "There is no module dumy to load: the modules there are dummy, hello");
    assert.equal(err.hint, "did you mean dummy? Or build it as a module (--set CONFIG_...=m) or from its source (--module DIR)");
    return true;
  });
  await assert.rejects(moduleEntries({ release: RELEASE, dirs: [], load: ["zram"] }), (err: unknown) => {
    assert.ok(err instanceof ModuleError, String(err));
    assert.equal(err.summary, "There is no module zram to load: no module was built");
    assert.equal(err.hint, "build it as a module (--set CONFIG_...=m) or from its source (--module DIR)");
    return true;
  });
});

test("moduleEntries refuses two modules with the same name, naming both files", async () => {
  const a = await moduleDir({ "kernel/drivers/net/dummy.ko": ko() });
  const b = await moduleDir({ "extra/dummy.ko": ko() });
  await assert.rejects(moduleEntries({ release: RELEASE, dirs: [a, b] }), (err: unknown) => {
    assert.ok(err instanceof ModuleError, String(err));
    assert.equal(err.summary, `Two modules are named dummy: ${join(a, "kernel/drivers/net/dummy.ko")} and ${join(b, "extra/dummy.ko")}`);
    return true;
  });
  // hello-x and hello_x are one name to modprobe.
  const c = await moduleDir({ "extra/hello-x.ko": ko(), "extra/hello_x.ko": ko() });
  await assert.rejects(moduleEntries({ release: RELEASE, dirs: [c] }), /Two modules are named hello_x/);
});

test("moduleEntries refuses a compressed module", async () => {
  for (const ext of ["gz", "xz", "zst"]) {
    const dir = await moduleDir({ [`kernel/a/dummy.ko.${ext}`]: "compressed" });
    await assert.rejects(moduleEntries({ release: RELEASE, dirs: [dir] }), (err: unknown) => {
      assert.ok(err instanceof ModuleError, String(err));
      assert.equal(err.summary, `The module ${join(dir, `kernel/a/dummy.ko.${ext}`)} is compressed`);
      assert.match(err.hint, /CONFIG_MODULE_COMPRESS_NONE=y/);
      return true;
    });
  }
});

test("moduleEntries refuses a module whose dependency is not packed", async () => {
  const dir = await moduleDir({ "extra/hello.ko": ko(["dummy"]) });
  await assert.rejects(moduleEntries({ release: RELEASE, dirs: [dir] }), (err: unknown) => err instanceof ModuleError && err.summary === "The module hello needs dummy, which is not among the packed modules");
});

test("moduleEntries refuses a release that is not one directory name", async () => {
  for (const release of ["", ".", "..", "6.1/../../etc", "6.1 x", "6.1\n", "/abs"]) {
    await assert.rejects(moduleEntries({ release, dirs: [] }), (err: unknown) => {
      assert.ok(err instanceof ModuleError, `${JSON.stringify(release)}: ${err}`);
      assert.equal(err.summary, `Invalid kernel release ${JSON.stringify(release)} for /lib/modules`);
      return true;
    });
  }
  for (const release of ["6.1.0", "6.12.3-rc1+", "6.1.0-microforge~1", "5.10_x"]) {
    assert.ok((await moduleEntries({ release, dirs: [] })).entries.some((e) => e.path === `lib/modules/${release}/modules.dep`), release);
  }
});
