import { test } from "node:test";
import assert from "node:assert/strict";
import { watchConsole } from "../../lib/run/console.ts";

const banner = "microforge: /init started";

/** A clock the test moves by hand; QEMU was spawned at 1000. */
function clock() {
  const c = { t: 1000, now: () => c.t };
  return c;
}

test("boot timings are taken from the first byte, the kernel's Run /init line and the init banner", () => {
  const c = clock();
  const watch = watchConsole(banner, 1000, { now: c.now });
  c.t = 1005;
  watch.feed("");
  assert.equal(watch.timings.firstOutputMs, undefined);
  c.t = 1050;
  watch.feed("[    0.000000] Linux version 6.1.0\n");
  c.t = 1300;
  watch.feed("[    0.530000] Run /init as init process\n");
  c.t = 1320;
  watch.feed(`${banner}\n`);
  c.t = 1400;
  watch.feed("[    0.900000] Run /init as init process\n");
  watch.feed(`${banner}\n`);
  assert.deepEqual(watch.timings, { firstOutputMs: 50, runInitMs: 300, initMarkerMs: 320 });
});

test("a line split across chunks counts when it is complete", () => {
  const c = clock();
  const watch = watchConsole(banner, 1000, { now: c.now });
  c.t = 1100;
  watch.feed("[    0.5] Run /in");
  assert.equal(watch.timings.runInitMs, undefined);
  c.t = 1150;
  watch.feed("it as init process\r\nmicroforge: /in");
  c.t = 1200;
  watch.feed("it started\r");
  assert.equal(watch.timings.initMarkerMs, undefined);
  c.t = 1210;
  watch.feed("\n$ ");
  assert.deepEqual(watch.timings, { firstOutputMs: 100, runInitMs: 150, initMarkerMs: 210 });
  assert.equal(watch.tail(), `[    0.5] Run /init as init process\n${banner}\n$ `);
});

test("a kernel panic is noticed, even when its line arrives in pieces", () => {
  const watch = watchConsole(banner, 0, { now: () => 0 });
  watch.feed("[    1.0] Kernel panic - not ");
  assert.equal(watch.panicked, false);
  watch.feed("syncing: Attempted to kill init! exitcode=0x00000100\n");
  assert.equal(watch.panicked, true);
  assert.equal(watch.panicMessage, "Attempted to kill init! exitcode=0x00000100");
});

test("the panic's reason is kept after the stack dump pushes it out of the tail", () => {
  const watch = watchConsole(banner, 0, { now: () => 0 });
  watch.feed("[    0.5] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n");
  for (let i = 0; i < 40; i++) watch.feed(`[    0.5]  frame ${i}\n`);
  watch.feed("[    0.5] Kernel panic - not syncing: a second one\n");
  assert.doesNotMatch(watch.tail(), /Unable to mount/);
  assert.equal(watch.panicMessage, "VFS: Unable to mount root fs on unknown-block(0,0)");
});

test("ordinary output is not a panic", () => {
  const watch = watchConsole(banner, 0, { now: () => 0 });
  watch.feed("echo 'Kernel panic' is just text\nKernel panic test\n");
  assert.equal(watch.panicked, false);
});

test("the tail keeps only the last lines", () => {
  const watch = watchConsole(banner, 0, { now: () => 0, keep: 5 });
  for (let i = 1; i <= 100; i++) watch.feed(`line ${i}\n`);
  assert.equal(watch.tail(3), "line 98\nline 99\nline 100");
  assert.equal(watch.tail(50), "line 96\nline 97\nline 98\nline 99\nline 100");
});

test("the tail shows 20 lines by default and includes an unfinished last line", () => {
  const watch = watchConsole(banner, 0, { now: () => 0 });
  watch.feed(Array.from({ length: 30 }, (_, i) => `line ${i + 1}\n`).join("") + "/ # ");
  const tail = watch.tail().split("\n");
  assert.equal(tail.length, 20);
  assert.equal(tail[0], "line 12");
  assert.equal(tail.at(-1), "/ # ");
});

test("an endless line without a newline is kept bounded", () => {
  const watch = watchConsole(banner, 0, { now: () => 0 });
  for (let i = 0; i < 100; i++) watch.feed("x".repeat(1000));
  assert.ok(watch.tail().length <= 4096, `tail is ${watch.tail().length} characters`);
  watch.feed("END\n");
  assert.match(watch.tail(), /xEND$/);
});

test("with a quiet kernel the first byte is /init's: no firstOutputMs, but the output is seen", () => {
  const c = clock();
  const watch = watchConsole(banner, 1000, { now: c.now, quietKernel: true });
  assert.equal(watch.sawOutput, false);
  c.t = 1600;
  watch.feed(`${banner}\n`);
  assert.equal(watch.sawOutput, true);
  assert.deepEqual(watch.timings, { initMarkerMs: 600 });
});

test("the exit marker after the banner marks the command's end", () => {
  const c = clock();
  const watch = watchConsole(banner, 1000, { now: c.now });
  c.t = 1100;
  watch.feed("microforge-exit-status:0\n"); // before the banner: not ours
  c.t = 1200;
  watch.feed(`${banner}\n`);
  c.t = 1500;
  watch.feed("microforge-exit-status:3\n");
  assert.deepEqual(watch.timings, { firstOutputMs: 100, initMarkerMs: 200, commandEndMs: 500 });
});

test("a panic's trace is kept from its first line, after the tail has moved on, at most traceLines lines", () => {
  const watch = watchConsole(banner, 0, { now: () => 0, keep: 5, traceLines: 4 });
  watch.feed("[    0.4] Freeing unused kernel image memory\n");
  assert.equal(watch.trace, undefined);
  watch.feed("[    0.5] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n[    0.5] Call Trace:\n[    0.5]  <TASK>\n");
  watch.feed("[    0.5]  panic+0x10c/0x2e5\n[    0.5]  do_exit.cold+0x15/0x15\n");
  for (let i = 0; i < 10; i++) watch.feed(`[    0.6] later ${i}\n`);
  assert.doesNotMatch(watch.tail(), /Kernel panic/);
  assert.equal(watch.trace, "[    0.5] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n[    0.5] Call Trace:\n[    0.5]  <TASK>\n[    0.5]  panic+0x10c/0x2e5");
});

test("an oops trace starts at BUG: and keeps a last line cut off by the VM's end", () => {
  const watch = watchConsole(banner, 0, { now: () => 0 });
  watch.feed("[    1.0] BUG: kernel NULL pointer dereference, address: 0000000000000000\n[    1.0] RIP: 0010:foo_init+0x5/0x10\n[    1.0]  do_one_ini");
  assert.equal(watch.panicked, false);
  assert.equal(watch.trace, "[    1.0] BUG: kernel NULL pointer dereference, address: 0000000000000000\n[    1.0] RIP: 0010:foo_init+0x5/0x10\n[    1.0]  do_one_ini");
});

test("ordinary output has no trace", () => {
  const watch = watchConsole(banner, 0, { now: () => 0 });
  watch.feed("echo 'Kernel panic' is just text\nRIP: nothing here\nOops I did it again\n");
  assert.equal(watch.trace, undefined);
});
