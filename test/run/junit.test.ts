import { test } from "node:test";
import assert from "node:assert/strict";
import { toJunit } from "../../lib/run/junit.ts";
import type { TestReport } from "../../lib/run/test-report.ts";
import { cell, report } from "../fixtures/test-report.ts";
import { assertWellFormed, junitCounts, parseXml, type XmlElement, xmlElements } from "../xml.ts";

const k66 = { spec: "6.6", version: "6.6.50" };
const NASTY = "x < y && z > w ]]> \x00bell\x07 \x1b[31mred\x1b[0m \uD800lone \uFFFF end";

/** Two kernels: 6.1 with a pass and a failure, 6.6 with KTAP subtests (one failing), a skipped cell and a panic. */
const matrix = (): TestReport =>
  report([
    cell(0, { stdoutTail: NASTY }),
    cell(1, { id: "6.1/net#1", features: "net", status: "failed", exitCode: 1, reason: 'exit status 1: "quoted" <x>\nsecond line', stderrTail: "oops & <bad>", consoleTail: "[ 1.0] eth0: link up", bundle: ".microforge/bundles/6.1-net-1" }),
    cell(2, {
      id: "6.6/default#1",
      kernel: k66,
      status: "failed",
      exitCode: 1,
      reason: "1 of 3 subtests failed",
      stdoutTail: "KTAP version 1 ...",
      subtests: [
        { name: "example.simple", ok: true, diagnostics: "simple: initializing" },
        { name: "example.expect", ok: false, diagnostics: "expect: initializing\nexpect: EXPECTATION FAILED at lib/x.c:12\nExpected 1 + 1 == 3" },
        { name: "example.skipme", ok: true, directive: { kind: "skip", reason: "no hardware" }, diagnostics: "" },
      ],
    }),
    cell(3, { id: "6.6/net#1", kernel: k66, features: "net", status: "skipped", exitCode: 0, durationMs: 0, reason: "not run (--fail-fast)" }),
    cell(4, { id: "6.6/virtio#1", kernel: k66, features: "virtio", status: "panic", exitCode: 255, reason: "Kernel panic - not syncing: VFS: Unable to mount root fs", consoleTail: "Kernel panic - not syncing: VFS" }),
  ]);

const counts = (el: XmlElement) => ({ tests: el.attrs.tests, failures: el.attrs.failures, errors: el.attrs.errors, skipped: el.attrs.skipped });
const testcase = (root: XmlElement, name: string): XmlElement => {
  const c = xmlElements(root, "testcase").find((t) => t.attrs.name === name);
  assert.ok(c, `no testcase ${name}`);
  return c;
};
const child = (el: XmlElement, name: string): XmlElement | undefined => el.children.find((c) => c.name === name);

test("junit: one testsuite per kernel, testcases per cell or per subtest, and the counts add up", () => {
  const xml = toJunit(matrix());
  assert.ok(xml.startsWith(`<?xml version="1.0" encoding="UTF-8"?>\n<testsuites `));
  assert.equal(assertWellFormed(xml), "testsuites");
  const root = parseXml(xml);
  assert.deepEqual({ name: root.attrs.name, ...counts(root), time: root.attrs.time }, { name: "microforge test", tests: "7", failures: "2", errors: "1", skipped: "2", time: "4.200" });
  const suites = xmlElements(root, "testsuite");
  assert.deepEqual(suites.map((s) => [s.attrs.name, counts(s)]), [
    ["kernel 6.1.192", { tests: "2", failures: "1", errors: "0", skipped: "0" }],
    ["kernel 6.6.50", { tests: "5", failures: "1", errors: "1", skipped: "2" }],
  ]);
  assert.deepEqual(junitCounts(xml), { suites: 2, testcases: 7, failures: 2, errors: 1, skipped: 2 });
  assert.equal(suites[0].attrs.time, "3.000");
  assert.equal(suites[0].attrs.timestamp, "2025-03-01T10:00:00.000Z");
  assert.deepEqual(xmlElements(suites[1], "testcase").map((t) => [t.attrs.classname, t.attrs.name]), [
    ["6.6/default#1", "example.simple"],
    ["6.6/default#1", "example.expect"],
    ["6.6/default#1", "example.skipme"],
    ["microforge.kernel 6.6.50", "6.6/net#1"],
    ["microforge.kernel 6.6.50", "6.6/virtio#1"],
  ]);
  const props = Object.fromEntries(xmlElements(suites[1], "property").map((p) => [p.attrs.name, p.attrs.value]));
  assert.deepEqual(props, { "kernel.spec": "6.6", "kernel.version": "6.6.50", command: "/bin/check --all" });
});

test("junit: a failed cell is a failure with its reason, output tails, console and bundle; a panic is an error", () => {
  const root = parseXml(toJunit(matrix()));
  const failed = testcase(root, "6.1/net#1");
  assert.equal(failed.attrs.classname, "microforge.kernel 6.1.192");
  assert.equal(failed.attrs.time, "1.500");
  const failure = child(failed, "failure");
  assert.ok(failure);
  assert.equal(failure.attrs.message, 'exit status 1: "quoted" <x>\nsecond line');
  assert.equal(failure.attrs.type, "failed");
  assert.match(failure.text, /--- last lines of stderr ---\noops & <bad>/);
  assert.match(failure.text, /--- last lines of the kernel console ---\n\[ 1\.0\] eth0: link up/);
  assert.match(failure.text, /repro bundle: \.microforge\/bundles\/6\.1-net-1/);
  assert.equal(child(failed, "system-err")?.text, "oops & <bad>");
  const panic = child(testcase(root, "6.6/virtio#1"), "error");
  assert.ok(panic);
  assert.equal(panic.attrs.type, "panic");
  assert.equal(panic.attrs.message, "Kernel panic - not syncing: VFS: Unable to mount root fs");
  assert.equal(child(testcase(root, "6.1/default#1"), "failure"), undefined);
});

test("junit: a failing subtest's failure message is its first diagnostic line, its body the diagnostics and the cell's output", () => {
  const root = parseXml(toJunit(matrix()));
  const failure = child(testcase(root, "example.expect"), "failure");
  assert.ok(failure);
  assert.equal(failure.attrs.message, "expect: initializing");
  assert.match(failure.text, /^expect: initializing\nexpect: EXPECTATION FAILED at lib\/x\.c:12\nExpected 1 \+ 1 == 3\n6\.6\/default#1 failed: 1 of 3 subtests failed, exit status 1\n--- last lines of stdout ---\nKTAP version 1/);
  assert.equal(child(testcase(root, "example.expect"), "system-out"), undefined, "the failure holds the diagnostics already");
  assert.equal(child(testcase(root, "example.simple"), "system-out")?.text, "simple: initializing");
  assert.equal(child(testcase(root, "example.skipme"), "skipped")?.attrs.message, "no hardware");
  assert.equal(child(testcase(root, "6.6/net#1"), "skipped")?.attrs.message, "not run (--fail-fast)");
});

test("junit: guest output with markup, ]]>, NUL, escape sequences and lone surrogates stays well-formed and readable", () => {
  const xml = toJunit(matrix());
  assertWellFormed(xml);
  assert.doesNotMatch(xml, /]]>/);
  const out = child(testcase(parseXml(xml), "6.1/default#1"), "system-out");
  assert.equal(out?.text, "x < y && z > w ]]> bell red lone  end");
  const attr = toJunit(report([cell(0, { status: "failed", exitCode: 1, reason: `tab\there "q" & \x1b[1mbold\x1b[0m \x00` })]));
  assertWellFormed(attr);
  assert.equal(child(testcase(parseXml(attr), "6.1/default#1"), "failure")?.attrs.message, `tab\there "q" & bold `);
});

test("junit: a cell's status shows as a testcase of its own when its subtests do not say it", () => {
  const subtests = [{ name: "a", ok: true, diagnostics: "" }, { name: "b", ok: true, diagnostics: "" }];
  const root = parseXml(toJunit(report([
    cell(0, { status: "failed", exitCode: 3, subtests }),
    cell(1, { status: "timeout", exitCode: 124, reason: "The VM did not finish within 60 s", subtests: [...subtests, { name: "missing test 3", ok: false, diagnostics: "The plan 1..3 promised 3 tests, but test 3 gave no result" }] }),
    cell(2, { subtests: [{ name: "todo", ok: true, directive: { kind: "todo", reason: "not written yet" }, diagnostics: "" }] }),
  ])));
  assert.deepEqual(xmlElements(root, "testcase").map((t) => [t.attrs.classname, t.attrs.name, t.children.find((c) => c.name !== "system-out")?.name]), [
    ["6.1/default#1", "a", undefined],
    ["6.1/default#1", "b", undefined],
    ["microforge.kernel 6.1.192", "6.1/default#1", "failure"],
    ["6.1/default#2", "a", undefined],
    ["6.1/default#2", "b", undefined],
    ["6.1/default#2", "missing test 3", "failure"],
    ["microforge.kernel 6.1.192", "6.1/default#2", "error"],
    ["6.1/default#3", "todo", "skipped"],
  ]);
  assert.equal(child(testcase(root, "6.1/default#1"), "failure")?.attrs.message, "exit status 3");
  assert.equal(child(testcase(root, "todo"), "skipped")?.attrs.message, "TODO not written yet");
});

test("junit: kernels whose specs resolve alike get the spec in the suite name; an unresolved one is named by its spec", () => {
  const root = parseXml(toJunit(report([
    cell(0),
    cell(1, { id: "longterm/default#1", kernel: { spec: "longterm", version: "6.1.192" } }),
    cell(2, { id: "tree/default#1", kernel: { spec: "tree", tree: "/src/linux" } }),
  ])));
  assert.deepEqual(xmlElements(root, "testsuite").map((s) => s.attrs.name), ["kernel 6.1.192 (6.1)", "kernel 6.1.192 (longterm)", "kernel tree"]);
});

test("junit: an empty report is still a document the readers accept", () => {
  const root = parseXml(toJunit(report([])));
  assert.deepEqual(counts(root), { tests: "0", failures: "0", errors: "0", skipped: "0" });
  assert.deepEqual(root.children, []);
});
