/**
 * Watching a VM's serial console: boot timings (first byte, the kernel's
 * "Run /init", the init's banner), kernel panics and oopses (their trace
 * kept apart, so it survives the tail), and a bounded tail of lines for
 * error messages.
 */
import { lineSplitter } from "../util/lines.ts";

/** Milliseconds from QEMU's spawn to each boot milestone. */
export interface BootTimings {
  firstOutputMs?: number;
  runInitMs?: number;
  initMarkerMs?: number;
  /** /init printed the command's exit status (the exit marker line). */
  commandEndMs?: number;
  exitMs?: number;
}

/** Console watcher state. */
export interface ConsoleWatch {
  feed(chunk: string): void;
  readonly timings: BootTimings;
  readonly panicked: boolean;
  /** What the kernel said after "Kernel panic - not syncing: " (the stack dump that follows pushes it out of the tail). */
  readonly panicMessage: string | undefined;
  /** The panic or oops report, from its first line ("Kernel panic", "Oops", "BUG:", "Call Trace:", "RIP:"), at most `traceLines` lines; undefined when there was none. */
  readonly trace: string | undefined;
  /** Whether any byte arrived (QEMU started the guest). */
  readonly sawOutput: boolean;
  /** The last lines seen (at most `keep`). */
  tail(lines?: number): string;
}

/** Options of {@linkcode watchConsole}. */
export interface WatchOptions {
  /**
   * The kernel runs with `quiet`: its messages (and "Run /init") are hidden,
   * so the first byte is /init's and says nothing about firmware or kernel:
   * leave `firstOutputMs` unset rather than mislabel it.
   */
  quietKernel?: boolean;
  now?: () => number;
  /** How many lines `tail` keeps (default 60). */
  keep?: number;
  /** How many lines of a panic or oops report `trace` keeps (default 200). */
  traceLines?: number;
  /** The prefix of the line /init prints after the command (default "microforge-exit-status:"). */
  exitMarker?: string;
}

/** The first line of a kernel panic or oops report (x86: dump_stack, die, __warn, report_bug). */
const TRACE_START = /Kernel panic - not syncing|\bOops: |\bBUG: |Call Trace:|\bRIP: [0-9a-f]{4}:/;

/** Watch console output; `banner` is the line /init prints first. */
export function watchConsole(banner: string, start: number, o: WatchOptions = {}): ConsoleWatch {
  const now = o.now ?? Date.now;
  const keep = o.keep ?? 60;
  const exitMarker = o.exitMarker ?? "microforge-exit-status:";
  const timings: BootTimings = {};
  const traceLines = o.traceLines ?? 200;
  const lines: string[] = [];
  const trace: string[] = [];
  let tracing = false;
  let panicked = false;
  let panicMessage: string | undefined;
  let sawOutput = false;
  const at = () => now() - start;
  const split = lineSplitter((line) => {
    if (timings.runInitMs === undefined && /Run \/init as init process/.test(line)) timings.runInitMs = at();
    if (timings.initMarkerMs === undefined && line.includes(banner)) timings.initMarkerMs = at();
    if (timings.commandEndMs === undefined && timings.initMarkerMs !== undefined && line.startsWith(exitMarker)) timings.commandEndMs = at();
    const panic = /Kernel panic - not syncing: ?(.*)/.exec(line);
    if (panic && !panicked) [panicked, panicMessage] = [true, panic[1].trim()];
    if (!tracing && TRACE_START.test(line)) tracing = true;
    if (tracing && trace.length < traceLines) trace.push(line);
    lines.push(line);
    if (lines.length > keep) lines.shift();
  });
  return {
    timings,
    get panicked() {
      return panicked;
    },
    get panicMessage() {
      return panicMessage;
    },
    get trace() {
      if (!tracing) return undefined;
      // The VM may die in the middle of a line: keep what it got out.
      const rest = split.partial && trace.length < traceLines ? [split.partial] : [];
      return [...trace, ...rest].join("\n");
    },
    get sawOutput() {
      return sawOutput;
    },
    feed(chunk) {
      if (!chunk.length) return;
      sawOutput = true;
      if (timings.firstOutputMs === undefined && !o.quietKernel) timings.firstOutputMs = at();
      split.feed(chunk);
    },
    tail(n = 20) {
      return [...lines, ...(split.partial ? [split.partial] : [])].slice(-n).join("\n");
    },
  };
}
