/**
 * The report of a `microforge test` matrix: one entry per cell (a kernel,
 * a feature set and a repeat, each run in a fresh VM), the subtests a cell's
 * KTAP/TAP output had, and the counts. `--json` prints it, `--junit` and
 * `--tap` render it, and `test --merge` joins the reports of shards.
 */

/** The report's format version: `test --merge` refuses others. */
export const TEST_REPORT_FORMAT = 1;

/** One subtest of a cell, from its KTAP or TAP output. */
export interface SubtestResult {
  /** The test's name; a nested one is `parent.child`. */
  name: string;
  /** Its result line said `ok` (a `# SKIP` counts as ok). */
  ok: boolean;
  /** `# SKIP` (or `# TODO`, whose failure does not count) with its reason. */
  directive?: { kind: "skip" | "todo"; reason: string };
  /** The diagnostic lines that belong to it (KTAP's `# ...` lines, TAP 13's YAML block), without the `# `. */
  diagnostics: string;
}

/** A cell's outcome: passed, failed (its status, or a failing subtest), timeout, panic or error (the VM could not run it), or not run (fail-fast). */
export type CellStatus = "passed" | "failed" | "timeout" | "panic" | "error" | "skipped";

/** One cell of the matrix and how it went. */
export interface CellResult {
  /** A stable, human name: `<kernel>/<features>#<repeat>`, e.g. `6.1/default#1` (`arm64/6.1/default#1` with an architecture axis). */
  id: string;
  /** Its place in the whole matrix (before sharding), from 0: merged reports are ordered by it. */
  index: number;
  kernel: {
    /** The spec asked for (`6.1`, `longterm`, or `tree` for --kernel-tree). */
    spec: string;
    /** The version the spec resolved to, the release `uname -r` says, and the hash of the kernel's .config. */
    version?: string;
    release?: string;
    configHash?: string;
    /** The local source tree's path, for --kernel-tree. */
    tree?: string;
  };
  /** The guest architecture, when the matrix has that axis (`--arch x86_64,arm64`). */
  arch?: string;
  /** The feature set's name as given (`default`, or `virtio,net`). */
  features: string;
  /** 1-based repeat number. */
  repeat: number;
  status: CellStatus;
  /** The command's exit status (124 timeout, 255 a guest without a status). */
  exitCode: number;
  /** Why a cell did not pass, in a line (the error's message, `exit status 1`, `2 of 3 subtests failed`). */
  reason?: string;
  /** Wall time of the cell (boot to power-off), ms. */
  durationMs: number;
  /** Boot phases: QEMU start to /init, the command, shutdown; ms. */
  phases?: { name: string; startMs: number; endMs: number }[];
  /** The last lines of the command's stdout and stderr, and of the kernel console for a failure. */
  stdoutTail: string;
  stderrTail: string;
  consoleTail?: string;
  /** A panic's stack trace decoded to file:line against the kernel's vmlinux. */
  decodedPanic?: string;
  /** Subtests, when the command printed KTAP or TAP. */
  subtests?: SubtestResult[];
  /** The port forwards this cell's VM had: each rule of `--hostfwd` with a free host port of its own. */
  hostfwd?: string[];
  /** The repro bundle written for this failed cell (`--artifacts`). */
  bundle?: string;
}

/** A shard: the K-th of N slices of the matrix (1-based). */
export interface Shard {
  index: number;
  count: number;
}

/** The whole report. */
export interface TestReport {
  format: typeof TEST_REPORT_FORMAT;
  /** The command each cell ran. */
  command: string[];
  /** How many cells the whole matrix has (all shards together). */
  total: number;
  /** The shard(s) this report covers; a merged report lists each. */
  shards?: Shard[];
  /** ISO time the run started, and its wall time in ms. */
  startedAt: string;
  durationMs: number;
  cells: CellResult[];
  /** Cells by outcome: passed, failed (any not passed and not skipped), skipped. */
  summary: { passed: number; failed: number; skipped: number };
}

/** The counts of `cells`. */
export function summarize(cells: readonly CellResult[]): TestReport["summary"] {
  const passed = cells.filter((c) => c.status === "passed").length;
  const skipped = cells.filter((c) => c.status === "skipped").length;
  return { passed, failed: cells.length - passed - skipped, skipped };
}
