/**
 * `microforge test [options] -- CMD ARGS...`: a test matrix. CMD runs in a
 * fresh VM per cell (kernel × feature set × repeat), in parallel, with a
 * live status, a summary, reports a CI reads (JSON, JUnit, TAP) and an exit
 * status that is 0 only when every cell passed. `--shard K/N` runs a slice,
 * `--list --json` prints the cells, `--merge` joins the shards' reports.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "./command.ts";
import { listFlag } from "./command.ts";
import type { ParsedArgs } from "../util/flags.ts";
import { ReportError, UsageError } from "../util/errors.ts";
import { stderrLogger } from "../util/log.ts";
import { writeFileAtomic } from "../util/cache-dir.ts";
import { parseShard } from "../run/cells.ts";
import { MatrixStatus, summaryLine } from "../run/matrix-status.ts";
import { toJunit } from "../run/junit.ts";
import { toTap } from "../run/tap-report.ts";
import { mergeReports, missingCells, parseReport } from "../run/merge-report.ts";
import type { TestReport } from "../run/test-report.ts";
import { matrixPlan, type MatrixOptions, runMatrix } from "../recipe/matrix.ts";
import { vmFlags, vmOptions } from "./vm-flags.ts";
import { archFlag, archList } from "./arch-flag.ts";
import { hostArch } from "../util/arch.ts";

const MAX_TIMER_S = Math.floor((2 ** 31 - 1) / 1000);

/** VM flags that mean something else in a matrix (an axis), or nothing (a debugger waits for one VM). */
const NOT_IN_MATRIX = new Set(["arch", "kernel", "kernel-version", "features", "gdb"]);

/** The `test` subcommand. */
export const testCommand: Command = {
  name: "test",
  summary: "Run a command across kernels and feature sets, each cell in a fresh VM, in parallel; JSON, JUnit and TAP reports, shards for CI",
  usage: "[options] -- CMD ARGS...   |   --merge [--junit FILE] REPORT.json...",
  flags: [
    { name: "kernels", type: "strings", env: "MICROFORGE_KERNELS", description: "kernel version specs, one cell column each: longterm,6.6,^6.1 (default longterm), each resolved through the lock" },
    { ...archFlag, type: "strings", description: `guest architectures, one cell column each: x86_64,arm64,riscv64 (default: this host's, ${hostArch()}); others are cross-built and run under TCG` },
    { name: "features", type: "strings", description: "a kernel feature set, one per flag: default, or a,b (where default stands for the default features); e.g. --features default --features default,debug" },
    { name: "repeat", type: "string", default: "1", description: "run every kernel and feature set this many times" },
    { name: "parallel", alias: "j", type: "string", description: "VMs at once (default: from the CPUs and free memory)" },
    { name: "timeout", type: "string", default: "120", description: "each cell's time limit in seconds; a cell over it fails with status 124" },
    { name: "fail-fast", type: "boolean", description: "start no more cells after the first failure, and stop the running ones" },
    { name: "shard", type: "string", description: "run only slice K of N of the cells (K/N, 1-based): every N-th cell, the same on every machine" },
    { name: "list", type: "boolean", description: "print the cells (this shard's, with --shard) and exit; with --json as JSON" },
    { name: "json", type: "boolean", description: "print the report as JSON on stdout (every cell: kernel, config hash, exit code, timings, phases, output tails)" },
    { name: "junit", type: "string", description: "write the report as JUnit XML to this file (a testsuite per kernel, a testcase per cell or subtest)" },
    { name: "tap", type: "boolean", description: "print the report as TAP on stdout" },
    { name: "artifacts", type: "string", description: "write the repro bundle of each failed cell into this directory (`microforge rerun DIR/CELL`)" },
    { name: "merge", type: "boolean", description: "merge the JSON reports of shards given as arguments into one (with --json, --junit, --tap); exits 1 unless every cell passed" },
    ...vmFlags.filter((f) => !NOT_IN_MATRIX.has(f.name)),
    { name: "quiet", alias: "q", type: "boolean", description: "no progress output (the per-cell lines and summary stay)" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    if (args.json && args.tap) throw new UsageError("--json and --tap both print a report on stdout", "pass one, and --junit FILE for a file");
    if (args.merge) return await merge(args);
    const o = matrixOptions(args);
    if (args.list) {
      const { cells, selected } = matrixPlan(o);
      if (args.json) process.stdout.write(`${JSON.stringify({ total: cells.length, ...(o.shard ? { shard: o.shard } : {}), cells: selected }, null, 2)}\n`);
      else process.stdout.write(selected.map((c) => `${c.id}\n`).join(""));
      return 0;
    }
    if (!args._.length) throw new UsageError("microforge test needs a command to run in each cell", "pass it after --, e.g. `microforge test --kernels 6.1,6.12 -- uname -r`");
    const color = Boolean(process.stderr.isTTY) && !process.env.NO_COLOR;
    const status = new MatrixStatus(matrixPlan(o).selected, { write: (s) => void process.stderr.write(s), live: Boolean(process.stderr.isTTY), columns: process.stderr.columns, color });
    // Ctrl-C or a CI job's TERM: util/reaper.ts kills every VM and exits 128+N; no report is half-written (they are written whole, at the end).
    let report: TestReport;
    try {
      report = await runMatrix(args._, {
        ...o,
        log: stderrLogger({ quiet: args.quiet as boolean }),
        observer: { started: (c) => status.started(c), output: (c, chunk) => status.output(c, chunk), finished: (r) => status.finished(r) },
      });
    } finally {
      status.close();
    }
    await writeReports(report, args);
    process.stderr.write(summaryLine(report, color));
    return report.summary.failed || report.summary.skipped ? 1 : 0;
  },
};

/** A positive whole number flag. */
function count(args: ParsedArgs, flag: string): number | undefined {
  const v = args[flag] as string | undefined;
  if (v === undefined) return undefined;
  if (!/^\s*\d+\s*$/.test(v) || Number(v) < 1) throw new UsageError(`Invalid --${flag} ${JSON.stringify(v)}`, "pass a whole number of at least 1");
  return Number(v);
}

/** The matrix the flags ask for, every value checked before anything slow. */
function matrixOptions(args: ParsedArgs): MatrixOptions {
  const timeout = /^\s*\d+(\.\d+)?\s*$/.test(String(args.timeout)) ? Number(args.timeout) : Number.NaN;
  if (!(timeout > 0 && timeout <= MAX_TIMER_S)) throw new UsageError(`Invalid --timeout ${JSON.stringify(args.timeout)}`, `pass a number of seconds from 0.001 to ${MAX_TIMER_S}`);
  // The matrix's own --features (sets, with `default`) and --kernels replace the VM flags' single kernel.
  const { kernelVersion: _v, features: _f, arch: _a, ...vm } = vmOptions({ ...args, features: [], "kernel-version": undefined, arch: undefined });
  const arches = archList(args);
  const o: MatrixOptions = {
    ...vm,
    kernels: listFlag(args, "kernels"),
    ...(arches.length ? { arches } : {}),
    featureSets: (args.features as string[]).map((s) => s.trim()).filter(Boolean),
    repeat: count(args, "repeat"),
    parallel: count(args, "parallel"),
    timeoutMs: timeout * 1000,
    failFast: args["fail-fast"] as boolean,
    shard: args.shard === undefined ? undefined : parseShard(args.shard as string),
    artifacts: args.artifacts as string | undefined,
    quiet: args.quiet as boolean,
  };
  try {
    matrixPlan(o);
  } catch (err) {
    if (err instanceof Error && "hint" in err && !(err instanceof UsageError)) throw new UsageError((err as UsageError).summary, (err as UsageError).hint, { cause: err });
    throw err;
  }
  return o;
}

/** Print and write the reports the flags ask for. */
async function writeReports(report: TestReport, args: ParsedArgs): Promise<void> {
  if (args.junit !== undefined) await writeFileAtomic(args.junit as string, toJunit(report));
  if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (args.tap) process.stdout.write(toTap(report));
}

/** `test --merge A.json B.json ...`. */
async function merge(args: ParsedArgs): Promise<number> {
  if (!args._.length) throw new UsageError("test --merge needs the JSON reports to merge", "pass the files each shard's `microforge test --json` wrote, e.g. --merge shard-*.json");
  const reports: TestReport[] = [];
  for (const file of args._) {
    const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new ReportError(`Cannot read the report ${file}: ${err.code === "ENOENT" ? "it does not exist" : err.message}`, "pass the files each shard's `microforge test --json` wrote");
    });
    reports.push(parseReport(text, file));
  }
  const report = mergeReports(reports, { sources: args._ });
  await writeReports(report, args);
  const missing = missingCells(report);
  if (missing.length) process.stderr.write(`microforge: the reports cover ${report.total - missing.length} of ${report.total} cells; missing: ${missing.slice(0, 10).join(", ")}${missing.length > 10 ? ", …" : ""} (a shard did not report)\n`);
  process.stderr.write(summaryLine(report));
  return report.summary.failed || report.summary.skipped || missing.length ? 1 : 0;
}
