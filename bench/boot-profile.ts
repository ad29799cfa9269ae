/**
 * Where a boot of the default VM spends its time (issue 18), from the host's
 * clock on each console line: three kinds of boots, alternating.
 *
 * - timeline: the default argv with `earlyprintk` and without `quiet`, so
 *   the first line comes from setup_arch and "Run /init" is printed: QEMU
 *   and qboot, the kernel, /init up to the banner, the command and the exit.
 * - initcalls: `initcall_debug ignore_loglevel` (and `tsc_early_khz`, so the
 *   printk clock is the TSC, not 4 ms jiffies); the slowest initcalls from
 *   their "calling"/"returned" printk timestamps.
 * - /init: the same /init with an `echo` marker before each top-level step.
 *
 *   npx tsx bench/boot-profile.ts [--boots 5]
 */
import { minimist } from "zx";
import { buildInitramfs } from "../lib/initramfs/build.ts";
import { defaultInitVars, renderInit } from "../lib/initramfs/rootfs.ts";
import { defaultKernel } from "../lib/recipe/defaults.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import type { Logger } from "../lib/util/log.ts";
import { prepareVm } from "../lib/vm/prepare.ts";
import { removeKernelArgs } from "./boot.ts";
import { bootOnce } from "./lib/boot-once.ts";
import { ttyProgress, useBenchCache } from "./lib/env.ts";
import { alternate, summarize } from "./lib/stats.ts";

const silent: Logger = { step: () => undefined, warn: () => undefined };
const MARK = "microforge-profile:";

/** One console line and the host ms since QEMU's spawn it arrived at. */
export interface Line {
  ms: number;
  text: string;
}

/** Initcall durations (ms) from an `initcall_debug` log, by the printk timestamps of "calling" and "returned". */
export function initcallDurations(lines: readonly string[]): Map<string, number> {
  const started = new Map<string, number>();
  const out = new Map<string, number>();
  for (const line of lines) {
    const m = /^\[\s*(\d+\.\d+)\]\s+(?:calling {2}|initcall )([\w.]+)\+.*?(returned)?/.exec(line);
    if (!m) continue;
    const t = Number(m[1]) * 1000;
    if (!/ returned /.test(line)) started.set(m[2], t);
    else if (started.has(m[2])) out.set(m[2], t - started.get(m[2])!);
  }
  return out;
}

/** `script` with `echo MARK<n> <line>` before each top-level statement (not inside if/for/case/functions). */
export function instrumentInit(script: string): string {
  let depth = 0;
  const out: string[] = [];
  for (const line of script.split("\n")) {
    const code = line.replace(/\s+#.*$/, "").trim();
    const block = /^(if|for|while|until|case)\b/.test(code) && !/(^|[\s;])(fi|done|esac)$/.test(code);
    const opens = block || /\)\s*\{$/.test(code) ? 1 : 0;
    const closes = /^(fi|done|esac|\})(?=[\s;]|$)/.test(code) ? 1 : 0;
    const top = depth === 0 && code && !code.startsWith("#") && !closes;
    if (top) out.push(`echo ${MARK}${out.length} ${JSON.stringify(code.slice(0, 50)).replace(/[$`]/g, ".")}`);
    out.push(line);
    depth += opens - closes;
  }
  return out.join("\n");
}

const at = (lines: readonly Line[], f: (t: string) => boolean) => lines.find((l) => f(l.text))?.ms;

/** Run the profile; returns Markdown. */
export async function profile(opts: { boots?: number; progress?: (s: string) => void } = {}): Promise<string> {
  const env = process.env;
  useBenchCache(env);
  const boots = opts.boots ?? 5;
  const { banner, exitMarker } = defaultInitVars();
  const init = { vars: { command: ["true"] } };
  const initrd = await buildInitramfs({ init, gzip: false, log: silent, env });
  const marked = await buildInitramfs({ init: { content: instrumentInit(renderInit(init)) }, gzip: false, log: silent, env });
  const vm = await prepareVm({ kernel: await defaultKernel({ log: silent, quiet: true, env }), initrd: initrd.path, log: silent, quiet: true, env });
  const plain = (v: typeof vm, extra: string[]) => removeKernelArgs(v.with({ append: [...(v.spec.append ?? []), ...extra] }).toArgv(), ["quiet"]);
  const tsc = vm.spec.tscKhz ? [`tsc_early_khz=${vm.spec.tscKhz}`] : [];
  const argvs = {
    timeline: plain(vm, ["earlyprintk=serial,ttyS0,115200"]),
    initcalls: plain(vm, ["initcall_debug", "ignore_loglevel", ...tsc]),
    init: plain(vm.with({ initrd: marked.path }), []),
  };
  const boot = (argv: string[]) => async () => {
    const lines: Line[] = [];
    const o = await bootOnce(argv, { banner, timeoutMs: 20_000, onLine: (text, ms) => lines.push({ text, ms }) });
    return { lines, exitMs: o.exitMs, ok: !o.hung && o.exitCode === 0 };
  };
  const samples = await alternate({ timeline: boot(argvs.timeline), initcalls: boot(argvs.initcalls), init: boot(argvs.init) }, {
    rounds: boots,
    onSample: (name, i) => opts.progress?.(`profile ${name} ${i + 1}/${boots}`),
  });
  const med = (xs: (number | undefined)[]) => summarize(xs.filter((x): x is number => x !== undefined)).median;
  const f = (ms: number) => `${ms.toFixed(1)} ms`;
  const out: string[] = [];

  const tl = samples.timeline.map((s) => s.value);
  const guestRunInit = (ls: readonly Line[]) => Number(/\[\s*(\d+\.\d+)\]\s+Run \/init/.exec(ls.find((l) => l.text.includes("Run /init"))?.text ?? "")?.[1]) * 1000;
  const points: [string, (ls: readonly Line[], exitMs?: number) => number | undefined][] = [
    ["first kernel line (earlyprintk, setup_arch)", (ls) => ls[0]?.ms],
    ['"Run /init"', (ls) => at(ls, (t) => t.includes("Run /init"))],
    ["/init banner", (ls) => at(ls, (t) => t.includes(banner))],
    ["exit status line", (ls) => at(ls, (t) => t.includes(exitMarker))],
    ["QEMU exit", (_, e) => e],
  ];
  out.push(`## Host timeline (${tl.filter((t) => t.ok).length}/${tl.length} clean boots, no quiet, earlyprintk)`, "", "| point | host ms (median) | since previous |", "|---|---|---|");
  let prev = 0;
  for (const [name, pick] of points) {
    const m = med(tl.map((t) => pick(t.lines, t.exitMs)));
    out.push(`| ${name} | ${f(m)} | ${f(m - prev)} |`);
    prev = m;
  }
  out.push("", `Guest printk uptime at "Run /init" (jiffies clock, starts at the timer setup): ${f(med(tl.map((t) => guestRunInit(t.lines))))}.`, "");

  const ic = samples.initcalls.map((s) => initcallDurations(s.value.lines.map((l) => l.text)));
  const names = [...new Set(ic.flatMap((m) => [...m.keys()]))];
  const ranked = names.map((n) => ({ n, ms: med(ic.map((m) => m.get(n))) })).sort((a, b) => b.ms - a.ms);
  out.push(`## Slowest initcalls (median of ${ic.length} boots, initcall_debug${tsc.length ? `, ${tsc[0]}` : ""})`, "", "| initcall | ms |", "|---|---|");
  for (const { n, ms } of ranked.slice(0, 15)) out.push(`| ${n} | ${ms.toFixed(2)} |`);
  out.push("", `All ${names.length} initcalls: ${f(ranked.reduce((s, r) => s + (Number.isFinite(r.ms) ? r.ms : 0), 0))} (their console lines cost time of their own).`, "");

  const ini = samples.init.map((s) => s.value);
  const steps = [...new Set(ini.flatMap((b) => b.lines.filter((l) => l.text.startsWith(MARK)).map((l) => l.text)))];
  const marks = [
    { name: '(kernel prints "Run /init"; exec of /init)', ms: med(ini.map((b) => at(b.lines, (t) => t.includes("Run /init")))) },
    ...steps.map((s) => ({ name: s.slice(MARK.length).replace(/^\d+ /, ""), ms: med(ini.map((b) => at(b.lines, (t) => t === s))) })),
    { name: "(the exit status line)", ms: med(ini.map((b) => at(b.lines, (t) => t.includes(exitMarker)))) },
    { name: "(QEMU exit)", ms: med(ini.map((b) => b.exitMs)) },
  ].sort((x, y) => x.ms - y.ms);
  out.push(`## /init, step by step (host ms from a marker to the next, median of ${ini.length} boots; each marker is an \`echo\`)`, "", "| step | ms |", "|---|---|");
  marks.slice(0, -1).forEach((m, i) => out.push(`| ${m.name.replace(/\|/g, "\\|")} | ${f(marks[i + 1].ms - m.ms)} |`));
  const toBanner = med(ini.map((b) => (at(b.lines, (t) => t.includes(banner)) ?? NaN) - (at(b.lines, (t) => t.includes("Run /init")) ?? NaN)));
  out.push("", `"Run /init" to the banner with the markers: ${f(toBanner)} (without them, see the timeline).`, "");
  return out.join("\n");
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["boots"] });
  process.stdout.write(await profile({ boots: args.boots ? Number(args.boots) : undefined, progress: ttyProgress() }));
}
