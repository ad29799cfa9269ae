/**
 * What benchmarks report: the machine they ran on (CPU, RAM, kernel, QEMU,
 * Node, Deno, accelerator), the results JSON shape, and the table of
 * benchmark / ours / theirs / ratio / target / met? as Markdown.
 */
import { readFile } from "node:fs/promises";
import { availableParallelism, release, totalmem } from "node:os";
import { chooseAccel } from "../../lib/vm/accel.ts";
import { runProcess } from "../../lib/util/process.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import { findQemu } from "../../lib/host/qemu.ts";
import { denoBin } from "./env.ts";
import type { Summary } from "./stats.ts";

/** The host a run measured. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memGiB: number;
  os: string;
  kernel: string;
  qemu: string;
  node: string;
  deno: string;
  /** What `chooseAccel` picks here (auto, or MICROFORGE_ACCEL). */
  accel: "kvm" | "tcg" | "unknown";
  /** Why, when it is not KVM. */
  accelNote?: string;
}

/** One line of the table; `ratio` is ours / theirs. */
export interface Row {
  benchmark: string;
  ours: string;
  theirs: string;
  ratio?: number;
  target: string;
  /** Whether the target was met; undefined when there is none. */
  met?: boolean;
}

/** What one benchmark's `run` gives back. */
export interface BenchResult {
  /** Short name: initramfs, kernel, boot, run-warm, startup. */
  name: string;
  title: string;
  timestamp: string;
  quick: boolean;
  rows: Row[];
  /** Caveats a reader needs (what was compared, fallbacks taken). */
  notes: string[];
  /** Raw figures (summaries, sizes, hang counts) for machines. */
  data: Record<string, unknown>;
}

/** `bench/results.json`. */
export interface BenchResults {
  timestamp: string;
  machine: MachineInfo;
  results: BenchResult[];
}

async function firstLine(argv: string[]): Promise<string> {
  const r = await runProcess(argv, { nothrow: true, timeoutMs: 30_000 }).catch(() => undefined);
  return r?.code === 0 ? (r.stdout.split("\n")[0] ?? "").trim() : "not found";
}

/** Describe this host; `env` picks the accelerator like the CLI does. */
export async function machineInfo(env: Record<string, string | undefined> = process.env): Promise<MachineInfo> {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  const osRelease = await readFile("/etc/os-release", "utf8").catch(() => "");
  const qemu = await findQemu({ env });
  let accel: MachineInfo["accel"] = "unknown";
  let accelNote: string | undefined;
  if (qemu) {
    const log = memoryLogger();
    const want = (env.MICROFORGE_ACCEL || "auto") as "auto" | "kvm" | "tcg";
    accel = await chooseAccel(want, { qemu, log }).catch(() => "unknown" as const);
    // chooseAccel's warning reads "KVM is not usable here (REASON); booting with TCG, ...".
    const reason = log.lines.map((l) => /not usable here \((.*)\); booting/.exec(l)?.[1] ?? l.replace(/^warning: /, "")).join("; ");
    accelNote = want === "tcg" ? "MICROFORGE_ACCEL=tcg" : reason ? `KVM not usable: ${reason}` : undefined;
  }
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    cores: availableParallelism(),
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1] ?? process.platform,
    kernel: release(),
    qemu: qemu ? (await firstLine([qemu, "--version"])).replace(/^QEMU emulator version /, "") : "not found",
    node: await firstLine(["node", "--version"]),
    deno: (await firstLine([denoBin, "--version"])).replace(/^deno (\S+).*$/, "$1"),
    accel,
    accelNote,
  };
}

/** "812 ms (min 743, max 1020)" from a summary in milliseconds. */
export function formatMs(s: Summary): string {
  if (!s.n) return "n/a";
  const f = (x: number) => (s.median >= 10_000 ? (x / 1000).toFixed(1) : x.toFixed(0));
  const unit = s.median >= 10_000 ? "s" : "ms";
  return `${f(s.median)} ${unit} (min ${f(s.min)}, max ${f(s.max)})`;
}

/** "0.42×", or "n/a". */
export function formatRatio(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? "n/a" : `${r.toFixed(2)}×`;
}

/** The rows as a Markdown table, columns padded so it also reads well in a terminal. */
export function renderTable(rows: readonly Row[]): string {
  const head = ["benchmark", "ours", "theirs", "ratio", "target", "met?"];
  const cells = rows.map((r) => [r.benchmark, r.ours, r.theirs, r.ratio === undefined ? "" : formatRatio(r.ratio), r.target, r.met === undefined ? "" : r.met ? "yes" : "no"]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.map(line)].join("\n") + "\n";
}

/** The machine in one line, for under the table. */
export function machineLine(m: MachineInfo): string {
  const accel = m.accel === "kvm" ? "KVM" : m.accel === "tcg" ? `TCG${m.accelNote ? ` (${m.accelNote})` : ""}` : "unknown";
  return `Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB RAM, ${m.os}, Linux ${m.kernel}; QEMU ${m.qemu}; Node ${m.node}; Deno ${m.deno}. Accelerator: ${accel}.`;
}

/** One benchmark's table and notes, for standalone runs. */
export function renderResult(r: BenchResult): string {
  return `${r.title}${r.quick ? " (--quick)" : ""}\n\n${renderTable(r.rows)}${r.notes.map((n) => `- ${n}\n`).join("")}`;
}

/** `bench/results.md`: every benchmark's rows in one table, the machine, and the notes. */
export function renderMarkdown(all: BenchResults): string {
  const quick = all.results.some((r) => r.quick) ? " Some figures are from --quick runs (few rounds)." : "";
  const dates = all.results.map((r) => `${r.name} ${r.timestamp.slice(0, 16).replace("T", " ")}`).join(", ");
  return [
    renderTable(all.results.flatMap((r) => r.rows)),
    `${machineLine(all.machine)}${quick}`,
    "",
    `Measured (UTC): ${dates}.`,
    "",
    ...all.results.flatMap((r) => r.notes.map((n) => `- ${r.name}: ${n}`)),
    "",
  ].join("\n");
}
