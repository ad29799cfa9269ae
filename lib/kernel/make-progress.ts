/**
 * Progress for `make`: counts kbuild's step lines ("  CC      init/main.o").
 * Given the compile steps to expect, it shows a percentage and the time left
 * (from the elapsed time and the fraction done), saying "about" when that
 * count is an estimate and never more than 99% before make has finished.
 * Only compile steps (CC, AS, HOSTCC) measure progress: the AR and other
 * bookkeeping steps take almost no time and bunch up in the last third of a
 * build, so counting every step made a 4½-minute build read 61% at 80% of
 * its time (compile steps alone: 77%) and the time left nearly twice too long.
 * On a terminal it is one line with a bar, redrawn; otherwise a line at the
 * start and every 30 s; nothing when quiet.
 */
import { lineSplitter } from "../util/lines.ts";

/** A progress sink fed with make's output. */
export interface MakeProgress {
  /** Feed a chunk of make's stdout. */
  feed(chunk: string): void;
  /** Steps seen so far. */
  readonly steps: number;
  /** Compile steps (CC, AS, HOSTCC) among them. */
  readonly compiled: number;
  /** Stop redrawing; print the final line: 100% when make succeeded (`ok`, the default), else where it stopped. */
  done(ok?: boolean): void;
}

/** The compile steps a make run is expected to take. */
export interface ExpectedSteps {
  compiled: number;
  /** The count of an earlier build of the same version and config; otherwise an estimate, shown as "about". */
  exact: boolean;
  /** Where the count came from ("a typical build of 6.1.192"), for the first plain line. */
  from?: string;
}

/** Options of {@linkcode makeProgress}. */
export interface MakeProgressOptions {
  /** "building linux 6.1.192 (2 jobs)" */
  label: string;
  /** Compile steps to expect, for a percentage and the time left; without it only steps and time are shown. */
  expected?: ExpectedSteps;
  /** stderr is a terminal: redraw one line (default `process.stderr.isTTY`). */
  tty?: boolean;
  /** Terminal width; the redrawn line is kept narrower (default stderr's columns, else 80). */
  columns?: number;
  quiet?: boolean;
  write?: (text: string) => void;
  now?: () => number;
  /** Non-tty: how often to print a line (ms). */
  every?: number;
  /** Call `fn` every `ms` until the returned stop function is called (default `setInterval`); redraws the tty line. */
  repeat?: (fn: () => void, ms: number) => () => void;
}

const STEP = /^ {2}[A-Z][A-Z0-9_]{1,10} +\S/;
const COMPILE = /^ {2}(HOST)?(CC|CXX|AS)( \[M\])? +\S/;
const CLEAR = "\r\x1b[2K";
/** Below this fraction done (or this much time) the time left is mostly noise, so it is not shown. */
const ETA_AFTER = { fraction: 0.03, ms: 10_000 };

/** "45s", "3m05s", "1h02m". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

function defaultRepeat(fn: () => void, ms: number): () => void {
  const timer = setInterval(fn, ms);
  // A redraw timer must not keep the process alive if done() is never reached.
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}

/** What the line says, in parts the tty and plain forms put together differently. */
interface Status {
  /** "about 45%", "99%", "" without an expected count */
  percent: string;
  /** 0..0.99 for the bar */
  fraction: number;
  /** "480 of ~744 files compiled", "1234 steps" */
  count: string;
  /** "1m30s" */
  elapsed: string;
  /** "about 1m50s left", "finishing", "" while too early to tell */
  left: string;
}

/** The tty forms of the figures after the bar, widest first. */
const TTY_FORMS: ((s: Status) => string)[] = [
  (s) => `${s.percent}  ${s.elapsed}${s.left ? `, ${s.left}` : ""}`,
  (s) => `${s.percent}, ${s.left || s.elapsed}`,
];

/** `• label` shortened at a word (so "6.1.1…" is never read as a version) to leave `room` columns. */
function fitLabel(head: string, room: number): string {
  if (head.length <= room) return head;
  const cut = head.slice(0, Math.max(2, room - 1));
  const word = head[cut.length] === " " || cut.lastIndexOf(" ") < 2 ? cut : cut.slice(0, cut.lastIndexOf(" "));
  return `${word.trimEnd()}…`;
}

/** A progress display for one make run. */
export function makeProgress(options: MakeProgressOptions): MakeProgress {
  const write = options.write ?? ((t: string) => process.stderr.write(t));
  const now = options.now ?? Date.now;
  const tty = options.tty ?? process.stderr.isTTY === true;
  const width = (options.columns ?? (process.stderr.columns || 80)) - 1; // writing the last column makes some terminals wrap
  const expected = options.expected && options.expected.compiled > 0 ? options.expected : undefined;
  const about = expected && !expected.exact ? "about " : "";
  const head = `• ${options.label}`;
  const start = now();
  let steps = 0;
  let compiled = 0;
  const split = lineSplitter((l) => {
    if (!STEP.test(l)) return;
    steps++;
    if (COMPILE.test(l)) compiled++;
  });
  let lastPrint = start;
  let finished = false;

  const status = (): Status => {
    const ms = now() - start;
    const elapsed = formatDuration(ms);
    if (!expected) return { percent: "", fraction: 0, count: `${steps} steps`, elapsed, left: "" };
    const fraction = compiled / expected.compiled;
    // Only make's exit says it is finished: a low estimate stays at 99%.
    const percent = `${about}${Math.min(99, Math.floor(100 * fraction))}%`;
    const total = `${expected.exact ? "" : "~"}${expected.compiled}`;
    const count = compiled > expected.compiled ? `${compiled} files compiled, ${total} expected` : `${compiled} of ${total} files compiled`;
    let left = "";
    if (fraction >= 0.99) left = "finishing";
    else if (fraction >= ETA_AFTER.fraction && ms >= ETA_AFTER.ms) left = `${about}${formatDuration((ms * (1 - fraction)) / fraction)} left`;
    return { percent, fraction: Math.min(fraction, 0.99), count, elapsed, left };
  };

  const plainLine = () => {
    const s = status();
    return `• ${options.label}: ${s.percent ? `${s.percent} (${s.count})` : s.count}, ${s.elapsed}${s.left ? `, ${s.left}` : ""}`;
  };

  // The bar's width and the form of the figures are fixed up front from the widest
  // figures likely, so the line does not jump about as they change.
  const widest: Status = { percent: `${about}99%`, fraction: 0, count: "", elapsed: "10m00s", left: `${about}10m00s left` };
  const layout = expected && TTY_FORMS
    .map((form) => ({ form, cells: Math.min(30, width - head.length - form(widest).length - 4) }))
    .find((l) => l.cells >= 10);

  const ttyLine = () => {
    const s = status();
    if (layout) {
      const full = Math.floor(s.fraction * layout.cells);
      return `${head} [${"#".repeat(full)}${".".repeat(layout.cells - full)}] ${layout.form(s)}`.slice(0, width);
    }
    const tail = `: ${expected ? TTY_FORMS[1](s) : `${s.count}, ${s.elapsed}`}`;
    return `${fitLabel(head, width - tail.length)}${tail}`.slice(0, width);
  };

  const stop = tty && !options.quiet ? (options.repeat ?? defaultRepeat)(() => write(`${CLEAR}${ttyLine()}`), 250) : undefined;
  if (tty && !options.quiet) write(ttyLine());
  // In a log, say at once that the long step began (the next line comes only after `every`).
  if (!tty && !options.quiet) write(`• ${options.label}: started${expected ? ` (${about}${expected.compiled} files to compile${expected.from ? `, going by ${expected.from}` : ""})` : ""}\n`);
  return {
    get steps() {
      return steps;
    },
    get compiled() {
      return compiled;
    },
    feed(chunk) {
      split.feed(chunk);
      if (!tty && !options.quiet && now() - lastPrint >= (options.every ?? 30_000)) {
        lastPrint = now();
        write(`${plainLine()}\n`);
      }
    },
    done(ok = true) {
      if (finished) return;
      finished = true;
      stop?.();
      if (options.quiet) return;
      const took = formatDuration(now() - start);
      const s = status();
      const text = ok
        ? `• ${options.label}: ${expected ? `100%, ${compiled} files compiled, ` : ""}${steps} steps in ${took}`
        : `• ${options.label}: stopped at ${s.percent ? `${s.percent} (${s.count})` : s.count} after ${took}`;
      write(`${tty ? CLEAR : ""}${text}\n`);
    },
  };
}
