/**
 * Progress for `make`: counts kbuild's step lines ("  CC      init/main.o")
 * and shows them with the elapsed time, redrawn on a terminal, a line at the
 * start and every 30 s otherwise, nothing when quiet.
 */

/** A progress sink fed with make's output. */
export interface MakeProgress {
  /** Feed a chunk of make's stdout. */
  feed(chunk: string): void;
  /** Steps seen so far. */
  readonly steps: number;
  /** Stop redrawing; print the final line. */
  done(): void;
}

/** Options of {@linkcode makeProgress}. */
export interface MakeProgressOptions {
  /** "building linux 6.1.192" */
  label: string;
  /** Steps of an earlier build of the same config, to show a percentage. */
  expected?: number;
  tty?: boolean;
  quiet?: boolean;
  write?: (text: string) => void;
  now?: () => number;
  /** Non-tty: how often to print a line (ms). */
  every?: number;
}

const STEP = /^ {2}[A-Z][A-Z0-9_]{1,10} +\S/;

function elapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/** A progress display for one make run. */
export function makeProgress(options: MakeProgressOptions): MakeProgress {
  const write = options.write ?? ((t: string) => process.stderr.write(t));
  const now = options.now ?? Date.now;
  const tty = options.tty ?? process.stderr.isTTY === true;
  const start = now();
  let steps = 0;
  let partial = "";
  let lastPrint = start;
  const line = () => {
    const pct = options.expected ? ` (~${Math.min(99, Math.floor((100 * steps) / options.expected))}%)` : "";
    return `• ${options.label}: ${steps} steps${pct}, ${elapsed(now() - start)}`;
  };
  const timer = tty && !options.quiet ? setInterval(() => write(`\r\x1b[2K${line()}`), 250) : undefined;
  // In a log, say at once that the long step began (the next line comes only after `every`).
  if (!tty && !options.quiet) write(`• ${options.label}: started\n`);
  return {
    get steps() {
      return steps;
    },
    feed(chunk) {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      steps += lines.filter((l) => STEP.test(l)).length;
      if (!tty && !options.quiet && now() - lastPrint >= (options.every ?? 30_000)) {
        lastPrint = now();
        write(`${line()}\n`);
      }
    },
    done() {
      if (timer) clearInterval(timer);
      if (!options.quiet) write(`${tty ? "\r\x1b[2K" : ""}${line()}\n`);
    },
  };
}
