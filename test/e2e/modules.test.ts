/**
 * Kernel modules on a real build and boot: Debian's 6.1 with an in-tree
 * module `=m` (CONFIG_DUMMY) and the out-of-tree fixture module
 * (test/fixtures/hello-module), built against that kernel, packed with a
 * modules.dep and loaded by busybox's modprobe in the guest. One cold build;
 * the rest reuse it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, readdir, realpath, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cli, onDeno, repoRoot, tempDir } from "../helpers.ts";

const skip = onDeno ? "builds a kernel with modules and boots it from the CLI; runs under Node" : false;
const fixture = join(repoRoot, "test", "fixtures", "hello-module");
const KERNEL = ["--kernel-source", "debian", "--kernel-version", "6.1", "--set", "CONFIG_DUMMY=m", "--accel", "tcg", "--timeout", "300"];
const run = (args: string[]) => cli(["run", "--quiet", ...KERNEL, ...args]);

test("an in-tree =m module loads at boot (--modules) and an out-of-tree one with modprobe", { skip }, async () => {
  const script = "modprobe hello && dmesg | grep 'microforge hello module' && ip link show dummy0 && cat /proc/modules";
  const r = await run(["--modules", "dummy", "--module", fixture, "--", "sh", "-c", script]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /microforge hello module loaded/);
  assert.match(r.stdout, /^\d+: dummy0: /m);
  assert.match(r.stdout, /^dummy \d+/m);
  assert.match(r.stdout, /^hello \d+/m);
  // The source directory was copied before the build: nothing was written into it.
  assert.deepEqual((await readdir(fixture)).sort(), ["Kbuild", "hello.c"]);
});

test("without --modules the module is packed but not loaded until modprobe asks", { skip }, async () => {
  const r = await run(["--module", fixture, "--", "sh", "-c", "grep -c '^hello ' /proc/modules; modprobe hello && grep -c '^hello ' /proc/modules"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "0\n1\n");
});

test("a module that fails to build shows the make command, its exit code and the tail", { skip }, async () => {
  const dir = await tempDir("broken-module-");
  await cp(fixture, dir, { recursive: true });
  await writeFile(join(dir, "hello.c"), "#include <linux/module.h>\nint broken(void) { return undeclared_symbol_here; }\nMODULE_LICENSE(\"GPL\");\n");
  const r = await run(["--module", dir, "--", "true"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /make .*M=/);
  assert.match(r.stderr, /exit(ed with)? (code )?2|status 2|code 2/);
  assert.match(r.stderr, /undeclared_symbol_here/);
  // The compiler's messages name the user's file, not the build's copy of it.
  assert.ok(r.stderr.includes(`${await realpath(dir)}/hello.c:2:`), r.stderr);
});

test("a module named at boot that exists nowhere is refused before the boot", { skip }, async () => {
  const r = await run(["--modules", "no_such_module_here", "--", "true"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no_such_module_here/);
  assert.doesNotMatch(r.stderr, /booting/);
});
