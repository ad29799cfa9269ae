/**
 * What a test matrix shows while it runs. Each finished cell prints one
 * plain line (`PASS 6.1/default#1 1.4s`), which is all a log or a pipe gets.
 * On a terminal, a live table under those lines shows the running cells:
 * cell, state, time and the last line of its output, redrawn in place.
 */
import type { CellPlan } from "./cells.ts";
import type { CellResult, CellStatus, TestReport } from "./test-report.ts";

/** Options of {@linkcode MatrixStatus}. */
export interface MatrixStatusOptions {
  /** Where lines go (stderr). */
  write: (text: string) => void;
  /** Redraw a live table (a terminal), else plain lines only. */
  live: boolean;
  /** Terminal width, for cutting lines. */
  columns?: number;
  /** Colour the marks (a terminal without NO_COLOR). */
  color?: boolean;
  now?: () => number;
}

const MARK: Record<CellStatus, string> = { passed: "PASS", failed: "FAIL", timeout: "TIME", panic: "PANIC", error: "ERROR", skipped: "SKIP" };
/** SGR colour codes of each status (red for every failure kind). */
const COLOR: Record<CellStatus, number> = { passed: 32, failed: 31, timeout: 31, panic: 31, error: 31, skipped: 33 };

/** `s` in SGR colour `code` when `on`. */
function paint(s: string, code: number, on: boolean): string {
  return on ? `\x1b[${code}m${s}\x1b[0m` : s;
}

/** Seconds with one decimal. */
function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Cut `s` to `width` columns (control characters dropped: guest output may carry any). */
function fit(s: string, width: number): string {
  // deno-lint-ignore no-control-regex
  const clean = s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/[\x00-\x1f\x7f]/g, " ");
  return clean.length > width ? `${clean.slice(0, Math.max(0, width - 1))}…` : clean;
}

/** The plain line of a finished cell, its mark coloured when `color`. */
export function cellLine(r: CellResult, idWidth = 0, color = false): string {
  const why = r.status === "passed" ? (r.subtests ? `${r.subtests.length} subtests` : "") : r.reason ?? "";
  return `${paint(MARK[r.status].padEnd(5), COLOR[r.status], color)} ${r.id.padEnd(idWidth)}  ${secs(r.durationMs).padStart(6)}${why ? `  ${why}` : ""}`;
}

/** The closing summary: counts, wall time, and the failed cells by name. */
export function summaryLine(report: TestReport, color = false): string {
  const { passed, failed, skipped } = report.summary;
  const bad = report.cells.filter((c) => c.status !== "passed" && c.status !== "skipped").map((c) => c.id);
  const counts = `${report.cells.length} cell${report.cells.length === 1 ? "" : "s"}: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""} in ${secs(report.durationMs)}`;
  return `${paint(counts, failed ? 31 : 32, color)}${bad.length ? `\nfailed: ${bad.join(" ")}` : ""}\n`;
}

interface Running {
  id: string;
  start: number;
  last: string;
}

/** The live view of a matrix run. */
export class MatrixStatus {
  readonly #o: MatrixStatusOptions;
  readonly #now: () => number;
  readonly #running = new Map<number, Running>();
  readonly #idWidth: number;
  #drawn = 0;
  #timer?: ReturnType<typeof setInterval>;
  #done = 0;
  readonly #total: number;

  constructor(cells: readonly CellPlan[], o: MatrixStatusOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#idWidth = Math.min(40, Math.max(0, ...cells.map((c) => c.id.length)));
    this.#total = cells.length;
  }

  /** A cell's VM is starting. The table appears with the first (the kernel builds before it draw progress of their own). */
  started(cell: CellPlan): void {
    this.#running.set(cell.index, { id: cell.id, start: this.#now(), last: "" });
    if (this.#o.live && !this.#timer) {
      this.#timer = setInterval(() => this.#draw(), 250);
      // A pending redraw must not keep the process alive.
      (this.#timer as { unref?: () => void }).unref?.();
    }
  }

  /** Output of a running cell: its last non-empty line is shown. */
  output(cell: CellPlan, chunk: Uint8Array): void {
    const r = this.#running.get(cell.index);
    if (!r) return;
    const lines = new TextDecoder().decode(chunk).split("\n").map((l) => l.trim()).filter(Boolean);
    if (lines.length) r.last = lines[lines.length - 1];
  }

  /** A cell finished: its line goes above the table. */
  finished(result: CellResult): void {
    this.#running.delete(result.index);
    this.#done++;
    this.#clear();
    this.#o.write(`${cellLine(result, this.#idWidth, this.#o.color)}\n`);
    this.#draw();
  }

  /** Stop redrawing and remove the table. */
  close(): void {
    clearInterval(this.#timer);
    this.#clear();
  }

  #clear(): void {
    if (!this.#o.live || !this.#drawn) return;
    this.#o.write(`\x1b[${this.#drawn}A\x1b[J`);
    this.#drawn = 0;
  }

  #draw(): void {
    if (!this.#o.live) return;
    this.#clear();
    const width = (this.#o.columns ?? 100) - 1;
    const now = this.#now();
    // "RUN   " + id + "  " + time (6) + "  ", then as much of the last line as fits.
    const room = Math.max(10, width - 6 - this.#idWidth - 10);
    const rows = [...this.#running.values()].map((r) => `${paint("RUN  ", 36, !!this.#o.color)} ${fit(r.id, this.#idWidth + 20).padEnd(this.#idWidth)}  ${secs(now - r.start).padStart(6)}  ${fit(r.last, room)}`);
    rows.push(paint(`${this.#done}/${this.#total} done, ${this.#running.size} running`, 2, !!this.#o.color));
    this.#o.write(`${rows.join("\n")}\n`);
    this.#drawn = rows.length;
  }
}
