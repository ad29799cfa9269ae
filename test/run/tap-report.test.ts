import { test } from "node:test";
import assert from "node:assert/strict";
import { parseTap } from "../../lib/run/ktap.ts";
import { toTap } from "../../lib/run/tap-report.ts";
import type { TestReport } from "../../lib/run/test-report.ts";
import { cell, report } from "../fixtures/test-report.ts";

const matrix = (): TestReport =>
  report([
    cell(0, { stdoutTail: "all fine\n" }),
    cell(2, {
      id: "6.6/default#1",
      kernel: { spec: "6.6", version: "6.6.50" },
      status: "failed",
      exitCode: 1,
      reason: "1 of 4 subtests failed",
      subtests: [
        { name: "example.simple", ok: true, diagnostics: "simple: initializing" },
        { name: "example.expect", ok: false, diagnostics: "expect: EXPECTATION FAILED at lib/x.c:12\n\nExpected 1 + 1 == 3" },
        { name: "example.skipme", ok: true, directive: { kind: "skip", reason: "no hardware" }, diagnostics: "" },
        { name: "example.later # soon", ok: true, directive: { kind: "todo", reason: "not written" }, diagnostics: "" },
      ],
    }),
    cell(1, { id: "6.1/net#1", status: "timeout", exitCode: 124, reason: "The VM did not finish within 60 s", stdoutTail: "line 1\n  ...\nok 9 - not a point", consoleTail: "[ 60.0] hung" }),
    cell(3, { id: "6.6/net#1", status: "skipped", reason: "not run (--fail-fast)" }),
    cell(4, { id: "6.6/virtio#1", status: "failed", exitCode: 2, reason: "exit status 2", subtests: [{ name: "a", ok: true, diagnostics: "" }] }),
  ]);

test("tap: a point per cell in matrix order, cell ids escaped, a YAML block with status, exit code and time", () => {
  const tap = toTap(matrix());
  const lines = tap.split("\n");
  assert.deepEqual(lines.slice(0, 2), ["TAP version 14", "1..5"]);
  assert.deepEqual(lines.filter((l) => /^(not )?ok /.test(l)), [
    "ok 1 - 6.1/default\\#1",
    "not ok 2 - 6.1/net\\#1",
    "not ok 3 - 6.6/default\\#1",
    "ok 4 - 6.6/net\\#1 # SKIP not run (--fail-fast)",
    "not ok 5 - 6.6/virtio\\#1",
  ]);
  assert.ok(tap.includes(`ok 1 - 6.1/default\\#1\n  ---\n  status: "passed"\n  exitCode: 0\n  durationMs: 1500\n  ...\n`));
  assert.ok(tap.includes(
    `not ok 2 - 6.1/net\\#1\n  ---\n  status: "timeout"\n  exitCode: 124\n  durationMs: 1500\n  reason: "The VM did not finish within 60 s"\n  stdout: "line 1\\n  ...\\nok 9 - not a point"\n  console: "[ 60.0] hung"\n  ...\n`,
  ));
  assert.ok(tap.endsWith("\n"));
});

test("tap: subtests are a 4-space indented block named for the cell, diagnostics as # lines, before the cell's point", () => {
  const tap = toTap(matrix());
  const block = tap.slice(tap.indexOf("    # Subtest: 6.6/default#1"), tap.indexOf("not ok 3 - "));
  assert.equal(
    block,
    [
      "    # Subtest: 6.6/default#1",
      "    1..4",
      "    # simple: initializing",
      "    ok 1 - example.simple",
      "    # expect: EXPECTATION FAILED at lib/x.c:12",
      "    #",
      "    # Expected 1 + 1 == 3",
      "    not ok 2 - example.expect",
      "    ok 3 - example.skipme # SKIP no hardware",
      "    not ok 4 - example.later \\# soon # TODO not written",
      "",
    ].join("\n"),
  );
});

test("tap: parseTap reads toTap back: cells, their subtests as cellid.sub, ok values, directives and diagnostics", () => {
  const results = parseTap(toTap(matrix()));
  assert.ok(results);
  assert.deepEqual(results.map((r) => [r.name, r.ok]), [
    ["6.1/default#1", true],
    ["6.1/net#1", false],
    ["6.6/default#1.example.simple", true],
    ["6.6/default#1.example.expect", false],
    ["6.6/default#1.example.skipme", true],
    ["6.6/default#1.example.later # soon", true],
    ["6.6/net#1", true],
    ["6.6/virtio#1.a", true],
    ["6.6/virtio#1", false],
  ]);
  const byName = Object.fromEntries(results.map((r) => [r.name, r]));
  assert.equal(byName["6.6/default#1.example.expect"].diagnostics, "expect: EXPECTATION FAILED at lib/x.c:12\n\nExpected 1 + 1 == 3");
  assert.deepEqual(byName["6.6/default#1.example.skipme"].directive, { kind: "skip", reason: "no hardware" });
  assert.deepEqual(byName["6.6/default#1.example.later # soon"].directive, { kind: "todo", reason: "not written" });
  assert.deepEqual(byName["6.6/net#1"].directive, { kind: "skip", reason: "not run (--fail-fast)" });
  assert.match(byName["6.1/net#1"].diagnostics, /^status: "timeout"\nexitCode: 124\n/);
});

test("tap: an empty report is a plan of 1..0, which reads back as no tests", () => {
  const tap = toTap(report([]));
  assert.equal(tap, "TAP version 14\n1..0\n");
  assert.deepEqual(parseTap(tap), []);
});
