import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseTap } from "../../lib/run/ktap.ts";
import type { SubtestResult } from "../../lib/run/test-report.ts";

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/tap/${name}`, import.meta.url), "utf8");

/** Name → ok, the shape most assertions need. */
const oks = (results: SubtestResult[] | undefined): Record<string, boolean> => {
  assert.ok(results, "the output was not read as TAP");
  return Object.fromEntries(results.map((r) => [r.name, r.ok]));
};
const byName = (results: SubtestResult[] | undefined, name: string): SubtestResult => {
  const r = results?.find((x) => x.name === name);
  assert.ok(r, `no subtest ${name} in ${JSON.stringify(results?.map((x) => x.name))}`);
  return r;
};

test("KUnit suites on the console become suite.case leaves, with the failing case's expectation as diagnostics", () => {
  const results = parseTap(fixture("kunit.log"));
  assert.deepEqual(oks(results), {
    "example.example_simple_test": true,
    "example.example_test": false,
    "example.example_skip_test": true,
    "param.example_params_test.example value 3": true,
    "param.example_params_test.example value 2": true,
  });
  const failed = byName(results, "example.example_test");
  assert.equal(
    failed.diagnostics,
    "example_test: initializing\nexample_test: EXPECTATION FAILED at lib/x.c:12\nExpected 1 + 1 == 3, but\n    1 + 1 == 2 (0x2)\n    3 == 3 (0x3)",
  );
  assert.equal(byName(results, "example.example_simple_test").diagnostics, "example_simple_test: initializing");
  assert.deepEqual(byName(results, "example.example_skip_test").directive, { kind: "skip", reason: "this test should be skipped" });
  assert.deepEqual(byName(results, "param.example_params_test.example value 2").directive, { kind: "skip", reason: "unsupported" });
});

test("kselftest programs are one entry each, their own `# ` output and the result's comment as diagnostics", () => {
  const results = parseTap(fixture("kselftest.log"));
  assert.deepEqual(oks(results), {
    "selftests: net: reuseport_bpf": false,
    "selftests: net: so_txtime": true,
    "selftests: net: tls": false,
  });
  const bpf = byName(results, "selftests: net: reuseport_bpf");
  assert.match(bpf.diagnostics, /^timeout set to 45\nselftests: net: reuseport_bpf\nTAP version 13\n/);
  assert.match(bpf.diagnostics, /not ok 2 reuseport_bpf\.ipv6\n# Totals: pass:1 fail:1/);
  assert.match(bpf.diagnostics, /\nexit=1$/);
  assert.deepEqual(byName(results, "selftests: net: so_txtime").directive, { kind: "skip", reason: "" });
  assert.match(byName(results, "selftests: net: tls").diagnostics, /TIMEOUT 45 seconds$/);
});

test("the KTAP spec's own nested example: three levels, the failure bubbles up without extra entries", () => {
  const ktap = [
    "KTAP version 1",
    "1..1",
    "  KTAP version 1",
    "  1..3",
    "    KTAP version 1",
    "    1..1",
    "    # test_1: initializing test_1",
    "    ok 1 test_1",
    "  ok 1 example_test_1",
    "    KTAP version 1",
    "    1..2",
    "    ok 1 test_1 # SKIP test_1 skipped",
    "    ok 2 test_2",
    "  ok 2 example_test_2",
    "    KTAP version 1",
    "    1..3",
    "    ok 1 test_1",
    "    # test_2: FAIL",
    "    not ok 2 test_2",
    "    ok 3 test_3 # SKIP test_3 skipped",
    "  not ok 3 example_test_3",
    "not ok 1 main_test",
  ].join("\n");
  const results = parseTap(ktap);
  assert.deepEqual(Object.keys(oks(results)), [
    "main_test.example_test_1.test_1",
    "main_test.example_test_2.test_1",
    "main_test.example_test_2.test_2",
    "main_test.example_test_3.test_1",
    "main_test.example_test_3.test_2",
    "main_test.example_test_3.test_3",
  ]);
  assert.equal(byName(results, "main_test.example_test_3.test_2").ok, false);
  assert.equal(byName(results, "main_test.example_test_3.test_2").diagnostics, "test_2: FAIL");
  assert.equal(byName(results, "main_test.example_test_1.test_1").diagnostics, "test_1: initializing test_1");
});

test("a parent that is not ok while all its children passed is an entry of its own", () => {
  const results = parseTap("KTAP version 1\n1..1\n    KTAP version 1\n    1..2\n    ok 1 a\n    ok 2 b\n# suite: leaked a page\nnot ok 1 suite");
  assert.deepEqual(oks(results), { "suite.a": true, "suite.b": true, suite: false });
  assert.equal(byName(results, "suite").diagnostics, "suite: leaked a page");
});

test("TAP 13: a YAML block after a result is its diagnostics; the `- ` separator is not part of the name", () => {
  const tap = [
    "TAP version 13",
    "1..3",
    "ok 1 - Input file opened",
    "not ok 2 - First line of the input valid",
    "  ---",
    "  message: 'First line invalid'",
    "  data:",
    "    got: 'Flirble'",
    "    expect: 'ok 1 - this is not a test point'",
    "  ...",
    "ok 3 - Read the rest of the file",
  ].join("\n");
  const results = parseTap(tap);
  assert.deepEqual(oks(results), { "Input file opened": true, "First line of the input valid": false, "Read the rest of the file": true });
  assert.equal(
    byName(results, "First line of the input valid").diagnostics,
    "message: 'First line invalid'\ndata:\n  got: 'Flirble'\n  expect: 'ok 1 - this is not a test point'",
  );
  assert.equal(byName(results, "Read the rest of the file").diagnostics, "");
});

test("SKIP counts as ok whatever the result says, a failing TODO counts as ok, other comments are diagnostics", () => {
  const tap = [
    "TAP version 14",
    "1..6",
    "ok 1 - mung the gums # SKIP leave gums unmunged for now",
    "not ok 2 - needs root # skipped not root",
    "not ok 3 - infinite loop # TODO halting problem unsolved",
    "ok 4 - works now # todo",
    "not ok 5 - a real failure # TODO: is not a directive",
    "ok 6 - # SKIP no /sys directory",
  ].join("\n");
  const results = parseTap(tap);
  assert.deepEqual(oks(results), { "mung the gums": true, "needs root": true, "infinite loop": true, "works now": true, "a real failure": false, "test 6": true });
  assert.deepEqual(byName(results, "mung the gums").directive, { kind: "skip", reason: "leave gums unmunged for now" });
  assert.deepEqual(byName(results, "needs root").directive, { kind: "skip", reason: "not root" });
  assert.deepEqual(byName(results, "infinite loop").directive, { kind: "todo", reason: "halting problem unsolved" });
  assert.deepEqual(byName(results, "works now").directive, { kind: "todo", reason: "" });
  assert.equal(byName(results, "a real failure").directive, undefined);
  assert.equal(byName(results, "a real failure").diagnostics, "TODO: is not a directive");
});

test("TAP 14 subtests: `# Subtest` comments, a trailing plan, `\\#` escapes and points without numbers", () => {
  const tap = [
    "TAP version 14",
    "# Subtest: outer",
    "    # Subtest: inner \\# 1",
    "    ok - inner \\# 1",
    "      ---",
    "      duration_ms: 0.5",
    "      ...",
    "    not ok - back\\\\slash",
    "    1..2",
    "not ok 1 - outer",
    "ok",
    "1..2",
  ].join("\n");
  const results = parseTap(tap);
  assert.deepEqual(oks(results), { "outer.inner # 1": true, "outer.back\\slash": false, "test 2": true });
  assert.equal(byName(results, "outer.inner # 1").diagnostics, "duration_ms: 0.5");
});

test("a plan that promised more than ran adds a failing entry per missing test, at every level", () => {
  const results = parseTap("TAP version 13\n1..4\nok 1 - a\nok 3 - c");
  assert.deepEqual(oks(results), { a: true, c: true, "missing test 2": false, "missing test 4": false });
  assert.match(byName(results, "missing test 4").diagnostics, /plan 1\.\.4 promised 4 tests, but test 4 gave no result/);
});

test("a suite cut off by a crash fails: its finished cases stay, the rest are missing, no extra parent entry", () => {
  const results = parseTap("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: example\n    1..3\n    ok 1 a\n[    0.5] BUG: kernel NULL pointer dereference, address: 0000000000000000");
  assert.deepEqual(oks(results), { "example.a": true, "example.missing test 2": false, "example.missing test 3": false });
  const complete = parseTap("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: example\n    1..1\n    ok 1 a\n");
  assert.deepEqual(oks(complete), { "example.a": true, example: false });
  assert.equal(byName(complete, "example").diagnostics, "No result line came for this test");
});

test("Bail out! ends the parse with a failing entry carrying its reason, and no missing entries", () => {
  const results = parseTap("TAP version 14\n1..573\nnot ok 1 - database handle\nBail out! Couldn't connect to database.\nok 2 - after the bail out");
  assert.deepEqual(oks(results), { "database handle": false, "bail out": false });
  assert.equal(byName(results, "bail out").diagnostics, "Bail out! Couldn't connect to database.");
});

test("output that is not KTAP or TAP gives undefined, so the exit code decides", () => {
  assert.equal(parseTap(""), undefined);
  assert.equal(parseTap("hello from the guest\nall good\n"), undefined);
  assert.equal(parseTap("ok 1 - looks like a point\nnot ok 2 - but there is no version or plan"), undefined);
  assert.equal(parseTap("    1..3\n    ok 1 - an indented plan is not a top-level one"), undefined);
  assert.deepEqual(parseTap("1..0 # skip because nothing to test"), []);
});

test("dmesg lines interleaved with the TAP, timestamps and CRLFs, do not change the results", () => {
  const output = [
    "[    0.100000] Run /init as init process",
    "[    0.200000] KTAP version 1\r",
    "[    0.200001] 1..2\r",
    "[    0.200002] virtio_net virtio0 eth0: renamed from eth1",
    "[    0.200003] # first: checking\r",
    "[    0.300000][    T1] ok 1 first",
    "[    0.300001] okay, this line only looks like a result",
    "[    0.400000] EXT4-fs (vda): mounted filesystem",
    "[    0.500000] not ok 2 second",
  ].join("\n");
  const results = parseTap(output);
  assert.deepEqual(oks(results), { first: true, second: false });
  assert.equal(byName(results, "first").diagnostics, "first: checking");
});

test("unknown lines that are not indented under a diagnostic do not join it", () => {
  const results = parseTap("KTAP version 1\n1..1\n    KTAP version 1\n    1..1\n    # t: EXPECTATION FAILED\n    Expected x\nunrelated: kernel message\n    not ok 1 t\nnot ok 1 s");
  assert.equal(byName(results, "s.t").diagnostics, "t: EXPECTATION FAILED\nExpected x");
  const flush = parseTap("TAP version 13\n1..1\n# selftests: x: y\nrandom: crng init done\nok 1 selftests: x: y");
  assert.equal(byName(flush, "selftests: x: y").diagnostics, "selftests: x: y");
});
