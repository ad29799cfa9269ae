import { test } from "node:test";
import assert from "node:assert/strict";
import { type BootMarks, bootPhases, parsePrintk, type Phase } from "../../lib/run/phases.ts";

/** A TCG boot as run.ts --timings reports it. */
const marks: BootMarks = { firstOutputMs: 48, runInitMs: 545, initMarkerMs: 561, exitMs: 690 };

/** Console lines of that boot, with the kernel's own timestamps. */
const consoleLines = [
  "SeaBIOS (version 1.16.3)",
  "[    0.000000] Linux version 6.12.6 (microforge@build) #1 SMP",
  "[    0.392553] Unpacking initramfs...",
  "[    0.401000] initcall populate_rootfs+0x0/0x40 returned 0 after 8500 usecs",
  "[    0.420553] Freeing initrd memory: 1024K",
  "[    0.480000] initcall virtio_console_init+0x0/0xf0 returned 0 after 25000 usecs",
  "[    0.500000] initcall serial8250_init+0x0/0x1a0 returned 0 after 10000 usecs",
  "[    0.530000] Run /init as init process",
  "microforge: /init started",
];

const top = (phases: Phase[]) => phases.filter((p) => p.depth === 0);
const names = (phases: Phase[]) => phases.map((p) => p.name);
const near = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-6, `${actual} is not ${expected}`);

/** Top-level phases start at 0, touch end to end, and stop at `end`. */
function assertTiles(phases: Phase[], end: number) {
  const t = top(phases);
  assert.equal(t[0].startMs, 0);
  for (let i = 1; i < t.length; i++) assert.equal(t[i].startMs, t[i - 1].endMs, `${t[i].name} starts where ${t[i - 1].name} ends`);
  assert.equal(t.at(-1)!.endMs, end);
  assert.equal(t.reduce((sum, p) => sum + (p.endMs - p.startMs), 0), end);
}

test("host marks cut the run into phases that tile [0, exit] exactly", () => {
  const phases = bootPhases(marks, []);
  assert.deepEqual(phases, [
    { name: "QEMU start + firmware", startMs: 0, endMs: 48, source: "host", depth: 0 },
    { name: "kernel boot", startMs: 48, endMs: 545, source: "host", depth: 0 },
    { name: "/init to banner", startMs: 545, endMs: 561, source: "host", depth: 0 },
    { name: "command", startMs: 561, endMs: 690, source: "host", depth: 0 },
  ]);
  assertTiles(phases, 690);
});

test("command marks split the end of the run into setup, command and shutdown", () => {
  const phases = bootPhases({ ...marks, commandStartMs: 570, commandEndMs: 640 }, consoleLines);
  assert.deepEqual(names(top(phases)), ["QEMU start + firmware", "kernel boot", "/init to banner", "command setup", "command", "shutdown"]);
  assert.deepEqual(top(phases).slice(-3).map((p) => [p.startMs, p.endMs]), [[561, 570], [570, 640], [640, 690]]);
  assertTiles(phases, 690);
  const onlyEnd = bootPhases({ ...marks, commandEndMs: 640 });
  assert.deepEqual(names(onlyEnd).slice(-2), ["command", "shutdown"]);
  assert.deepEqual([onlyEnd.at(-2)!.startMs, onlyEnd.at(-1)!.startMs], [561, 640]);
  assertTiles(onlyEnd, 690);
});

test("a missing or out-of-order mark merges its phase into the next, still tiling the run", () => {
  const noRunInit = bootPhases({ firstOutputMs: 48, initMarkerMs: 561, exitMs: 690 });
  assert.deepEqual(names(noRunInit), ["QEMU start + firmware", "kernel boot + /init to banner", "command"]);
  assertTiles(noRunInit, 690);
  const backwards = bootPhases({ ...marks, initMarkerMs: 20 });
  assert.deepEqual(names(backwards), ["QEMU start + firmware", "kernel boot", "/init to banner + command"]);
  assertTiles(backwards, 690);
  const qemuFailed = bootPhases({ exitMs: 30 });
  assert.deepEqual(names(qemuFailed), ["QEMU start + firmware + kernel boot + /init to banner + command"]);
  assertTiles(qemuFailed, 30);
});

test("without an exit mark the timeline ends at the last mark; without marks it is empty", () => {
  const hung = bootPhases({ firstOutputMs: 48, runInitMs: 545 });
  assert.deepEqual(names(hung), ["QEMU start + firmware", "kernel boot"]);
  assertTiles(hung, 545);
  assert.deepEqual(bootPhases({}), []);
  assert.deepEqual(bootPhases({ exitMs: 0 }), []);
});

test("printk lines are parsed whatever the padding inside the brackets", () => {
  assert.deepEqual(parsePrintk("[    0.392553] Unpacking initramfs..."), { seconds: 0.392553, text: "Unpacking initramfs..." });
  assert.deepEqual(parsePrintk("[0.5] Run /init as init process\r"), { seconds: 0.5, text: "Run /init as init process" });
  assert.deepEqual(parsePrintk("[ 1234.000001 ]   indented text"), { seconds: 1234.000001, text: "  indented text" });
  assert.deepEqual(parsePrintk("<6>[    2.100000] with a log level"), { seconds: 2.1, text: "with a log level" });
  assert.deepEqual(parsePrintk("[    0.100000][    T1] with the caller"), { seconds: 0.1, text: "with the caller" });
  assert.deepEqual(parsePrintk("[    3.000000]"), { seconds: 3, text: "" });
  for (const line of ["microforge: /init started", "[  OK  ] Started", "[abc] x", "", "x [    0.1] y"]) {
    assert.equal(parsePrintk(line), undefined, line);
  }
});

test("guest times are aligned so the kernel's Run /init lands on the host's runInitMs", () => {
  const unpack = bootPhases(marks, consoleLines).find((p) => p.name === "initramfs unpack")!;
  // Guest 0.530000 s is host 545 ms: 0.392553 s is 137.447 ms earlier.
  near(unpack.startMs, 407.553);
  near(unpack.endMs, 435.553);
  assert.equal(unpack.source, "guest");
  assert.equal(unpack.depth, 1);
  const later = bootPhases({ ...marks, runInitMs: 1545, initMarkerMs: 1561, exitMs: 1690 }, consoleLines).find((p) => p.name === "initramfs unpack")!;
  near(later.startMs, 1407.553);
});

test("slow initcalls from initcall_debug become nested phases ending at their timestamp", () => {
  const guest = bootPhases(marks, consoleLines).filter((p) => p.source === "guest");
  assert.deepEqual(names(guest), ["initramfs unpack", "initcall virtio_console_init", "initcall serial8250_init"]);
  const virtio = guest[1];
  near(virtio.endMs, 495);
  near(virtio.startMs, 470);
  assert.ok(guest.every((p) => p.depth === 1));
});

test("the initcall threshold is inclusive and can be changed", () => {
  const initcalls = (threshold?: number) =>
    names(bootPhases(marks, consoleLines, threshold === undefined ? {} : { initcallThresholdMs: threshold })).filter((n) => n.startsWith("initcall"));
  assert.deepEqual(initcalls(), ["initcall virtio_console_init", "initcall serial8250_init"]);
  assert.deepEqual(initcalls(20), ["initcall virtio_console_init"]);
  assert.deepEqual(initcalls(5), ["initcall populate_rootfs", "initcall virtio_console_init", "initcall serial8250_init"]);
  assert.deepEqual(initcalls(100), []);
});

test("a module's initcall keeps its module name; malformed initcall lines are ignored", () => {
  const lines = [
    "[    0.100000] initcall fuse_init+0x0/0x1b0 [fuse] returned 0 after 30000 usecs",
    "[    0.200000] initcall broken returned after usecs",
    "[    0.250000] calling  slow_init+0x0/0x20 @ 1",
    "[    0.300000] Run /init as init process",
  ];
  assert.deepEqual(names(bootPhases(marks, lines).filter((p) => p.depth === 1)), ["initcall fuse_init [fuse]"]);
});

test("without the Run /init line or mark there is no guest detail", () => {
  const noLine = consoleLines.filter((l) => !l.includes("Run /init"));
  assert.deepEqual(bootPhases(marks, noLine).filter((p) => p.depth === 1), []);
  const { runInitMs: _, ...noMark } = marks;
  assert.deepEqual(bootPhases(noMark, consoleLines).filter((p) => p.depth === 1), []);
});

test("guest phases are clipped to the run and sorted after the top-level phase they start in", () => {
  const early = ["[    0.000000] Unpacking initramfs...", "[    0.700000] Freeing initrd memory: 8K", "[    0.800000] Run /init as init process"];
  const phases = bootPhases(marks, early);
  const unpack = phases.find((p) => p.depth === 1)!;
  assert.equal(unpack.startMs, 0);
  near(unpack.endMs, 445);
  assert.deepEqual(names(phases).slice(0, 2), ["QEMU start + firmware", "initramfs unpack"]);
  assertTiles(phases, 690);
});

test("an unpack without its end is left out", () => {
  const lines = ["[    0.392553] Unpacking initramfs...", "[    0.530000] Run /init as init process"];
  assert.deepEqual(bootPhases(marks, lines).filter((p) => p.depth === 1), []);
});
