import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { MicroVM, type MicroVMSpec } from "../../lib/vm/microvm.ts";

const base: MicroVMSpec = { kernel: "/k/bzImage", initrd: "/k/initramfs.cpio.gz", bios: "/usr/share/qemu/qboot.rom" };
const argv = (patch: Partial<MicroVMSpec> = {}) => new MicroVM({ ...base, ...patch }).toArgv();
const valueOf = (words: readonly string[], option: string) => words[words.indexOf(option) + 1];

test("a VM without incoming or qmp has neither option", () => {
  const words = argv();
  assert.ok(!words.includes("-incoming") && !words.includes("-qmp"));
});

test("incoming restores from the file through cat, quoted for the shell QEMU runs it with", () => {
  assert.equal(valueOf(argv({ incoming: "/cache/snapshots/ab.state" }), "-incoming"), "exec:cat /cache/snapshots/ab.state");
  const odd = "/tmp/it's a $(dir)/x.state";
  const uri = valueOf(argv({ incoming: odd }), "-incoming");
  assert.equal(uri, `exec:cat '/tmp/it'\\''s a $(dir)/x.state'`);
  // What QEMU's /bin/sh -c makes of it is the one path.
  const r = spawnSync("sh", ["-c", `printf %s ${uri.slice("exec:cat ".length)}`], { encoding: "utf8" });
  assert.equal(r.stdout, odd);
});

test("incoming and qmp paths are made absolute", () => {
  const words = argv({ incoming: "rel/vm.state", qmp: "rel/qmp.sock" });
  assert.equal(valueOf(words, "-incoming"), `exec:cat ${process.cwd()}/rel/vm.state`);
  assert.equal(valueOf(words, "-qmp"), `unix:${process.cwd()}/rel/qmp.sock,server=on,wait=off`);
});

test("qmp serves a unix socket without waiting for a client, commas doubled", () => {
  assert.equal(valueOf(argv({ qmp: "/run/a,b/qmp" }), "-qmp"), "unix:/run/a,,b/qmp,server=on,wait=off");
});

test("qmp and incoming come after the devices and before the raw extra arguments", () => {
  const words = argv({ ports: [{ name: "microforge.cmd", socket: "/run/cmd" }], qmp: "/run/qmp", incoming: "/s.state", extraArgs: ["-s"] });
  const at = (w: string) => words.indexOf(w);
  assert.ok(at("virtserialport,chardev=port0,name=microforge.cmd") < at("-qmp"));
  assert.ok(at("-qmp") < at("-incoming") && at("-incoming") < at("-s"));
  assert.equal(words.at(-1), "-s");
});
