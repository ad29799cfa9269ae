/**
 * A `microforge test` report as TAP version 14: a test point per cell, its
 * subtests as a nested block before it, a YAML block with what a failure
 * needs. {@linkcode parseTap} reads it back.
 *
 * YAML values are JSON strings and numbers (JSON is YAML 1.2), so output
 * tails stay on one line and no line of theirs can end the block.
 */
import type { CellResult, SubtestResult, TestReport } from "./test-report.ts";

/**
 * The TAP 14 text of `report`: plan `1..N` over its cells in matrix order,
 * `ok N - <cell id>` (`# SKIP` for a cell not run) or `not ok N - <cell id>`,
 * then a YAML block (status, exitCode, durationMs; for a cell that did not
 * pass its reason, bundle and output tails). A cell's subtests come first as
 * a 4-space indented `# Subtest: <cell id>` block with their diagnostics as
 * `# ` lines; a TODO subtest is written `not ok ... # TODO`, which counts as
 * passing (a SubtestResult does not keep whether it failed).
 */
export function toTap(report: TestReport): string {
  const cells = [...report.cells].sort((a, b) => a.index - b.index);
  const lines = ["TAP version 14", `1..${cells.length}`];
  cells.forEach((cell, i) => {
    if (cell.status !== "skipped" && cell.subtests?.length) {
      lines.push(`    # Subtest: ${oneLine(cell.id)}`, `    1..${cell.subtests.length}`);
      cell.subtests.forEach((s, j) => lines.push(...subtestLines(s, j + 1).map((l) => `    ${l}`)));
    }
    lines.push(...cellLines(cell, i + 1));
  });
  return `${lines.join("\n")}\n`;
}

function cellLines(cell: CellResult, n: number): string[] {
  if (cell.status === "skipped") return [`ok ${n} - ${description(cell.id)} # SKIP ${oneLine(cell.reason ?? "not run")}`];
  const passed = cell.status === "passed";
  const fields: [string, string | number | undefined][] = [
    ["status", cell.status],
    ["exitCode", cell.exitCode],
    ["durationMs", cell.durationMs],
    ...(passed ? [] : [
      ["reason", cell.reason],
      ["bundle", cell.bundle],
      ["stdout", cell.stdoutTail || undefined],
      ["stderr", cell.stderrTail || undefined],
      ["console", cell.consoleTail || undefined],
    ] as [string, string | undefined][]),
  ];
  return [
    `${passed ? "ok" : "not ok"} ${n} - ${description(cell.id)}`,
    "  ---",
    ...fields.filter(([, v]) => v !== undefined).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
    "  ...",
  ];
}

function subtestLines(s: SubtestResult, n: number): string[] {
  const diagnostics = s.diagnostics ? s.diagnostics.split("\n").map((l) => (l ? `# ${l}` : "#")) : [];
  const d = s.directive;
  const point = d?.kind === "skip"
    ? `ok ${n} - ${description(s.name)} # SKIP${d.reason ? ` ${oneLine(d.reason)}` : ""}`
    : d?.kind === "todo"
    ? `not ok ${n} - ${description(s.name)} # TODO${d.reason ? ` ${oneLine(d.reason)}` : ""}`
    : `${s.ok ? "ok" : "not ok"} ${n} - ${description(s.name)}`;
  return [...diagnostics, point];
}

const oneLine = (s: string): string => s.replace(/\s*[\r\n]+\s*/g, " ");

/** A test point's description: one line, `\` and `#` escaped as TAP 14 says (a cell id has a `#`). */
const description = (s: string): string => oneLine(s).replace(/[\\#]/g, (c) => `\\${c}`);
