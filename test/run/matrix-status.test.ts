import { test } from "node:test";
import assert from "node:assert/strict";
import { cellLine, MatrixStatus, summaryLine } from "../../lib/run/matrix-status.ts";
import { matrixCells } from "../../lib/run/cells.ts";
import { type CellResult, summarize, type TestReport } from "../../lib/run/test-report.ts";

// deno-lint-ignore no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
const cells = matrixCells({ kernels: ["6.1", "6.12"], featureSets: ["default"], repeat: 1 });

function result(i: number, status: CellResult["status"], extra: Partial<CellResult> = {}): CellResult {
  const c = cells[i];
  return { id: c.id, index: c.index, kernel: { spec: c.kernel }, features: c.features, repeat: c.repeat, status, exitCode: status === "passed" ? 0 : 1, durationMs: 1234, stdoutTail: "", stderrTail: "", ...extra };
}

test("off a terminal, each finished cell is one plain line and nothing is redrawn", () => {
  let out = "";
  const s = new MatrixStatus(cells, { write: (t) => void (out += t), live: false });
  s.started(cells[0]);
  s.output(cells[0], new TextEncoder().encode("booting\nhello\n"));
  s.finished(result(0, "passed"));
  s.finished(result(1, "failed", { reason: "exit status 1" }));
  s.close();
  assert.equal(plain(out), "PASS  6.1/default#1     1.2s\nFAIL  6.12/default#1    1.2s  exit status 1\n");
  assert.ok(!out.includes("A\x1b[J"), "nothing erased");
});

test("on a terminal, the running cells are a table under the finished lines: state, time, last line", () => {
  let out = "";
  let t = 0;
  const s = new MatrixStatus(cells, { write: (x) => void (out += x), live: true, columns: 80, color: true, now: () => t });
  s.started(cells[0]);
  s.started(cells[1]);
  t = 2500;
  s.output(cells[1], new TextEncoder().encode("step 1\nstep \x1b[31m2\x1b[0m\n\n"));
  s.finished(result(0, "passed"));
  s.close();
  const text = plain(out);
  assert.match(text, /PASS {2}6\.1\/default#1 {5}1\.2s\n/);
  assert.match(text, /RUN {3}6\.12\/default#1 {4}2\.5s {2}step 2\n/);
  assert.match(text, /1\/2 done, 1 running/);
  // The table is erased before the next line and at the end.
  assert.ok(out.endsWith("\x1b[2A\x1b[J"), JSON.stringify(out.slice(-20)));
});

test("the summary counts the cells and names the failed ones", () => {
  const done = [result(0, "passed", { subtests: [{ name: "a", ok: true, diagnostics: "" }] }), result(1, "timeout", { reason: "timed out" })];
  const report: TestReport = { format: 1, command: ["true"], total: 2, startedAt: "", durationMs: 3000, cells: done, summary: summarize(done) };
  assert.equal(plain(summaryLine(report)), "2 cells: 1 passed, 1 failed in 3.0s\nfailed: 6.12/default#1\n");
  assert.equal(plain(cellLine(done[0])), "PASS  6.1/default#1    1.2s  1 subtests");
  assert.equal(plain(cellLine(done[1])), "TIME  6.12/default#1    1.2s  timed out");
});
