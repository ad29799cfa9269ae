/**
 * Watching a VM's serial console: boot timings (first byte, the kernel's
 * "Run /init", the init's banner), kernel panics, and a bounded tail of
 * lines for error messages.
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
  /** The prefix of the line /init prints after the command (default "microforge-exit-status:"). */
  exitMarker?: string;
}

/** Watch console output; `banner` is the line /init prints first. */
export function watchConsole(banner: string, start: number, o: WatchOptions = {}): ConsoleWatch {
  const now = o.now ?? Date.now;
  const keep = o.keep ?? 60;
  const exitMarker = o.exitMarker ?? "microforge-exit-status:";
  const timings: BootTimings = {};
  const lines: string[] = [];
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
