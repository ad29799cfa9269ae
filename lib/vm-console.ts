/**
 * Watching a VM's serial console: boot timings (first byte, the kernel's
 * "Run /init", the init's banner), kernel panics, and a bounded tail of
 * lines for error messages.
 */

/** Milliseconds from QEMU's spawn to each boot milestone. */
export interface BootTimings {
  firstOutputMs?: number;
  runInitMs?: number;
  initMarkerMs?: number;
  exitMs?: number;
}

/** Console watcher state. */
export interface ConsoleWatch {
  feed(chunk: string): void;
  readonly timings: BootTimings;
  readonly panicked: boolean;
  /** The last lines seen (at most `keep`). */
  tail(lines?: number): string;
}

/** Watch console output; `banner` is the line /init prints first. */
export function watchConsole(banner: string, start: number, now: () => number = Date.now, keep = 60): ConsoleWatch {
  const timings: BootTimings = {};
  const lines: string[] = [];
  let partial = "";
  let panicked = false;
  const at = () => now() - start;
  return {
    timings,
    get panicked() {
      return panicked;
    },
    feed(chunk) {
      if (timings.firstOutputMs === undefined && chunk.length) timings.firstOutputMs = at();
      const parts = (partial + chunk).split(/\r?\n/);
      partial = parts.pop() ?? "";
      if (partial.length > 4096) partial = partial.slice(-4096);
      for (const line of parts) {
        if (timings.runInitMs === undefined && /Run \/init as init process/.test(line)) timings.runInitMs = at();
        if (timings.initMarkerMs === undefined && line.includes(banner)) timings.initMarkerMs = at();
        if (/Kernel panic - not syncing/.test(line)) panicked = true;
        lines.push(line);
        if (lines.length > keep) lines.shift();
      }
    },
    tail(n = 20) {
      return [...lines, ...(partial ? [partial] : [])].slice(-n).join("\n");
    },
  };
}
