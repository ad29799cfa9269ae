import { test } from "node:test";
import assert from "node:assert/strict";
import { type Command, parseFlags } from "../../lib/cli/command.ts";
import { vmFlags, vmOptions } from "../../lib/cli/vm-flags.ts";

const run: Command = { name: "run", summary: "", usage: "[options]", flags: vmFlags, run: () => Promise.resolve(0) };

/** The VM options `microforge run ARGS` asks for. */
const options = (...args: string[]) => vmOptions(parseFlags(run, args));

const refused = (args: string[], message: RegExp) => assert.throws(() => options(...args), (err: Error & { exitCode?: number }) => {
  assert.equal(err.name, "UsageError");
  assert.equal(err.exitCode, 2);
  assert.match(err.message, message);
  return true;
});

test("without VM flags: 512M, one CPU, no machine props, devices or network", () => {
  const o = options();
  assert.equal(o.memory, "512M");
  assert.equal(o.cpus, 1);
  assert.equal(o.machine, undefined);
  assert.deepEqual(o.disks, []);
  assert.deepEqual(o.shares, []);
  assert.equal(o.net, false);
});

test("--share takes DIR, DIR:/guest, DIR:ro and DIR:/guest:ro", () => {
  assert.deepEqual(options("--share", "src").shares, [{ path: "src", mountpoint: undefined, readonly: false }]);
  assert.deepEqual(options("--share", "src:/work").shares, [{ path: "src", mountpoint: "/work", readonly: false }]);
  assert.deepEqual(options("--share", "src:ro").shares, [{ path: "src", mountpoint: undefined, readonly: true }]);
  assert.deepEqual(options("--share", "/home/me/src:/work:ro").shares, [{ path: "/home/me/src", mountpoint: "/work", readonly: true }]);
});

test("--share can be given more than once", () => {
  assert.deepEqual(options("--share", "a", "--share", "b:/b:ro").shares, [
    { path: "a", mountpoint: undefined, readonly: false },
    { path: "b", mountpoint: "/b", readonly: true },
  ]);
});

test("a --share with no directory, an empty guest path or too many parts is refused", () => {
  for (const spec of [":/guest", "ro", "a:b:c", "a:/b:rw", "a:"]) {
    refused(["--share", spec], new RegExp(`^Invalid --share ${spec}\\n {2}→ use --share DIR\\[:GUESTDIR\\]\\[:ro\\]`));
  }
});

test("--disk PATH:ro is a read-only disk, --disk PATH a writable one", () => {
  assert.deepEqual(options("--disk", "root.img", "--disk", "data.img:ro").disks, [
    { path: "root.img", readonly: false },
    { path: "data.img", readonly: true },
  ]);
});

test("--machine sets microvm properties on or off", () => {
  assert.deepEqual(options("--machine", "pit=off", "--machine", "rtc=on", "--machine", "isa-serial=off").machine, { pit: false, rtc: true, "isa-serial": false });
});

test("an unknown or malformed --machine is refused with the list of properties", () => {
  for (const item of ["pit=no", "foo=on", "pit", "PIT=off"]) {
    refused(["--machine", item], new RegExp(`^Invalid --machine ${item}\\n {2}→ use NAME=on\\|off with NAME one of pit, pic, rtc, isa-serial, acpi, pcie$`));
  }
});

test("--net turns on user networking and --hostfwd implies it", () => {
  assert.equal(options("--net").net, true);
  assert.deepEqual(options("--hostfwd", "8080:80", "--hostfwd", "tcp::2222-:22").net, { hostfwd: ["8080:80", "tcp::2222-:22"] });
});

test("memory, cpus, kernel arguments and raw QEMU arguments pass through", () => {
  const o = options("-m", "1G", "--cpus", "2", "--append", "quiet", "--append", "loglevel=3", "--qemu-arg=-s", "--qemu-arg=-S");
  assert.equal(o.memory, "1G");
  assert.equal(o.cpus, 2);
  assert.deepEqual(o.append, ["quiet", "loglevel=3"]);
  assert.deepEqual(o.extraArgs, ["-s", "-S"]);
});

test("bad --memory, --cpus, --accel, --append, --hostfwd and --disk values are usage errors naming the flag", () => {
  refused(["--memory", "lots"], /^Invalid memory size "lots" \(--memory\)\n {2}→ use a size like 512, 512M or 1G$/);
  refused(["--memory=0"], /^Invalid memory size "0": it must be a whole number of MiB, at least 16M \(--memory\)/);
  refused(["-m", "2G"], /^Memory of exactly 2 GiB is refused: .* \(--memory\)\n {2}→ use 2047M or 2049M/);
  for (const cpus of ["0", "256", "-1", "two", "0x2", "1.5"]) refused([`--cpus=${cpus}`], new RegExp(`^Invalid CPU count "${cpus.replace(".", "\\.")}" \\(--cpus\\)\\n {2}→ use a whole number from 1 to 255$`));
  refused(["--accel", "kmv"], /^Unknown accelerator "kmv" \(--accel\)\n {2}→ did you mean kvm\? Use auto, kvm or tcg$/);
  refused(["--append", "a b"], /^Kernel argument "a b" is refused: .* \(--append\)/);
  refused(["--hostfwd", "8080"], /^Invalid port forward "8080" \(--hostfwd\)/);
  refused(["--disk", ":ro"], /^Invalid --disk ":ro"\n {2}→ use --disk IMAGE\[:ro\]$/);
});

test("a bad --kernel-version, --features or --kernel-source is refused before anything is built", () => {
  refused(["--kernel-version", "^^6"], /^Invalid kernel version spec "\^\^6" \(--kernel-version\)\n {2}→ use latest, longterm/);
  refused(["--features", "virtio,nett"], /^Unknown kernel feature nett \(--features\)\n {2}→ did you mean net\?/);
  refused(["--kernel-source", "debain"], /^Unknown --kernel-source "debain"\n {2}→ did you mean debian\?/);
  // With --kernel given, the kernel source is not used, so it is not checked either.
  assert.equal(options("--kernel", "/k", "--kernel-source", "debain").kernel, "/k");
  assert.throws(() => options("--kernel-source", "/no/such/linux.tar.xz"), (err: Error & { exitCode?: number }) => {
    assert.equal(err.name, "SourcePathError");
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /^Kernel tarball \/no\/such\/linux\.tar\.xz \(--kernel-source\) does not exist/);
    return true;
  });
});

test("a negative number after a value flag is its value, so the flag's own check names it", () => {
  assert.equal(parseFlags(run, ["--memory", "-1"]).memory, "-1");
  refused(["--memory", "-1"], /--memory/);
  refused(["--cpus", "-2"], /--cpus/);
  // A word that starts with - but is not a number is still an option.
  assert.throws(() => parseFlags(run, ["--memory", "-x"]), { name: "UsageError" });
});

test("--gdb starts QEMU's stub on 127.0.0.1 with the CPU paused and adds nokaslr; --kernel-tree, --config and --set reach the kernel", () => {
  const o = options("--gdb", "--kernel-tree", "/src/linux", "--set", "CONFIG_DUMMY=m", "--", "true");
  assert.deepEqual(o.extraArgs, ["-gdb", "tcp:127.0.0.1:1234", "-S"]);
  assert.ok(o.append?.includes("nokaslr"));
  assert.equal(o.kernelTree, "/src/linux");
  assert.deepEqual(o.overrides, ["CONFIG_DUMMY=m"]);
  assert.deepEqual(options("--gdb", "2345").extraArgs, ["-gdb", "tcp:127.0.0.1:2345", "-S"]);
  assert.throws(() => options("--gdb", "70000"), /Invalid --gdb/);
  assert.throws(() => options("--set", "CONFIG_X"), /--set/);
});
