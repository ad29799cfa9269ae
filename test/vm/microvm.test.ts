import { test } from "node:test";
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { MicroVM, type MicroVMSpec } from "../../lib/vm/microvm.ts";

const base: MicroVMSpec = { kernel: "/k/bzImage", initrd: "/k/initramfs.cpio.gz", bios: "/usr/share/qemu/qboot.rom" };

const argv = (patch: Partial<MicroVMSpec> = {}) => new MicroVM({ ...base, ...patch }).toArgv();

/** The value after the first `option`. */
function valueOf(words: readonly string[], option: string): string | undefined {
  const i = words.indexOf(option);
  return i < 0 ? undefined : words[i + 1];
}

/** Every value given to `option`, in order. */
function valuesOf(words: readonly string[], option: string): string[] {
  return words.flatMap((w, i) => (w === option ? [words[i + 1]] : []));
}

const refuses = (patch: Partial<MicroVMSpec>, message: RegExp) => assert.throws(() => argv(patch), { name: "VmSpecError", message });

test("the default microVM is the blog's command under TCG", () => {
  assert.deepEqual(argv(), [
    "qemu-system-x86_64",
    "-M", "microvm,x-option-roms=off,acpi=off,accel=tcg",
    "-bios", "/usr/share/qemu/qboot.rom",
    "-m", "512",
    "-nographic", "-nodefaults", "-no-user-config", "-no-reboot",
    "-serial", "mon:stdio",
    "-append", "console=ttyS0 acpi=off reboot=t panic=-1 init=/init no_timer_check noapictimer",
    "-kernel", "/k/bzImage",
    "-initrd", "/k/initramfs.cpio.gz",
  ]);
});

test("the QEMU binary and the serial backend can be chosen; no initrd means no -initrd", () => {
  const words = argv({ qemu: "/opt/qemu/bin/qemu-system-x86_64", serial: "stdio", initrd: undefined });
  assert.equal(words[0], "/opt/qemu/bin/qemu-system-x86_64");
  assert.equal(valueOf(words, "-serial"), "stdio");
  assert.ok(!words.includes("-initrd"));
});

test("KVM adds -enable-kvm -cpu host and turns the RTC off", () => {
  const words = argv({ accel: "kvm" });
  assert.equal(valueOf(words, "-M"), "microvm,x-option-roms=off,rtc=off,acpi=off");
  assert.deepEqual(words.slice(3, 6), ["-enable-kvm", "-cpu", "host"]);
});

test("TCG asks for accel=tcg and keeps the RTC on", () => {
  for (const accel of ["tcg", undefined] as const) {
    const words = argv({ accel });
    const machine = valueOf(words, "-M")!;
    assert.match(machine, /,accel=tcg$/);
    assert.doesNotMatch(machine, /rtc=/);
    assert.ok(!words.includes("-enable-kvm"));
    assert.ok(!words.includes("-cpu"));
  }
});

test("a kernel without ACPI gets machine acpi=off and kernel acpi=off; an ACPI kernel gets neither", () => {
  const plain = argv({ kernelAcpi: false });
  assert.match(valueOf(plain, "-M")!, /,acpi=off/);
  assert.equal(valueOf(plain, "-append"), "console=ttyS0 acpi=off reboot=t panic=-1 init=/init no_timer_check noapictimer");

  const acpi = argv({ kernelAcpi: true });
  assert.equal(valueOf(acpi, "-M"), "microvm,x-option-roms=off,accel=tcg");
  assert.equal(valueOf(acpi, "-append"), "console=ttyS0 reboot=t panic=-1 init=/init no_timer_check");
});

test("machine properties override the defaults and add new ones", () => {
  assert.equal(valueOf(argv({ accel: "kvm", machine: { rtc: true, pit: false, pic: false } }), "-M"), "microvm,x-option-roms=off,rtc=on,acpi=off,pit=off,pic=off");
  assert.equal(valueOf(argv({ machine: { acpi: true, "isa-serial": false } }), "-M"), "microvm,x-option-roms=off,acpi=on,isa-serial=off,accel=tcg");
  assert.equal(valueOf(argv({ kernelAcpi: true, machine: { pcie: true } }), "-M"), "microvm,x-option-roms=off,pcie=on,accel=tcg");
});

test("memory accepts MiB numbers and sizes with units", () => {
  const cases: [string | number, string][] = [[512, "512"], ["512", "512"], ["512M", "512"], ["1G", "1024"], ["1536MiB", "1536"], ["3g", "3072"], ["2047M", "2047"]];
  for (const [memory, mib] of cases) assert.equal(valueOf(argv({ memory }), "-m"), mib, `memory ${memory}`);
});

test("memory refuses zero, negative and nonsense sizes", () => {
  refuses({ memory: 0 }, /^Invalid memory size 0: it must be a whole number of MiB, at least 16M/);
  refuses({ memory: -1 }, /^Invalid memory size -1\n/);
  refuses({ memory: "lots" }, /^Invalid memory size "lots"\n/);
  refuses({ memory: Number.NaN }, /^Invalid memory size NaN\n/);
});

test("memory of exactly 2 GiB is refused because microvm hangs with it", () => {
  for (const memory of ["2G", 2048, "2048M", "2GiB"]) {
    refuses({ memory }, /^Memory of exactly 2 GiB is refused: QEMU microvm is known to hang with it\n {2}→ use 2047M or 2049M/);
  }
});

test("cpus must be a whole number from 1 to 255; more than one adds -smp", () => {
  for (const cpus of [0, 256, 1.5, Number.NaN]) refuses({ cpus }, new RegExp(`^Invalid CPU count ${cpus}\\n`));
  assert.ok(!argv({ cpus: 1 }).includes("-smp"));
  assert.ok(!argv().includes("-smp"));
  assert.equal(valueOf(argv({ cpus: 4 }), "-smp"), "4");
});

test("extra kernel arguments are appended after the blog's", () => {
  assert.equal(valueOf(argv({ append: ["quiet", "microforge.cwd=/mnt/share"] }), "-append"), "console=ttyS0 acpi=off reboot=t panic=-1 init=/init no_timer_check noapictimer quiet microforge.cwd=/mnt/share");
});

test("TCG boot tweaks: noapictimer, tsc_early_khz with a known TSC rate and ACPI, none under KVM, with SMP or when turned off", () => {
  const append = (patch: Partial<MicroVMSpec>) => valueOf(argv(patch), "-append");
  assert.equal(append({ tscKhz: 2596150 }), "console=ttyS0 acpi=off reboot=t panic=-1 init=/init no_timer_check noapictimer");
  assert.equal(append({ tscKhz: 2596150, kernelAcpi: true }), "console=ttyS0 reboot=t panic=-1 init=/init no_timer_check tsc_early_khz=2596150");
  assert.equal(append({ accel: "kvm", tscKhz: 2596150 }), "console=ttyS0 acpi=off reboot=t panic=-1 init=/init no_timer_check");
  assert.equal(append({ cpus: 2, tscKhz: 2596150 }), "console=ttyS0 acpi=off reboot=t panic=-1 init=/init no_timer_check");
  assert.equal(append({ fastBoot: false, tscKhz: 2596150 }), "console=ttyS0 acpi=off reboot=t panic=-1 init=/init no_timer_check");
  assert.equal(append({ fastBoot: false, quiet: true, append: ["x=1"] }), "console=ttyS0 acpi=off reboot=t panic=-1 init=/init no_timer_check quiet x=1");
});

test("a kernel argument with a double quote, newline, space or nothing is refused", () => {
  for (const arg of ['msg="hi"', "a\nb", "a b", "a\tb", ""]) {
    assert.throws(() => argv({ append: ["quiet", arg] }), (err: Error) => {
      assert.equal(err.name, "VmSpecError");
      assert.ok(err.message.startsWith(`Kernel argument ${JSON.stringify(arg)} is refused: it is empty or holds a space, double quote or newline`), err.message);
      return true;
    });
  }
});

test("disks become virtio-blk devices, read-only when asked", () => {
  const words = argv({ disks: [{ path: "/img/root.img" }, { path: "/img/data.qcow2", readonly: true, format: "qcow2" }] });
  const at = words.indexOf("-drive");
  assert.deepEqual(words.slice(at), [
    "-drive", "id=disk0,file=/img/root.img,format=raw,if=none",
    "-device", "virtio-blk-device,drive=disk0",
    "-drive", "id=disk1,file=/img/data.qcow2,format=qcow2,if=none,readonly=on",
    "-device", "virtio-blk-device,drive=disk1",
  ]);
});

test("networking is user-mode with a virtio-net device and optional port forwards", () => {
  assert.ok(!argv({ net: false }).includes("-netdev"));
  const plain = argv({ net: true });
  assert.equal(valueOf(plain, "-netdev"), "user,id=net0");
  assert.deepEqual(valuesOf(plain, "-device"), ["virtio-net-device,netdev=net0"]);

  const fwd = argv({ net: { hostfwd: ["tcp::8080-:80", "2222:22", "udp:127.0.0.1:5353-:53"] } });
  assert.equal(valueOf(fwd, "-netdev"), "user,id=net0,hostfwd=tcp::8080-:80,hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:5353-:53");
});

test("an invalid port forward is refused", () => {
  for (const f of ["8080", "http::8080-:80", "8080:80:1", "tcp::8080-:80,guestfwd=x"]) {
    refuses({ net: { hostfwd: [f] } }, /^Invalid port forward/);
  }
});

test("shares become virtio-9p devices with their mount tag, read-only when asked", () => {
  const words = argv({ shares: [{ path: "/src", tag: "share0" }, { path: "/data", tag: "share1", readonly: true }] });
  assert.deepEqual(valuesOf(words, "-fsdev"), [
    "local,id=fs0,path=/src,security_model=none",
    "local,id=fs1,path=/data,security_model=none,readonly=on",
  ]);
  assert.deepEqual(valuesOf(words, "-device"), ["virtio-9p-device,fsdev=fs0,mount_tag=share0", "virtio-9p-device,fsdev=fs1,mount_tag=share1"]);
});

test("a 9p mount tag that QEMU or the guest cannot take is refused", () => {
  for (const tag of ["", "has space", "a,b", "x".repeat(32), "a/b"]) {
    refuses({ shares: [{ path: "/src", tag }] }, /^Invalid 9p mount tag/);
  }
});

test("virtio-serial ports are socket chardevs on one virtio-serial bus", () => {
  const words = argv({ ports: [{ name: "microforge.stdout", socket: "/run/s/out.sock" }, { name: "microforge.status", socket: "/run/s/status.sock" }] });
  const at = words.indexOf("virtio-serial-device") - 1;
  assert.deepEqual(words.slice(at), [
    "-device", "virtio-serial-device",
    "-chardev", "socket,id=port0,path=/run/s/out.sock",
    "-device", "virtserialport,chardev=port0,name=microforge.stdout",
    "-chardev", "socket,id=port1,path=/run/s/status.sock",
    "-device", "virtserialport,chardev=port1,name=microforge.status",
  ]);
  // The guest's driver adds ports after /init starts: the command line says how many to wait for; none, nothing.
  assert.match(valueOf(words, "-append") ?? "", / microforge\.ports=2$/);
  assert.doesNotMatch(valueOf(argv({}), "-append") ?? "", /microforge\.ports/);
  assert.throws(() => argv({ ports: [{ name: "bad name", socket: "/s" }] }), { name: "VmSpecError", message: /^Invalid virtio-serial port name "bad name"/ });
});

test("raw QEMU arguments come last, after every device", () => {
  const words = argv({ extraArgs: ["-s", "-S"], disks: [{ path: "/d.img" }], net: true, shares: [{ path: "/src", tag: "src" }], ports: [{ name: "p", socket: "/p.sock" }] });
  assert.deepEqual(words.slice(-2), ["-s", "-S"]);
});

test("a comma in a path is doubled inside option lists but left alone in -bios, -kernel and -initrd", () => {
  const dir = "/tmp/a,b";
  const words = argv({
    bios: `${dir}/qboot.rom`,
    kernel: `${dir}/bzImage`,
    initrd: `${dir}/initrd`,
    disks: [{ path: `${dir}/disk.img` }],
    shares: [{ path: `${dir}/src`, tag: "src" }],
    ports: [{ name: "p", socket: `${dir}/p.sock` }],
  });
  assert.equal(valueOf(words, "-bios"), "/tmp/a,b/qboot.rom");
  assert.equal(valueOf(words, "-kernel"), "/tmp/a,b/bzImage");
  assert.equal(valueOf(words, "-initrd"), "/tmp/a,b/initrd");
  assert.equal(valueOf(words, "-drive"), "id=disk0,file=/tmp/a,,b/disk.img,format=raw,if=none");
  assert.equal(valueOf(words, "-fsdev"), "local,id=fs0,path=/tmp/a,,b/src,security_model=none");
  assert.equal(valueOf(words, "-chardev"), "socket,id=port0,path=/tmp/a,,b/p.sock");
});

test("relative paths become absolute", () => {
  const words = argv({
    bios: "qboot.rom",
    kernel: "out/bzImage",
    initrd: "out/initrd",
    disks: [{ path: "disk.img" }],
    shares: [{ path: ".", tag: "src" }],
    ports: [{ name: "p", socket: "p.sock" }],
  });
  const cwd = process.cwd();
  assert.equal(valueOf(words, "-bios"), resolve(cwd, "qboot.rom"));
  assert.equal(valueOf(words, "-kernel"), resolve(cwd, "out/bzImage"));
  assert.equal(valueOf(words, "-initrd"), resolve(cwd, "out/initrd"));
  assert.equal(valueOf(words, "-drive"), `id=disk0,file=${resolve(cwd, "disk.img")},format=raw,if=none`);
  assert.equal(valueOf(words, "-fsdev"), `local,id=fs0,path=${cwd},security_model=none`);
  assert.equal(valueOf(words, "-chardev"), `socket,id=port0,path=${resolve(cwd, "p.sock")}`);
});

test("a microVM needs a kernel and the qboot firmware", () => {
  assert.throws(() => new MicroVM({ ...base, kernel: "" }), { name: "VmSpecError", message: /^A microVM needs a kernel\n {2}→ pass the bzImage path/ });
  assert.throws(() => new MicroVM({ ...base, bios: "" }), { name: "VmSpecError", message: /^A microVM needs the qboot firmware/ });
});

test("with() returns a changed copy and leaves the original as it was", () => {
  const vm = new MicroVM({ ...base, append: ["quiet"] });
  const before = vm.toArgv();
  const kvm = vm.with({ accel: "kvm", memory: "1G", append: ["loglevel=3"] });
  assert.notEqual(kvm, vm);
  assert.deepEqual(vm.toArgv(), before);
  assert.equal(valueOf(kvm.toArgv(), "-m"), "1024");
  assert.ok(kvm.toArgv().includes("-enable-kvm"));
  assert.match(valueOf(kvm.toArgv(), "-append")!, / loglevel=3$/);
  assert.equal(kvm.spec.kernel, vm.spec.kernel);
});

test("with() validates the patch like the constructor does", () => {
  const vm = new MicroVM(base);
  assert.throws(() => vm.with({ memory: "2G" }), { name: "VmSpecError", message: /exactly 2 GiB/ });
  assert.throws(() => vm.with({ append: ["a b"] }), { name: "VmSpecError", message: /^Kernel argument "a b" is refused/ });
});

test("changing the arrays and objects a spec was built from does not change the microVM", () => {
  const append = ["quiet"];
  const machine = { pit: false };
  const disks = [{ path: "/d.img" }];
  const hostfwd = ["8080:80"];
  const extraArgs = ["-s"];
  const vm = new MicroVM({ ...base, append, machine, disks, net: { hostfwd }, extraArgs });
  const before = vm.toArgv();
  append.push("a b");
  machine.pit = true;
  disks[0].path = "/other.img";
  hostfwd.push("nonsense");
  extraArgs.push("-S");
  assert.deepEqual(vm.toArgv(), before);
  assert.ok(Object.isFrozen(vm.spec) && Object.isFrozen(vm.spec.append) && Object.isFrozen(vm.spec.disks![0]));
});

test("the kernel's symbols are kept for decoding a panic, as absolute paths, and never reach the argv", () => {
  const vm = new MicroVM({ ...base, symbols: { vmlinux: "build/vmlinux", tree: "src/linux-6.1" } });
  assert.deepEqual(vm.spec.symbols, { vmlinux: resolve("build/vmlinux"), tree: resolve("src/linux-6.1") });
  assert.ok(Object.isFrozen(vm.spec.symbols));
  assert.deepEqual(vm.toArgv(), argv());
  assert.deepEqual(vm.with({ accel: "kvm" }).spec.symbols, vm.spec.symbols);
  assert.deepEqual(new MicroVM({ ...base, symbols: { vmlinux: "/k/vmlinux" } }).spec.symbols, { vmlinux: "/k/vmlinux" });
});
