/**
 * A boot timeline. Host-side marks (ms from QEMU's spawn) cut the run into
 * top-level phases that tile [0, exit]; the kernel's printk timestamps add
 * nested guest detail (the initramfs unpack, slow initcalls).
 *
 * Alignment: the guest clock starts near the kernel's entry, which the host
 * never sees (early messages are buffered until the console is up). Guest
 * times are shifted so that the printk timestamp of `Run /init as init
 * process` lands on the host's `runInitMs`, the moment the host read that
 * same line. One shared event, so only an offset, no scaling: under TCG the
 * guest clock may drift from wall time, and serial latency makes guest
 * phases appear slightly early. Without that line or mark there is no guest
 * detail. Guest phases may start before `firstOutputMs`: the kernel was
 * running before its first console byte reached the host.
 */
import type { BootTimings } from "./console.ts";

/** Host-side marks in ms from QEMU's spawn; the command marks are optional. */
export interface BootMarks extends BootTimings {
  /** The guest started the user's command. */
  commandStartMs?: number;
}

/** One span of the timeline, in ms from QEMU's spawn. */
export interface Phase {
  name: string;
  startMs: number;
  endMs: number;
  /** `host`: cut by host marks; `guest`: from kernel printk timestamps. */
  source: "host" | "guest";
  /** 0: top-level (these tile the run); 1: guest detail nested inside. */
  depth: 0 | 1;
}

/** Options of {@linkcode bootPhases}. */
export interface BootPhasesOptions {
  /** Initcalls (from `initcall_debug`) taking at least this long become phases; default 10. */
  initcallThresholdMs?: number;
}

/** A console line's kernel timestamp (seconds since boot) and message. */
export interface PrintkLine {
  seconds: number;
  text: string;
}

// `[    0.392553] text`, also `<6>[0.39] text` (a log level prefix) and
// `[    0.392553][    T1] text` (CONFIG_PRINTK_CALLER).
const PRINTK = /^\s*(?:<\d+>)?\[\s*(\d+(?:\.\d+)?)\s*\](?:\[\s*[CT]\d+\s*\])?\s?(.*)$/;
// The same line vm-console.ts takes the host's runInitMs from.
const RUN_INIT = /Run \/init as init process/;
// Kernels before 5.x said "Trying to unpack rootfs image as initramfs...".
const UNPACK_START = /^(?:Unpacking initramfs|Trying to unpack rootfs image as initramfs)/;
const UNPACK_END = /^Freeing initrd memory/;
// init/main.c do_trace_initcall_finish: "initcall %pS returned %d after %lld usecs";
// %pS is `fn+0x0/0x20`, with ` [module]` for a module's init.
const INITCALL = /^initcall (\S+?)(?:\+0x[\da-f]+\/0x[\da-f]+)?( \[\S+\])? returned -?\d+ after (\d+) usecs/;

/** Parse a kernel console line like `[    0.392553] Unpacking initramfs...`; undefined if it has no timestamp. */
export function parsePrintk(line: string): PrintkLine | undefined {
  const m = PRINTK.exec(line.trimEnd());
  return m ? { seconds: Number(m[1]), text: m[2] } : undefined;
}

/** Turn host marks and kernel console lines into phases: top-level ones tile [0, exit], guest detail nests at depth 1. */
export function bootPhases(marks: BootMarks, printkLines: Iterable<string> = [], options: BootPhasesOptions = {}): Phase[] {
  const present = [marks.firstOutputMs, marks.runInitMs, marks.initMarkerMs, marks.commandStartMs, marks.commandEndMs].filter(isTime);
  const end = isTime(marks.exitMs) ? marks.exitMs : Math.max(0, ...present);
  if (!(end > 0)) return [];
  const phases = [...hostPhases(marks, end), ...guestPhases(marks, printkLines, end, options.initcallThresholdMs ?? 10)];
  // Stable: a nested phase that starts with a top-level one follows it.
  return phases.sort((a, b) => a.startMs - b.startMs || a.depth - b.depth);
}

function isTime(ms: number | undefined): ms is number {
  return typeof ms === "number" && Number.isFinite(ms) && ms >= 0;
}

function hostPhases(marks: BootMarks, end: number): Phase[] {
  // Each step ends the phase it names. A missing (or out of order) mark merges
  // its phase into the next one, named "a + b"; a `quiet` one merges unnamed.
  const steps: { at: number | undefined; name: string; quiet?: boolean }[] = [
    { at: marks.firstOutputMs, name: "QEMU start + firmware" },
    { at: marks.runInitMs, name: "kernel boot" },
    { at: marks.initMarkerMs, name: "/init to banner" },
    { at: marks.commandStartMs, name: "command setup", quiet: true },
    { at: marks.commandEndMs ?? end, name: "command" },
    { at: end, name: "shutdown" },
  ];
  const phases: Phase[] = [];
  let from = 0;
  let names: string[] = [];
  for (const { at, name, quiet } of steps) {
    if (!isTime(at) || at < from || at > end) {
      if (!quiet) names.push(name);
      continue;
    }
    names.push(name);
    if (at > from) phases.push({ name: names.join(" + "), startMs: from, endMs: at, source: "host", depth: 0 });
    names = [];
    from = at;
  }
  return phases;
}

function guestPhases(marks: BootMarks, lines: Iterable<string>, end: number, thresholdMs: number): Phase[] {
  const printk: PrintkLine[] = [];
  for (const line of lines) {
    const p = parsePrintk(line);
    if (p) printk.push(p);
  }
  const anchor = printk.find((p) => RUN_INIT.test(p.text));
  if (!anchor || !isTime(marks.runInitMs)) return [];
  const toHost = (seconds: number) => marks.runInitMs! + (seconds - anchor.seconds) * 1000;
  const phases: Phase[] = [];
  const add = (name: string, startMs: number, endMs: number) => {
    const s = Math.max(0, startMs);
    const e = Math.min(end, endMs);
    if (e > s) phases.push({ name, startMs: s, endMs: e, source: "guest", depth: 1 });
  };
  const unpack = printk.find((p) => UNPACK_START.test(p.text));
  const freed = unpack && printk.find((p) => p.seconds >= unpack.seconds && UNPACK_END.test(p.text));
  if (unpack && freed) add("initramfs unpack", toHost(unpack.seconds), toHost(freed.seconds));
  for (const p of printk) {
    const m = INITCALL.exec(p.text);
    if (!m) continue;
    const ms = Number(m[3]) / 1000;
    // The line is printed when the initcall returns: it ends at the timestamp.
    if (ms >= thresholdMs) add(`initcall ${m[1]}${m[2] ?? ""}`, toHost(p.seconds) - ms, toHost(p.seconds));
  }
  return phases;
}
