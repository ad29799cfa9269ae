/**
 * A `microforge test` report as JUnit XML, the dialect GitHub actions
 * (dorny/test-reporter, mikepenz/action-junit-report), GitLab
 * (`artifacts:reports:junit`) and Jenkins read: Ant's junit schema (the
 * windyroad JUnit.xsd, Jenkins' junit-4.xsd), one `<testsuite>` per kernel.
 *
 * A cell that failed is a `<failure>`; one that timed out, panicked or could
 * not run is an `<error>`, the schema's "unanticipated problem" (GitLab shows
 * it as an error, Jenkins, dorny and mikepenz count both as failed). A cell
 * with KTAP/TAP subtests is a testcase per subtest; the cell itself is one
 * more when its status says something the subtests do not (an error, or a
 * failure while every subtest passed). SKIP and TODO subtests are `<skipped>`.
 */
import { shellJoin } from "../util/shell-quote.ts";
import type { CellResult, SubtestResult, TestReport } from "./test-report.ts";

/** One `<testcase>`. */
interface Case {
  name: string;
  classname: string;
  seconds: number;
  outcome?: { tag: "failure" | "error" | "skipped"; message: string; type?: string; body?: string };
  out?: string;
  err?: string;
}

/** One `<testsuite>`: the cells of one kernel. */
interface Suite {
  name: string;
  cells: CellResult[];
  cases: Case[];
}

/**
 * Characters XML 1.0 cannot hold (C0 controls but tab, LF and CR; lone
 * surrogates; U+FFFE/U+FFFF), after dropping ANSI escape sequences whole.
 */
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]/g;
// deno-lint-ignore no-control-regex
const INVALID = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `s` as XML character data: only characters XML allows, `&`, `<` and `>` escaped (so `]]>` cannot appear). */
function xmlText(s: string): string {
  return s.replace(ANSI, "").replace(INVALID, "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** `s` as a double-quoted XML attribute value; tab, newline and CR as references, which attribute normalization keeps. */
function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, "&quot;").replace(/\t/g, "&#9;").replace(/\n/g, "&#10;").replace(/\r/g, "&#13;");
}

/** The JUnit XML of `report`: a `<testsuite>` per kernel, cells in matrix order. */
export function toJunit(report: TestReport): string {
  const suites = groupByKernel([...report.cells].sort((a, b) => a.index - b.index));
  const all = suites.flatMap((s) => s.cases);
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites${attrs({ name: "microforge test", ...counts(all), time: secs(report.durationMs / 1000), timestamp: report.startedAt })}>`,
    ...suites.map((s) => renderSuite(s, report)),
    `</testsuites>`,
    "",
  ].join("\n");
}

/** Cells by kernel spec and version, in order of first appearance; named `kernel <version>` (or the spec while unresolved), the spec added when two would share a name. */
function groupByKernel(cells: readonly CellResult[]): Suite[] {
  const groups = new Map<string, CellResult[]>();
  for (const c of cells) {
    const key = JSON.stringify([c.arch, c.kernel.spec, c.kernel.version]);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const base = (c: CellResult): string => `kernel ${c.kernel.version ?? c.kernel.spec}${c.arch ? ` ${c.arch}` : ""}`;
  const names = [...groups.values()].map((g) => base(g[0]));
  return [...groups.values()].map((cells, i) => {
    const name = names.indexOf(names[i]) === names.lastIndexOf(names[i]) ? names[i] : `${names[i]} (${cells[0].kernel.spec})`;
    return { name, cells, cases: cells.flatMap((c) => casesOf(c, name)) };
  });
}

function renderSuite(suite: Suite, report: TestReport): string {
  const k = suite.cells[0].kernel;
  const props = { "kernel.spec": k.spec, "kernel.version": k.version, "kernel.release": k.release, "kernel.configHash": k.configHash, "kernel.tree": k.tree, command: shellJoin(report.command) };
  const seconds = suite.cells.reduce((t, c) => t + c.durationMs, 0) / 1000;
  return [
    `  <testsuite${attrs({ name: suite.name, ...counts(suite.cases), time: secs(seconds), timestamp: report.startedAt })}>`,
    `    <properties>`,
    ...Object.entries(props).filter(([, v]) => v !== undefined).map(([name, value]) => `      <property${attrs({ name, value })}/>`),
    `    </properties>`,
    ...suite.cases.map(renderCase),
    `  </testsuite>`,
  ].join("\n");
}

function renderCase(c: Case): string {
  const head = `    <testcase${attrs({ name: c.name, classname: c.classname, time: secs(c.seconds) })}`;
  const o = c.outcome;
  const inner = [
    o && (o.body ? `      <${o.tag}${attrs({ message: o.message, type: o.type })}>${xmlText(o.body)}</${o.tag}>` : `      <${o.tag}${attrs({ message: o.message, type: o.type })}/>`),
    c.out && `      <system-out>${xmlText(c.out)}</system-out>`,
    c.err && `      <system-err>${xmlText(c.err)}</system-err>`,
  ].filter((x) => x);
  return inner.length ? [`${head}>`, ...inner, `    </testcase>`].join("\n") : `${head}/>`;
}

/** The testcases of one cell: the cell, or its subtests (and the cell when its status adds something). */
function casesOf(cell: CellResult, suite: string): Case[] {
  const subtests = cell.status === "skipped" ? [] : cell.subtests ?? [];
  if (!subtests.length) return [cellCase(cell, suite)];
  const cases = subtests.map((s) => subtestCase(s, cell));
  const failed = subtests.some((s) => !s.ok);
  const adds = cell.status === "timeout" || cell.status === "panic" || cell.status === "error" || (cell.status === "failed" && !failed);
  return adds ? [...cases, cellCase(cell, suite)] : cases;
}

function cellCase(cell: CellResult, suite: string): Case {
  const base = { name: cell.id, classname: `microforge.${suite}`, seconds: cell.durationMs / 1000, out: cell.stdoutTail, err: cell.stderrTail };
  const message = cell.reason ?? (cell.status === "failed" ? `exit status ${cell.exitCode}` : cell.status);
  switch (cell.status) {
    case "passed":
      return base;
    case "skipped":
      return { ...base, outcome: { tag: "skipped", message: cell.reason ?? "not run" } };
    case "failed":
      return { ...base, outcome: { tag: "failure", message, type: "failed", body: details(cell) } };
    default:
      return { ...base, outcome: { tag: "error", message, type: cell.status, body: details(cell) } };
  }
}

function subtestCase(s: SubtestResult, cell: CellResult): Case {
  const base = { name: s.name, classname: cell.id, seconds: 0, out: s.diagnostics || undefined };
  // A failure's body holds the diagnostics already: Jenkins would show them twice.
  if (!s.ok && !s.directive) {
    const message = s.diagnostics.split("\n").find((l) => l.trim())?.trim() ?? "not ok";
    return { ...base, out: undefined, outcome: { tag: "failure", message, type: "not ok", body: details(cell, s.diagnostics) } };
  }
  if (s.directive) {
    const message = s.directive.kind === "skip" ? s.directive.reason || "SKIP" : `TODO${s.directive.reason ? ` ${s.directive.reason}` : ""}`;
    return { ...base, outcome: { tag: "skipped", message } };
  }
  return base;
}

/** A failure's text: the subtest's diagnostics, then the cell's reason, exit status, output tails, console and bundle. */
function details(cell: CellResult, diagnostics?: string): string {
  const section = (title: string, text: string | undefined) => (text?.trim() ? [`--- ${title} ---\n${text.replace(/\s+$/, "")}`] : []);
  return [
    ...(diagnostics?.trim() ? [diagnostics.replace(/\s+$/, "")] : []),
    `${cell.id} ${cell.status}: ${cell.reason?.includes("exit status") ? cell.reason : [cell.reason, `exit status ${cell.exitCode}`].filter((x) => x).join(", ")}`,
    ...section("last lines of stdout", cell.stdoutTail),
    ...section("last lines of stderr", cell.stderrTail),
    ...section("last lines of the kernel console", cell.consoleTail),
    ...section("decoded stack trace", cell.decodedPanic),
    ...(cell.bundle ? [`repro bundle: ${cell.bundle}`] : []),
  ].join("\n");
}

function counts(cases: readonly Case[]): Record<string, number> {
  const n = (tag: string) => cases.filter((c) => c.outcome?.tag === tag).length;
  return { tests: cases.length, failures: n("failure"), errors: n("error"), skipped: n("skipped") };
}

const secs = (s: number): string => s.toFixed(3);

function attrs(values: Record<string, string | number | undefined>): string {
  return Object.entries(values).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`).join("");
}
