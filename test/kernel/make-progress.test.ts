import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDuration, makeProgress, type MakeProgressOptions } from "../../lib/kernel/make-progress.ts";

/** The label kernel builds use. */
const LABEL = "building linux 6.1.192 (2 jobs)";

/** `n` kbuild compile step lines, as make prints them. */
function stepLines(n: number): string {
  return Array.from({ length: n }, (_, i) => `  CC      kernel/f${i}.o\n`).join("");
}

/** What a terminal shows for `text`: `\r` + erase-line clears the current row, `\n` starts a new one. */
function screen(text: string): string[] {
  const rows = text.split("\n").map((row) => row.split("\r\x1b[2K").at(-1) ?? "");
  if (rows.at(-1) === "") rows.pop();
  return rows;
}

/** A progress display on a fake clock, writing to a string, with the tty redraw timer under the test's control. */
function harness(options: Partial<MakeProgressOptions> = {}) {
  let clock = 1_700_000_000_000;
  let out = "";
  let redraw: (() => void) | undefined;
  let timerRunning = false;
  const progress = makeProgress({
    label: LABEL,
    now: () => clock,
    write: (t) => void (out += t),
    repeat: (fn) => {
      redraw = fn;
      timerRunning = true;
      return () => void (timerRunning = false);
    },
    tty: false,
    columns: 120,
    ...options,
  });
  return {
    progress,
    /** Let `ms` pass, feed `steps` step lines, then let the timer redraw. */
    after(ms: number, steps = 0) {
      clock += ms;
      if (steps) progress.feed(stepLines(steps));
      if (timerRunning) redraw?.();
    },
    get out() {
      return out;
    },
    get rows() {
      return screen(out);
    },
    get timerRunning() {
      return timerRunning;
    },
  };
}

test("on a terminal an estimated build is one redrawn line with a bar, about N% and about the time left", () => {
  const h = harness({ tty: true, expected: { compiled: 1000, exact: false } });
  h.after(30_000, 150);
  h.after(30_000, 150);
  assert.equal(h.rows.length, 1, h.out);
  assert.ok(!h.out.includes("\n"), "no new line while make runs");
  assert.equal(h.rows[0], `• ${LABEL} [#########.....................] about 30%  1m00s, about 2m20s left`);
  h.after(60_000, 400);
  assert.equal(h.rows.length, 1);
  assert.match(h.rows[0], /\[#{21}\.{9}\] about 70% {2}2m00s, about 51s left$/);
});

test("with the count of an earlier build of the same config, the percentage and time left are not 'about'", () => {
  const h = harness({ tty: true, expected: { compiled: 1000, exact: true } });
  h.after(60_000, 300);
  assert.match(h.rows[0], / 30% {2}1m00s, 2m20s left$/);
  assert.ok(!h.rows[0].includes("about"), h.rows[0]);
  h.progress.done();
  assert.deepEqual(h.rows, [`• ${LABEL}: 100%, 300 files compiled, 300 steps in 1m00s`]);
  assert.equal(h.timerRunning, false, "the redraw stops");
});

test("a low estimate stops at 99% until make finishes, and only then says 100%", () => {
  const h = harness({ tty: true, expected: { compiled: 1000, exact: false } });
  h.after(60_000, 990);
  assert.match(h.rows[0], / about 99% {2}1m00s, finishing$/);
  h.after(30_000, 500);
  assert.match(h.rows[0], /\[#{29}\.\] about 99% {2}1m30s, finishing$/);
  assert.ok(!h.out.includes("100%"));
  h.progress.done();
  assert.deepEqual(h.rows, [`• ${LABEL}: 100%, 1490 files compiled, 1490 steps in 1m30s`]);
  const plain = harness({ tty: false, every: 1000, expected: { compiled: 1000, exact: false } });
  plain.after(90_000, 1490);
  assert.equal(plain.out.split("\n")[1], `• ${LABEL}: about 99% (1490 files compiled, ~1000 expected), 1m30s, finishing`);
});

test("only compile steps move the percentage; archive and other steps count as steps", () => {
  const h = harness({ tty: false, every: 1000, expected: { compiled: 10, exact: true } });
  h.after(20_000);
  h.progress.feed("  CC      init/main.o\n  AS      arch/x86/entry/entry_64.o\n  HOSTCC  scripts/kallsyms\n  AR      init/built-in.a\n  AR      lib/built-in.a\n  LD      vmlinux.o\n  CC [M]  fs/x.o\n");
  assert.equal(h.out.split("\n")[1], `• ${LABEL}: 40% (4 of 10 files compiled), 20s, 30s left`);
  assert.deepEqual([h.progress.compiled, h.progress.steps], [4, 7]);
});

test("not on a terminal: a start line, then plain lines every 30 s with the percentage and time left", () => {
  const h = harness({ tty: false, expected: { compiled: 2000, exact: false, from: "a typical build of 6.1.192" } });
  h.after(10_000, 100);
  h.after(20_000, 100);
  h.after(10_000, 100);
  h.after(20_000, 300);
  h.progress.done();
  assert.ok(!h.out.includes("\r") && !h.out.includes("\x1b"), JSON.stringify(h.out));
  assert.deepEqual(h.out.split("\n"), [
    `• ${LABEL}: started (about 2000 files to compile, going by a typical build of 6.1.192)`,
    `• ${LABEL}: about 10% (200 of ~2000 files compiled), 30s, about 4m30s left`,
    `• ${LABEL}: about 30% (600 of ~2000 files compiled), 1m00s, about 2m20s left`,
    `• ${LABEL}: 100%, 600 files compiled, 600 steps in 1m00s`,
    "",
  ]);
});

test("plain lines with an exact count say 'of N files compiled' without 'about' or '~'", () => {
  const h = harness({ tty: false, every: 1000, expected: { compiled: 400, exact: true } });
  h.after(20_000, 100);
  assert.equal(h.out.split("\n")[1], `• ${LABEL}: 25% (100 of 400 files compiled), 20s, 1m00s left`);
});

test("--quiet shows nothing, on a terminal or not", () => {
  for (const tty of [true, false]) {
    const h = harness({ tty, quiet: true, expected: { compiled: 100, exact: false } });
    h.after(60_000, 50);
    h.progress.done();
    assert.equal(h.out, "");
    assert.equal(h.timerRunning, false);
    assert.equal(h.progress.steps, 50);
  }
});

test("a failed make says where it stopped, not 100%", () => {
  const h = harness({ tty: true, expected: { compiled: 1000, exact: false } });
  h.after(60_000, 300);
  h.progress.done(false);
  assert.deepEqual(h.rows, [`• ${LABEL}: stopped at about 30% (300 of ~1000 files compiled) after 1m00s`]);
});

test("without an expected count (an incremental make) it shows steps and time, no percentage", () => {
  const h = harness({ tty: true });
  h.after(45_000, 12);
  assert.deepEqual(h.rows, [`• ${LABEL}: 12 steps, 45s`]);
  h.progress.done();
  assert.deepEqual(h.rows, [`• ${LABEL}: 12 steps in 45s`]);
});

test("the time left appears only once there is enough to go on", () => {
  const h = harness({ tty: true, expected: { compiled: 1000, exact: false } });
  h.after(5_000, 100);
  assert.match(h.rows[0], / about 10% {2}5s$/, "too early after 5 s");
  const slow = harness({ tty: true, expected: { compiled: 1000, exact: false } });
  slow.after(20_000, 20);
  assert.match(slow.rows[0], / about 2% {2}20s$/, "too little done at 2%");
});

test("on an 80-column terminal the line keeps a bar and the time left, and its layout does not jump", () => {
  const h = harness({ tty: true, columns: 80, expected: { compiled: 1000, exact: false } });
  h.after(5_000, 20);
  assert.equal(h.rows[0], `• ${LABEL} [..............] about 2%, 5s`);
  h.after(55_000, 280);
  assert.equal(h.rows[0], `• ${LABEL} [####..........] about 30%, about 2m20s left`);
  const drawn = h.out.split("\r\x1b[2K");
  assert.ok(drawn.length > 2 && drawn.every((l) => l.length < 80), "every redraw fits in 79 columns");
});

test("on a narrow terminal the line fits: no bar, the label shortened at a word, the percentage kept", () => {
  const h = harness({ tty: true, columns: 50, expected: { compiled: 1000, exact: false } });
  h.after(60_000, 300);
  assert.deepEqual(h.rows, ["• building linux…: about 30%, about 2m20s left"], "cut at a word, not inside the version");
  const wide = harness({ tty: true, columns: 200, expected: { compiled: 1000, exact: false } });
  wide.after(60_000, 300);
  assert.match(wide.rows[0], /\[#{9}\.{21}\] about 30% {2}1m00s, about 2m20s left$/, "the bar is at most 30 cells");
});

test("step lines split across chunks count once; other make output does not count", () => {
  const h = harness();
  for (const chunk of ["  CC      init/ma", "in.o\n  LD      vmlinux\nmake[1]: Entering directory '/x'\n", "init/main.c:1: warning: unused\n  AR   "]) h.progress.feed(chunk);
  assert.equal(h.progress.steps, 2);
  h.progress.feed("   lib/lib.a\n");
  assert.equal(h.progress.steps, 3);
});

test("durations read as seconds, minutes and hours", () => {
  assert.deepEqual([0, 44_600, 185_000, 3_720_000].map(formatDuration), ["0s", "45s", "3m05s", "1h02m"]);
});
