/**
 * `microforge test --merge`: reading the `--json` reports of shards (run on
 * several machines, each with `--shard K/N`) and joining them into the
 * report of the whole matrix.
 */
import { ReportError } from "../util/errors.ts";
import { type CellResult, type CellStatus, summarize, TEST_REPORT_FORMAT, type TestReport } from "./test-report.ts";

const HINT = "give the files `microforge test --json` wrote";
const STATUSES: readonly CellStatus[] = ["passed", "failed", "timeout", "panic", "error", "skipped"];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const kind = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`);

/**
 * The report in `text` (the contents of `source`, which names it in errors).
 * Throws {@linkcode ReportError} when it is not JSON, not a report of this
 * format, or its command, total, cells, times or shards are not what a report
 * holds. The summary is counted again from the cells.
 */
export function parseReport(text: string, source: string): TestReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ReportError(`Report ${source} is not JSON: ${(e as Error).message}`, HINT);
  }
  const bad = (what: string, hint = HINT) => new ReportError(`Report ${source} ${what}`, hint);
  if (!isObject(data)) throw bad(`is not a microforge test report: it holds ${kind(data)}, not an object`);
  if (data.format === undefined) throw bad("is not a microforge test report: it has no format field");
  if (data.format !== TEST_REPORT_FORMAT) {
    const newer = typeof data.format === "number" && data.format > TEST_REPORT_FORMAT;
    throw bad(
      `has format ${JSON.stringify(data.format)}, and this microforge reads format ${TEST_REPORT_FORMAT}`,
      newer ? "merge it with the microforge version that wrote it, or upgrade this one" : HINT,
    );
  }
  if (!Array.isArray(data.command) || !data.command.every((a) => typeof a === "string")) throw bad("has no command (an array of strings)");
  if (!isCount(data.total)) throw bad(`has total ${JSON.stringify(data.total)}, not a count of cells`);
  if (!Array.isArray(data.cells)) throw bad(`has cells that are ${kind(data.cells)}, not an array`);
  if (typeof data.startedAt !== "string" || Number.isNaN(Date.parse(data.startedAt))) throw bad(`has startedAt ${JSON.stringify(data.startedAt)}, not an ISO time`);
  if (typeof data.durationMs !== "number" || !(data.durationMs >= 0)) throw bad(`has durationMs ${JSON.stringify(data.durationMs)}, not a time in ms`);
  if (data.shards !== undefined && (!Array.isArray(data.shards) || !data.shards.every((s) => isObject(s) && isCount(s.index) && isCount(s.count)))) {
    throw bad("has shards that are not a list of {index, count}");
  }
  const total = data.total;
  const seen = new Set<number>();
  data.cells.forEach((c: unknown, i) => {
    if (!isObject(c) || typeof c.id !== "string") throw bad(`has cell ${i} without an id`);
    if (!isCount(c.index) || c.index >= total) throw bad(`has cell ${c.id} at index ${JSON.stringify(c.index)}, outside the matrix of ${total} cells`);
    if (!STATUSES.includes(c.status as CellStatus)) throw bad(`has cell ${c.id} with status ${JSON.stringify(c.status)}, not one of ${STATUSES.join(", ")}`);
    if (seen.has(c.index)) throw bad(`lists cell index ${c.index} twice`);
    seen.add(c.index);
  });
  const report = data as unknown as TestReport;
  return { ...report, summary: summarize(report.cells) };
}

/** Options of {@linkcode mergeReports}. */
export interface MergeOptions {
  /** What to call each report in errors (its file), in order; default `report 1`, `report 2`, .... */
  sources?: readonly string[];
}

/**
 * One report of the cells of `reports` (shards of one run): the same command
 * and matrix size, no cell in two of them, or a {@linkcode ReportError} saying
 * what differs. Cells and shards are sorted by index, the start is the
 * earliest, the duration the longest (shards run side by side), the summary
 * counted again. Cells no shard ran are not an error: see {@linkcode missingCells}.
 */
export function mergeReports(reports: readonly TestReport[], options: MergeOptions = {}): TestReport {
  const name = (i: number) => options.sources?.[i] ?? `report ${i + 1}`;
  if (!reports.length) throw new ReportError("There are no reports to merge", HINT);
  const [first] = reports;
  const hint = "merge only the shards of one run (`microforge test --shard K/N` with the same command, matrix and N)";
  reports.forEach((r, i) => {
    if (JSON.stringify(r.command) !== JSON.stringify(first.command)) {
      throw new ReportError(`The reports ran different commands: ${name(0)} ran \`${first.command.join(" ")}\`, ${name(i)} ran \`${r.command.join(" ")}\``, hint);
    }
    if (r.total !== first.total) {
      throw new ReportError(`The reports are of different matrices: ${name(0)} has ${first.total} cells in all, ${name(i)} has ${r.total}`, hint);
    }
  });
  const cells = new Map<number, { cell: CellResult; from: number }>();
  reports.forEach((r, i) => {
    for (const cell of r.cells) {
      const other = cells.get(cell.index);
      if (other && other.cell.id === cell.id) {
        throw new ReportError(`Cell ${cell.id} is in both ${name(other.from)} and ${name(i)}: the shards overlap`, "merge each shard's report once, from runs with the same --shard N");
      }
      if (other) {
        throw new ReportError(`Cell index ${cell.index} is ${other.cell.id} in ${name(other.from)} but ${cell.id} in ${name(i)}: the reports are of different matrices`, hint);
      }
      cells.set(cell.index, { cell, from: i });
    }
  });
  const merged = [...cells.values()].map((c) => c.cell).sort((a, b) => a.index - b.index);
  const shards = reports.flatMap((r) => r.shards ?? []).sort((a, b) => a.index - b.index || a.count - b.count);
  const startedAt = reports.map((r) => r.startedAt).reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a));
  return {
    format: TEST_REPORT_FORMAT,
    command: first.command,
    total: first.total,
    ...(shards.length && { shards }),
    startedAt,
    durationMs: Math.max(...reports.map((r) => r.durationMs)),
    cells: merged,
    summary: summarize(merged),
  };
}

/** The indices of the matrix (0 to total - 1) that `report` has no cell for: shards that were not merged, or did not finish. */
export function missingCells(report: TestReport): number[] {
  const have = new Set(report.cells.map((c) => c.index));
  return Array.from({ length: report.total }, (_, i) => i).filter((i) => !have.has(i));
}
