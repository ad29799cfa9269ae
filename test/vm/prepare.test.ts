import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { VmSpecError } from "../../lib/util/errors.ts";
import { checkVmPaths, HOST_ROOT_TAG, kernelSymbols, prepareVm } from "../../lib/vm/prepare.ts";
import type { KernelBuild } from "../../lib/kernel/build.ts";
import { tempDir } from "../helpers.ts";

const refused = async (promise: Promise<unknown>, message: RegExp) =>
  await assert.rejects(promise, (err: unknown) => err instanceof VmSpecError && err.exitCode === 1 && message.test(err.message));

test("kernel, initrd, disk and share paths are checked for existence and kind before anything starts", async () => {
  const dir = await tempDir("vm-paths-");
  const file = join(dir, "bzImage");
  await writeFile(file, "x");
  await mkdir(join(dir, "share"));
  execFileSync("mkfifo", [join(dir, "fifo")]);
  await checkVmPaths({ kernel: file, initrd: file, disks: [{ path: file }], shares: [{ path: join(dir, "share") }] });
  await refused(checkVmPaths({ kernel: join(dir, "nope") }), /^Kernel .*\/nope does not exist\n {2}→ pass a bzImage or vmlinux file/);
  await refused(checkVmPaths({ kernel: join(dir, "a", "b", "bzImage") }), new RegExp(`^Kernel .* does not exist \\(there is no ${dir}/a\\)`));
  await refused(checkVmPaths({ kernel: join(dir, "share") }), /^Kernel .*\/share is a directory, not a file/);
  await refused(checkVmPaths({ kernel: join(dir, "fifo") }), /^Kernel .*\/fifo is a FIFO, not a file/);
  await refused(checkVmPaths({ kernel: join(dir, "bzImage", "x") }), /^Kernel .*\/bzImage\/x does not exist \(there is no .*\/bzImage\/x\)|^Kernel .*bzImage\/x does not exist/);
  await refused(checkVmPaths({ initrd: join(dir, "share") }), /^Initramfs .* is a directory, not a file\n {2}→ pass an initramfs file/);
  await refused(checkVmPaths({ disks: [{ path: join(dir, "disk.img") }] }), /^Disk image .*disk\.img does not exist\n {2}→ create it first/);
  await refused(checkVmPaths({ shares: [{ path: file }] }), /^Shared directory .*bzImage is a file, not a directory/);
  await refused(checkVmPaths({ shares: [{ path: join(dir, "gone") }] }), /^Shared directory .*gone does not exist/);
});

test("a kernel build gives the VM its vmlinux and source tree for panic decoding; a kernel path gives none", () => {
  const build = { vmlinux: "/c/kernels/k/vmlinux", bzImage: "/c/kernels/k/bzImage" } as KernelBuild;
  assert.deepEqual(kernelSymbols(build), { vmlinux: "/c/kernels/k/vmlinux" });
  assert.deepEqual(kernelSymbols({ ...build, tree: "/c/src/linux-6.1" } as KernelBuild), { vmlinux: "/c/kernels/k/vmlinux", tree: "/c/src/linux-6.1" });
  assert.equal(kernelSymbols("/k/bzImage"), undefined);
});

test("hostRoot shares / read-only as its own 9p tag, tells /init on the command line, and mounts shares at their host path", async () => {
  const dir = await tempDir("vm-host-root-");
  const file = join(dir, "bzImage");
  await writeFile(file, "x");
  const vm = await prepareVm({ kernel: file, initrd: file, qemu: "/usr/bin/qemu-system-x86_64", bios: "/qboot.rom", accel: "tcg", hostRoot: true, shares: [{ path: dir }] });
  assert.deepEqual(vm.spec.shares?.map((s) => [s.path, s.tag, Boolean(s.readonly)]), [["/", HOST_ROOT_TAG, true], [dir, "share0", false]]);
  assert.ok(vm.spec.append?.includes(`microforge.root=${HOST_ROOT_TAG}`));
  assert.ok(vm.spec.append?.includes(`microforge.mount=share0:${dir}`));
  assert.ok(vm.spec.append?.includes(`microforge.cwd=${dir}`));
  const argv = vm.toArgv().join(" ");
  assert.match(argv, new RegExp(`-fsdev local,id=fs0,path=/,security_model=none,readonly=on -device virtio-9p-device,fsdev=fs0,mount_tag=${HOST_ROOT_TAG}`));
  // Without hostRoot, nothing of the kind.
  const plain = await prepareVm({ kernel: file, initrd: file, qemu: "/usr/bin/qemu-system-x86_64", bios: "/qboot.rom", accel: "tcg", shares: [{ path: dir }] });
  assert.ok(!plain.spec.append?.some((a) => a.startsWith("microforge.root=")));
  assert.ok(plain.spec.append?.includes("microforge.mount=share0:/mnt/share"));
});
