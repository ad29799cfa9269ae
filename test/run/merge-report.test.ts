import { test } from "node:test";
import assert from "node:assert/strict";
import { mergeReports, missingCells, parseReport } from "../../lib/run/merge-report.ts";
import type { TestReport } from "../../lib/run/test-report.ts";
import { ReportError } from "../../lib/util/errors.ts";
import { cell, report } from "../fixtures/test-report.ts";

/** Shard K of 2 of a 5-cell matrix (round-robin: shard 1 has cells 0, 2, 4). */
const shard = (k: 1 | 2, over: Partial<TestReport> = {}): TestReport => {
  const indices = k === 1 ? [0, 2, 4] : [1, 3];
  const cells = indices.map((i) => cell(i, i === 3 ? { status: "failed", exitCode: 1, reason: "exit status 1" } : {}));
  return report(cells, { total: 5, shards: [{ index: k, count: 2 }], ...over });
};

/** The ReportError `fn` throws, for asserting on its parts. */
const reportError = (fn: () => unknown): ReportError => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ReportError, `threw ${e}`);
    return e;
  }
  assert.fail("did not throw");
};

test("merge: shards' cells join in matrix order, with shards listed, the earliest start, the longest wall time and a fresh summary", () => {
  const merged = mergeReports([
    shard(2, { startedAt: "2025-03-01T10:00:05.000Z", durationMs: 9000 }),
    shard(1, { startedAt: "2025-03-01T09:59:58.000Z", durationMs: 7000 }),
  ]);
  assert.deepEqual(merged.cells.map((c) => c.index), [0, 1, 2, 3, 4]);
  assert.deepEqual(merged.shards, [{ index: 1, count: 2 }, { index: 2, count: 2 }]);
  assert.equal(merged.startedAt, "2025-03-01T09:59:58.000Z");
  assert.equal(merged.durationMs, 9000);
  assert.deepEqual(merged.summary, { passed: 4, failed: 1, skipped: 0 });
  assert.deepEqual([merged.format, merged.total, merged.command], [1, 5, ["/bin/check", "--all"]]);
  assert.deepEqual(missingCells(merged), []);
});

test("merge: cells no shard ran are not an error, missingCells lists them", () => {
  const merged = mergeReports([shard(1)]);
  assert.deepEqual(merged.cells.map((c) => c.index), [0, 2, 4]);
  assert.deepEqual(missingCells(merged), [1, 3]);
  assert.deepEqual(missingCells(report([], { total: 3 })), [0, 1, 2]);
});

test("merge: a merged report merges again, and reports without shards give none", () => {
  const again = mergeReports([mergeReports([shard(1)]), shard(2)]);
  assert.deepEqual(again.cells.map((c) => c.index), [0, 1, 2, 3, 4]);
  assert.equal(mergeReports([report([cell(0)])]).shards, undefined);
});

test("merge: a cell in two shards is an error naming it and both files", () => {
  const e = reportError(() => mergeReports([shard(1), shard(1)], { sources: ["a.json", "b.json"] }));
  assert.equal(e.summary, "Cell 6.1/default#1 is in both a.json and b.json: the shards overlap");
  assert.match(e.hint, /--shard N/);
  const other = reportError(() => mergeReports([shard(1), report([cell(0, { id: "6.6/default#1" })], { total: 5 })]));
  assert.equal(other.summary, "Cell index 0 is 6.1/default#1 in report 1 but 6.6/default#1 in report 2: the reports are of different matrices");
});

test("merge: reports of different commands or matrix sizes are an error saying which differs", () => {
  const cmd = reportError(() => mergeReports([shard(1), shard(2, { command: ["/bin/check", "--quick"] })], { sources: ["s1.json", "s2.json"] }));
  assert.equal(cmd.summary, "The reports ran different commands: s1.json ran `/bin/check --all`, s2.json ran `/bin/check --quick`");
  assert.equal(cmd.exitCode, 2);
  const total = reportError(() => mergeReports([shard(1), shard(2, { total: 6 })]));
  assert.equal(total.summary, "The reports are of different matrices: report 1 has 5 cells in all, report 2 has 6");
  assert.equal(reportError(() => mergeReports([])).summary, "There are no reports to merge");
});

test("parseReport reads what --json wrote, and counts the summary again", () => {
  const r = shard(2);
  const parsed = parseReport(JSON.stringify({ ...r, summary: { passed: 99, failed: 0, skipped: 0 } }), "shard-2.json");
  assert.deepEqual(parsed, r);
});

test("parseReport names the file and what is wrong with it", () => {
  const good = shard(1) as unknown as Record<string, unknown>;
  const cases: [string, string | RegExp][] = [
    ["not json", /^Report r\.json is not JSON: /],
    ["[1, 2]", "Report r.json is not a microforge test report: it holds an array, not an object"],
    ["null", "Report r.json is not a microforge test report: it holds null, not an object"],
    [JSON.stringify({ ...good, format: undefined }), "Report r.json is not a microforge test report: it has no format field"],
    [JSON.stringify({ ...good, format: 2 }), "Report r.json has format 2, and this microforge reads format 1"],
    [JSON.stringify({ ...good, command: "check" }), "Report r.json has no command (an array of strings)"],
    [JSON.stringify({ ...good, total: -1 }), "Report r.json has total -1, not a count of cells"],
    [JSON.stringify({ ...good, cells: {} }), "Report r.json has cells that are an object, not an array"],
    [JSON.stringify({ ...good, startedAt: "yesterday" }), `Report r.json has startedAt "yesterday", not an ISO time`],
    [JSON.stringify({ ...good, durationMs: "5s" }), `Report r.json has durationMs "5s", not a time in ms`],
    [JSON.stringify({ ...good, shards: [{ index: 1 }] }), "Report r.json has shards that are not a list of {index, count}"],
    [JSON.stringify({ ...good, cells: [{ index: 0 }] }), "Report r.json has cell 0 without an id"],
    [JSON.stringify({ ...good, cells: [cell(5)] }), "Report r.json has cell 6.1/default#6 at index 5, outside the matrix of 5 cells"],
    [JSON.stringify({ ...good, cells: [cell(0, { status: "ok" as never })] }), `Report r.json has cell 6.1/default#1 with status "ok", not one of passed, failed, timeout, panic, error, skipped`],
    [JSON.stringify({ ...good, cells: [cell(0), cell(0)] }), "Report r.json lists cell index 0 twice"],
  ];
  for (const [text, message] of cases) {
    const e = reportError(() => parseReport(text, "r.json"));
    if (typeof message === "string") assert.equal(e.summary, message);
    else assert.match(e.summary, message);
    assert.equal(e.exitCode, 2);
    assert.ok(e.hint, `no hint for ${e.summary}`);
  }
  assert.match(reportError(() => parseReport(JSON.stringify({ ...good, format: 2 }), "r.json")).hint, /upgrade/);
  assert.equal(reportError(() => parseReport("{", "r.json")).hint, "give the files `microforge test --json` wrote");
});
