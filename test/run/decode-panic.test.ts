import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodePanic, nmCollector, parseAddr2line, parseFrames, stripTimestamps } from "../../lib/run/decode-panic.ts";
import { guestFailure } from "../../lib/run/exec.ts";
import { watchConsole } from "../../lib/run/console.ts";
import { GuestError } from "../../lib/util/errors.ts";
import { cacheRoot } from "../../lib/util/cache-dir.ts";
import { findOnPathSync } from "../../lib/util/find-on-path.ts";
import type { RunOptions, RunResult } from "../../lib/util/process.ts";
import { tempDir, testCache } from "../helpers.ts";

/** What a 6.1 x86_64 guest prints when its /init exits (captured from `microforge run -- false` with an init that returns). */
const PANIC = `[    0.912345] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100
[    0.912345] CPU: 0 PID: 1 Comm: false Not tainted 6.1.0 #1
[    0.912345] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS rel-1.16.0-0-gd239552ce722-prebuilt.qemu.org 04/01/2014
[    0.912345] Call Trace:
[    0.912345]  <TASK>
[    0.912345]  dump_stack_lvl+0x34/0x48
[    0.912345]  panic+0x10c/0x2e5
[    0.912345]  do_exit.cold+0x15/0x15
[    0.912345]  do_group_exit+0x2d/0x80
[    0.912345]  __x64_sys_exit_group+0x14/0x20
[    0.912345]  do_syscall_64+0x37/0x90
[    0.912345]  entry_SYSCALL_64_after_hwframe+0x63/0xcd
[    0.912345] RIP: 0033:0x4a1b2c
[    0.912345] Code: Unable to access opcode bytes at 0x4a1b02.
[    0.912345] RSP: 002b:00007ffd7d3c4f18 EFLAGS: 00000246 ORIG_RAX: 00000000000000e7
[    0.912345]  </TASK>
[    0.912345] Kernel Offset: disabled
[    0.912345] ---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100 ]---`;

/** `nm -S --defined-only vmlinux` for the frames above; do_group_exit has a static namesake of another size. */
const NM = `ffffffff81000000 0000000000000048 T dump_stack_lvl
ffffffff81001000 00000000000002e5 T panic
ffffffff81002000 0000000000000015 t do_exit.cold
ffffffff81009000 0000000000000010 t do_group_exit
ffffffff81003000 0000000000000080 T do_group_exit
ffffffff81004000 0000000000000020 T __x64_sys_exit_group
ffffffff81005000 0000000000000090 T do_syscall_64
ffffffff81006000 T entry_SYSCALL_64_after_hwframe
ffffffff82000000 0000000000000008 D panic_timeout
`;

/** What `addr2line -a -f -i` says for each address (do_exit.cold has an inlined exit_mm; the entry code has no debug info). */
const PLACES: Record<string, string> = {
  "0xffffffff81000034": "dump_stack_lvl\n/src/linux-6.1/lib/dump_stack.c:107 (discriminator 1)",
  "0xffffffff8100110c": "panic\n/src/linux-6.1/kernel/panic.c:300",
  "0xffffffff81002015": "exit_mm\n/src/linux-6.1/kernel/exit.c:540\ndo_exit\n/src/linux-6.1/kernel/exit.c:823",
  "0xffffffff8100302d": "do_group_exit\n/src/linux-6.1/kernel/exit.c:1012",
  "0xffffffff81004014": "__do_sys_exit_group\n/src/linux-6.1/kernel/exit.c:1023\n__se_sys_exit_group\n/src/linux-6.1/kernel/exit.c:1021\n__x64_sys_exit_group\n/src/linux-6.1/kernel/exit.c:1021",
  "0xffffffff81005037": "do_syscall_64\n/src/linux-6.1/arch/x86/entry/common.c:80",
  "0xffffffff81006063": "entry_SYSCALL_64_after_hwframe\n??:?",
};

interface Call {
  argv: readonly string[];
  options?: RunOptions;
}

/** A fake host: nm and addr2line answer from the tables above (nm streams, like runProcess); anything else as `other` says. */
function fakeHost(other: (argv: readonly string[], options?: RunOptions) => RunResult | Promise<RunResult> = () => ({ code: 127, signal: null, stdout: "", stderr: "not found" })) {
  const calls: Call[] = [];
  const run = async (argv: readonly string[], options?: RunOptions): Promise<RunResult> => {
    calls.push({ argv, options });
    if (argv[0] === "nm") {
      // Split mid-line, as a pipe does.
      options?.onOutput?.(NM.slice(0, 50), "stdout");
      options?.onOutput?.(NM.slice(50), "stdout");
      return { code: 0, signal: null, stdout: NM.slice(-100), stderr: "" };
    }
    if (argv[0] === "addr2line") {
      const addrs = argv.slice(argv.indexOf("-e") + 2);
      const out = addrs.map((a) => `${a}\n${PLACES[a] ?? "??\n??:0"}`).join("\n");
      return { code: 0, signal: null, stdout: `${out}\n`, stderr: "" };
    }
    return await other(argv, options);
  };
  return { calls, run };
}

test("console timestamps and caller ids are stripped before decoding", () => {
  assert.equal(stripTimestamps("[    1.234567] panic+0x1/0x2\r\n[    0.5][    T1] Call Trace:\nno stamp [1.0] here"), "panic+0x1/0x2\nCall Trace:\nno stamp [1.0] here");
});

test("the frames of a panic trace are its func+0xoff/0xsize entries, modules noted", () => {
  const frames = parseFrames(stripTimestamps(PANIC));
  assert.deepEqual(frames.map((f) => `${f.line}:${f.symbol}+0x${f.offset.toString(16)}/0x${f.size.toString(16)}`), [
    "5:dump_stack_lvl+0x34/0x48",
    "6:panic+0x10c/0x2e5",
    "7:do_exit.cold+0x15/0x15",
    "8:do_group_exit+0x2d/0x80",
    "9:__x64_sys_exit_group+0x14/0x20",
    "10:do_syscall_64+0x37/0x90",
    "11:entry_SYSCALL_64_after_hwframe+0x63/0xcd",
  ]);
  assert.deepEqual(parseFrames("RIP: 0010:foo_init+0x5/0x10 [foo]\n ? __die_body+0x1a/0x60"), [
    { line: 0, symbol: "foo_init", offset: 5n, size: 16n, module: "foo" },
    { line: 1, symbol: "__die_body", offset: 0x1an, size: 0x60n },
  ]);
});

test("nm output gives each wanted text symbol's address and size, across chunk boundaries", () => {
  const nm = nmCollector(new Set(["panic", "do_group_exit", "panic_timeout", "entry_SYSCALL_64_after_hwframe"]));
  nm.feed(NM.slice(0, 60));
  nm.feed(NM.slice(60, -1)); // the last line ends without a newline
  assert.deepEqual([...nm.end()], [
    ["panic", [[0xffffffff81001000n, 0x2e5n]]],
    ["do_group_exit", [[0xffffffff81009000n, 0x10n], [0xffffffff81003000n, 0x80n]]],
    ["entry_SYSCALL_64_after_hwframe", [[0xffffffff81006000n, -1n]]],
  ]);
});

test("addr2line -a -f -i output becomes each address's places, innermost first, unknown lines left out", () => {
  const places = parseAddr2line("0x0000000000001000\nexit_mm\n/s/kernel/exit.c:540 (discriminator 2)\ndo_exit\n/s/kernel/exit.c:823\n0x0000000000002000\n??\n??:0\n");
  assert.deepEqual([...places], [
    [0x1000n, [{ func: "exit_mm", where: "/s/kernel/exit.c:540" }, { func: "do_exit", where: "/s/kernel/exit.c:823" }]],
    [0x2000n, [{ func: "??", where: undefined }]],
  ]);
});

test("without decode_stacktrace.sh, nm and addr2line put file:line after each frame, inlined callers below", async () => {
  const host = fakeHost();
  const decoded = await decodePanic(PANIC, { vmlinux: "/src/linux-6.1/vmlinux", tree: "/src/linux-6.1", run: host.run });
  assert.deepEqual(host.calls.map((c) => c.argv), [
    ["nm", "-S", "--defined-only", "/src/linux-6.1/vmlinux"],
    ["addr2line", "-a", "-f", "-i", "-e", "/src/linux-6.1/vmlinux", ...Object.keys(PLACES)],
  ]);
  assert.equal(decoded, `Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100
CPU: 0 PID: 1 Comm: false Not tainted 6.1.0 #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS rel-1.16.0-0-gd239552ce722-prebuilt.qemu.org 04/01/2014
Call Trace:
 <TASK>
 dump_stack_lvl+0x34/0x48 (lib/dump_stack.c:107)
 panic+0x10c/0x2e5 (kernel/panic.c:300)
 do_exit.cold+0x15/0x15 exit_mm (kernel/exit.c:540)
   (inlined by) do_exit (kernel/exit.c:823)
 do_group_exit+0x2d/0x80 (kernel/exit.c:1012)
 __x64_sys_exit_group+0x14/0x20 __do_sys_exit_group (kernel/exit.c:1023)
   (inlined by) __se_sys_exit_group (kernel/exit.c:1021)
   (inlined by) __x64_sys_exit_group (kernel/exit.c:1021)
 do_syscall_64+0x37/0x90 (arch/x86/entry/common.c:80)
 entry_SYSCALL_64_after_hwframe+0x63/0xcd
RIP: 0033:0x4a1b2c
Code: Unable to access opcode bytes at 0x4a1b02.
RSP: 002b:00007ffd7d3c4f18 EFLAGS: 00000246 ORIG_RAX: 00000000000000e7
 </TASK>
Kernel Offset: disabled
---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100 ]---`);
});

test("a tree with scripts/decode_stacktrace.sh gets the trace on stdin, without timestamps", async () => {
  const tree = await tempDir("tree-");
  await mkdir(join(tree, "scripts"));
  await writeFile(join(tree, "scripts", "decode_stacktrace.sh"), "#!/bin/bash\n");
  const fromScript = "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n panic (kernel/panic.c:300)";
  const host = fakeHost(() => ({ code: 0, signal: null, stdout: `${fromScript}\n`, stderr: "" }));
  const decoded = await decodePanic(PANIC, { vmlinux: join(tree, "vmlinux"), tree, run: host.run });
  assert.equal(decoded, fromScript);
  assert.equal(host.calls.length, 1);
  assert.deepEqual(host.calls[0].argv, ["bash", join(tree, "scripts", "decode_stacktrace.sh"), join(tree, "vmlinux"), tree, tree]);
  assert.equal(host.calls[0].options?.input, `${stripTimestamps(PANIC)}\n`);
  assert.equal(host.calls[0].options?.nothrow, true);
});

test("when decode_stacktrace.sh fails or changes nothing, nm and addr2line are tried", async () => {
  const tree = await tempDir("tree-");
  await mkdir(join(tree, "scripts"));
  await writeFile(join(tree, "scripts", "decode_stacktrace.sh"), "#!/bin/bash\n");
  for (const answer of [{ code: 1, stdout: "" }, { code: 0, stdout: stripTimestamps(PANIC) }]) {
    const host = fakeHost(() => ({ ...answer, signal: null, stderr: "addr2line: not found" }));
    const decoded = await decodePanic(PANIC, { vmlinux: "/src/linux-6.1/vmlinux", tree, run: host.run });
    assert.deepEqual(host.calls.map((c) => c.argv[0]), ["bash", "nm", "addr2line"]);
    assert.match(decoded ?? "", /^ panic\+0x10c\/0x2e5 \(kernel\/panic\.c:300\)$/m);
  }
});

test("nothing decodes: no frames, no debug info, unknown symbols, or tools that cannot start", async () => {
  const host = fakeHost();
  assert.equal(await decodePanic("[    1.0] Kernel panic - not syncing: VFS: Unable to mount root fs\n", { vmlinux: "/v", run: host.run }), undefined);
  assert.equal(host.calls.length, 0, "no frames, no tools run");
  assert.equal(await decodePanic(" entry_SYSCALL_64_after_hwframe+0x63/0xcd\n mystery+0x1/0x2", { vmlinux: "/v", run: host.run }), undefined);
  assert.equal(await decodePanic(" mystery+0x1/0x2", { vmlinux: "/v", run: host.run }), undefined);
  const missing = () => Promise.reject(Object.assign(new Error("spawn nm ENOENT"), { code: "ENOENT" }));
  assert.equal(await decodePanic(PANIC, { vmlinux: "/v", tree: "/nonexistent", run: missing }), undefined);
});

test("a panicked guest's error keeps a short first line and shows the decoded frames below the console lines", async () => {
  const watch = watchConsole("microforge: /init started", 0, { now: () => 0 });
  watch.feed(`${PANIC}\n`);
  const host = fakeHost();
  const e = await guestFailure(watch, [], { symbols: { vmlinux: "/src/linux-6.1/vmlinux", tree: "/src/linux-6.1" }, run: host.run });
  assert.ok(e instanceof GuestError);
  assert.equal(e.message.split("\n")[0], "The guest kernel panicked: Attempted to kill init! exitcode=0x00000100");
  assert.match(e.message, /\n--- last console lines ---\n[\s\S]*\n---\n--- decoded stack trace \(\/src\/linux-6\.1\/vmlinux\) ---\n[\s\S]* panic\+0x10c\/0x2e5 \(kernel\/panic\.c:300\)\n[\s\S]*\n---\n {2}→ the initramfs's \/init exited/);
  assert.match(e.decodedTrace ?? "", /^ do_group_exit\+0x2d\/0x80 \(kernel\/exit\.c:1012\)$/m);
  assert.equal(e.exitCode, 255);
});

test("a guest error is the same without symbols, or when decoding fails", async () => {
  const watch = watchConsole("microforge: /init started", 0, { now: () => 0 });
  watch.feed(`${PANIC}\n`);
  const plain = await guestFailure(watch, []);
  const broken = await guestFailure(watch, [], {
    symbols: { vmlinux: "/v" },
    run: () => Promise.reject(new Error("spawn nm ENOENT")),
  });
  assert.equal(broken.message, plain.message);
  assert.equal(broken.decodedTrace, undefined);
  assert.doesNotMatch(plain.message, /decoded stack trace/);
});

/** A vmlinux microforge built, in the test cache or the user's cache. */
function builtVmlinux(): string | undefined {
  for (const root of [testCache, cacheRoot()]) {
    const kernels = join(root, "kernels");
    if (!existsSync(kernels)) continue;
    for (const key of readdirSync(kernels)) {
      const v = join(kernels, key, "vmlinux");
      if (existsSync(v) && statSync(v).size > 1 << 20) return v;
    }
  }
}

const vmlinux = builtVmlinux();
const binutils = !!findOnPathSync("nm") && !!findOnPathSync("addr2line");

test("a built vmlinux's panic is found by the real nm and named by the real addr2line", { skip: (!vmlinux && "no built vmlinux in the cache (run a kernel build first)") || (!binutils && "no binutils (apt-get install binutils)") }, async () => {
  const symtab = execFileSync("nm", ["-S", "--defined-only", vmlinux!], { encoding: "utf8", maxBuffer: 1 << 30 });
  const nm = nmCollector(new Set(["panic"]));
  nm.feed(symtab);
  const [[addr, size]] = nm.end().get("panic") ?? assert.fail("nm lists no panic");
  const named = parseAddr2line(execFileSync("addr2line", ["-a", "-f", "-i", "-e", vmlinux!, `0x${addr.toString(16)}`], { encoding: "utf8" }));
  assert.equal(named.get(addr)?.at(-1)?.func, "panic");
  // Only a kernel with CONFIG_DEBUG_INFO has lines; without, nothing decodes rather than repeat the trace.
  const debugInfo = /\.debug_info/.test(execFileSync("readelf", ["-S", vmlinux!], { encoding: "utf8", maxBuffer: 1 << 26 }));
  const decoded = await decodePanic(`[    1.0] Call Trace:\n[    1.0]  panic+0x10/0x${size.toString(16)}\n`, { vmlinux: vmlinux! });
  if (debugInfo) assert.match(decoded ?? "", /^ panic\+0x10\/0x[0-9a-f]+ \(.*kernel\/panic\.c:\d+\)$/m);
  else assert.equal(decoded, undefined);
});

const gcc = findOnPathSync("gcc");

test("the real nm and addr2line decode frames of an ELF with debug info, inlined callers included", { skip: (!gcc && "no gcc") || (!binutils && "no binutils (apt-get install binutils)") }, async () => {
  const dir = await tempDir("elf-");
  await mkdir(join(dir, "kernel"));
  await writeFile(join(dir, "kernel", "panic.c"), [
    "static inline __attribute__((always_inline)) int inner(volatile int *p) { return *p + 1; }",
    "int panic(volatile int *p) {",
    "  int x = inner(p);",
    "  return x * 3;",
    "}",
    "int main(void) { volatile int v = 1; return panic(&v); }",
    "",
  ].join("\n"));
  execFileSync(gcc!, ["-g", "-O1", "-o", "vmlinux", "kernel/panic.c"], { cwd: dir });
  const size = /^[0-9a-f]+ ([0-9a-f]+) T panic$/m.exec(execFileSync("nm", ["-S", join(dir, "vmlinux")], { encoding: "utf8" }))?.[1] ?? assert.fail("nm lists no panic");
  const decoded = await decodePanic(`[    1.0] Call Trace:\n[    1.0]  panic+0x0/0x${BigInt(`0x${size}`).toString(16)}\n`, { vmlinux: join(dir, "vmlinux"), tree: dir });
  assert.match(decoded ?? "", /^ panic\+0x0\/0x[0-9a-f]+ inner \(kernel\/panic\.c:1\)\n {3}\(inlined by\) panic \(kernel\/panic\.c:3\)$/m);
});
