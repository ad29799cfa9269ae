import { test } from "node:test";
import assert from "node:assert/strict";
import { MicroVM } from "../../lib/vm/microvm.ts";
import { VmSpecError } from "../../lib/util/errors.ts";

test("arm64 boots QEMU's virt machine with -cpu max under TCG, no firmware, the PL011 console", () => {
  const vm = new MicroVM({ arch: "arm64", kernel: "/k/Image", initrd: "/i.cpio", accel: "tcg", quiet: true, ports: [{ name: "microforge.cmd", socket: "/s/cmd" }] });
  const argv = vm.toArgv();
  assert.equal(argv[0], "qemu-system-aarch64");
  assert.deepEqual(argv.slice(1, 5), ["-M", "virt,accel=tcg", "-cpu", "max"]);
  assert.ok(!argv.includes("-bios"));
  // A VM with ports says how many, for /init to wait for them.
  assert.equal(argv[argv.indexOf("-append") + 1], "console=ttyAMA0 panic=-1 init=/init quiet microforge.ports=1");
  // The same virtio-mmio devices as on microvm: the device tree has the slots.
  assert.ok(argv.includes("virtio-serial-device"));
  assert.deepEqual(new MicroVM({ arch: "arm64", kernel: "/k", accel: "kvm" }).toArgv().slice(1, 5), ["-M", "virt,accel=kvm", "-cpu", "host"]);
});

test("riscv64 boots virt with OpenSBI (-bios default) and the 8250 console; x86_64 keeps microvm and qboot", () => {
  const rv = new MicroVM({ arch: "riscv64", kernel: "/k/Image" }).toArgv();
  assert.deepEqual(rv.slice(0, 5), ["qemu-system-riscv64", "-M", "virt,accel=tcg", "-bios", "default"]);
  assert.match(rv[rv.indexOf("-append") + 1], /^console=ttyS0 panic=-1 init=\/init/);
  const x86 = new MicroVM({ kernel: "/k/vmlinux", bios: "/q/qboot.rom" }).toArgv();
  assert.match(x86[2], /^microvm,/);
  assert.equal(x86[x86.indexOf("-bios") + 1], "/q/qboot.rom");
  assert.match(x86[x86.indexOf("-append") + 1], /^console=ttyS0 acpi=off reboot=t panic=-1 init=\/init/);
});

test("qboot is needed on x86_64 only, and microvm's properties are refused elsewhere", () => {
  assert.throws(() => new MicroVM({ kernel: "/k" }), /needs the qboot firmware/);
  assert.doesNotThrow(() => new MicroVM({ arch: "riscv64", kernel: "/k" }));
  assert.throws(() => new MicroVM({ arch: "arm64", kernel: "/k", machine: { pit: false } }), (e: unknown) => e instanceof VmSpecError && /microvm, not of the arm64 virt machine/.test(e.message));
});
