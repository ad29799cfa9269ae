import { test } from "node:test";
import assert from "node:assert/strict";
import { utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { haveSnapshot, snapshotFor } from "../../lib/run/snapshot.ts";
import { tempDir } from "../helpers.ts";

/** A VM argv like a scripted run's, over fake files in `dir`, its ports' sockets in `sockets`. */
async function setup() {
  const dir = await tempDir("snapkey-");
  const files = { qemu: join(dir, "qemu-system-x86_64"), kernel: join(dir, "vmlinux"), initrd: join(dir, "initramfs.cpio.gz"), bios: join(dir, "qboot.rom") };
  for (const f of Object.values(files)) await writeFile(f, "x", { mode: 0o755 });
  const argv = (sockets: string, patch: Record<string, string> = {}) => [
    patch.qemu ?? files.qemu,
    "-M", "microvm,x-option-roms=off,acpi=off,accel=tcg",
    "-bios", files.bios,
    "-m", patch.memory ?? "512",
    "-append", "console=hvc0 quiet",
    "-kernel", files.kernel,
    "-initrd", files.initrd,
    "-chardev", `socket,id=port0,path=${sockets}/cmd`, "-device", "virtserialport,chardev=port0,name=microforge.cmd",
    "-qmp", `unix:${sockets}/qmp,server=on,wait=off`,
  ];
  const env = { MICROFORGE_CACHE: join(dir, "cache"), PATH: "" };
  const key = (sockets: string, patch?: Record<string, string>) => snapshotFor(argv(sockets, patch), { socketDir: sockets, env });
  return { dir, files, env, key };
}

/** Make `file` look rewritten (a rebuilt kernel, an upgraded QEMU). */
const touch = (file: string) => utimes(file, new Date(), new Date(Date.now() + 5000));

test("snapshotFor names a file in the cache's snapshots folder, the same for runs that differ only in their socket directory", async () => {
  const { env, key } = await setup();
  const a = await key("/tmp/mf-aaaa");
  assert.match(a, new RegExp(`^${env.MICROFORGE_CACHE}/snapshots/[0-9a-f]{64}\\.state$`));
  assert.equal(await key("/tmp/mf-bbbb"), a);
  assert.equal(await haveSnapshot(a), false);
});

test("snapshotFor gives another file when any argument changes", async () => {
  const { key } = await setup();
  const a = await key("/tmp/mf-a");
  assert.notEqual(await key("/tmp/mf-a", { memory: "1024" }), a);
});

for (const name of ["kernel", "initrd", "bios", "qemu"] as const) {
  test(`snapshotFor gives another file when the ${name} is rewritten`, async () => {
    const { files, key } = await setup();
    const a = await key("/tmp/mf-a");
    await touch(files[name]);
    assert.notEqual(await key("/tmp/mf-a"), a);
  });
}

test("snapshotFor follows QEMU found on PATH: another binary there gives another file", async () => {
  const { dir, env, files } = await setup();
  const argv = ["qemu-system-x86_64", "-kernel", files.kernel];
  const onPath = { ...env, PATH: dir };
  const a = await snapshotFor(argv, { env: onPath });
  await touch(files.qemu);
  assert.notEqual(await snapshotFor(argv, { env: onPath }), a);
});
