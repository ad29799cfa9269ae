/**
 * `npm run soak -- [--boots N] [VM options]`: boot the default VM N times
 * (default 50) in a row, each running a scripted `echo`, and report the
 * successes, hangs (boots that hit `--timeout`), failures, QEMU processes
 * left behind, and the wall-time distribution of a boot. Exits 1 if any boot
 * did not succeed. CI runs 20 (test/reliability/soak.test.ts).
 */
import { readdir, readFile } from "node:fs/promises";
import { type Command, helpText, parseFlags } from "../lib/cli/command.ts";
import { type ParsedArgs } from "../lib/util/flags.ts";
import { vmFlags, vmOptions } from "../lib/cli/vm-flags.ts";
import { BootTimeoutError, MicroforgeError, UsageError } from "../lib/util/errors.ts";
import { stderrLogger } from "../lib/util/log.ts";
import type { MicroVM } from "../lib/vm/microvm.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { execInVm } from "../lib/run/exec.ts";
import { vmWithDefaults } from "../lib/recipe/defaults.ts";

/** How one boot ended. */
export interface BootOutcome {
  boot: number;
  status: "ok" | "hang" | "failure";
  wallMs: number;
  /** Why it is not ok: the error's first line, or what came back instead of the echo. */
  reason?: string;
}

/** Wall-time figures in milliseconds: min, median, p90 (nearest rank) and max. */
export interface Distribution {
  min: number;
  median: number;
  p90: number;
  max: number;
}

/** The soak's result, as `--json` prints it. */
export interface SoakReport {
  boots: number;
  ok: number;
  hangs: number;
  failures: number;
  /** QEMU processes of ours still alive after a boot ended (summed over boots). */
  leftoverQemu: number;
  wallMs: Distribution;
  /** Every boot that was not ok. */
  problems: BootOutcome[];
}

/** The distribution of `values` (empty: all zero). */
export function distribution(values: readonly number[]): Distribution {
  if (!values.length) return { min: 0, median: 0, p90: 0, max: 0 };
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { min: s[0], median, p90: s[Math.ceil(0.9 * s.length) - 1], max: s[s.length - 1] };
}

/** Summarize the outcomes of a soak. */
export function soakReport(outcomes: readonly BootOutcome[], leftoverQemu = 0): SoakReport {
  const count = (status: BootOutcome["status"]) => outcomes.filter((o) => o.status === status).length;
  return {
    boots: outcomes.length,
    ok: count("ok"),
    hangs: count("hang"),
    failures: count("failure"),
    leftoverQemu,
    wallMs: distribution(outcomes.map((o) => o.wallMs)),
    problems: outcomes.filter((o) => o.status !== "ok"),
  };
}

/** The report for people. */
export function formatSoak(r: SoakReport): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const lines = [
    `${r.boots} boots: ${r.ok} ok, ${r.hangs} hangs, ${r.failures} failures, ${r.leftoverQemu} QEMU left behind`,
    `wall time per boot: median ${s(r.wallMs.median)}, p90 ${s(r.wallMs.p90)}, max ${s(r.wallMs.max)} (min ${s(r.wallMs.min)})`,
    ...r.problems.map((p) => `  boot ${p.boot}: ${p.status} after ${s(p.wallMs)}: ${p.reason ?? ""}`),
  ];
  return lines.join("\n") + "\n";
}

/** QEMU processes whose parent is this process (Linux /proc): after a boot there must be none. */
async function childQemus(): Promise<number> {
  let n = 0;
  for (const pid of (await readdir("/proc").catch(() => [] as string[])).filter((p) => /^\d+$/.test(p))) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
    const m = /^\d+ \((.*)\) \S+ (\d+)/s.exec(stat);
    if (m && m[1].startsWith("qemu-system") && Number(m[2]) === process.pid) n++;
  }
  return n;
}

/** Boot `vm` once with `echo soak-<boot>` and judge the result. */
export async function soakBoot(vm: MicroVM, boot: number, timeoutMs: number): Promise<BootOutcome> {
  const expected = `soak-${boot}\n`;
  let out = "";
  let err = "";
  const started = performance.now();
  try {
    const r = await execInVm(vm, ["echo", `soak-${boot}`], {
      stdout: (c) => void (out += new TextDecoder().decode(c)),
      stderr: (c) => void (err += new TextDecoder().decode(c)),
      timeoutMs,
    });
    const wallMs = Math.round(performance.now() - started);
    if (r.exitCode === 0 && out === expected) return { boot, status: "ok", wallMs };
    return { boot, status: "failure", wallMs, reason: `exit ${r.exitCode}, stdout ${JSON.stringify(out.slice(0, 200))}${err ? `, stderr ${JSON.stringify(err.slice(0, 200))}` : ""}` };
  } catch (e) {
    const wallMs = Math.round(performance.now() - started);
    const reason = (e instanceof MicroforgeError ? e.summary : String(e)).split("\n")[0];
    return { boot, status: e instanceof BootTimeoutError ? "hang" : "failure", wallMs, reason };
  }
}

const soakCommand: Command = {
  name: "soak",
  summary: "Boot the default VM N times in a row with a scripted echo; report successes, hangs, failures and boot wall times",
  usage: "[--boots N] [--timeout S] [--json] [VM options]",
  flags: [
    { name: "boots", type: "string", default: "50", description: "how many boots" },
    { name: "timeout", type: "string", default: "60", description: "seconds one boot may take before it counts as a hang" },
    { name: "json", type: "boolean", description: "print the report as JSON" },
    { name: "quiet", alias: "q", type: "boolean", description: "no line per boot" },
    ...vmFlags,
  ],
  async run(args: ParsedArgs): Promise<number> {
    const boots = Number(args.boots);
    if (!/^\d+$/.test(String(args.boots)) || boots < 1) throw new UsageError(`Invalid --boots ${JSON.stringify(args.boots)}`, "pass a whole number of boots, 1 or more");
    const timeout = Number(args.timeout);
    if (!/^\d+(\.\d+)?$/.test(String(args.timeout)) || !(timeout > 0)) throw new UsageError(`Invalid --timeout ${JSON.stringify(args.timeout)}`, "pass the seconds one boot may take, e.g. 60");
    if (args._.length) throw new UsageError(`Unexpected argument ${args._[0]}`, "the soak runs its own command; see --help");
    const log = stderrLogger({ quiet: args.quiet as boolean });
    const vm = await vmWithDefaults({ ...vmOptions(args), log, quiet: args.quiet as boolean });
    const outcomes: BootOutcome[] = [];
    let leftover = 0;
    for (let i = 1; i <= boots; i++) {
      const o = await soakBoot(vm, i, timeout * 1000);
      const left = await childQemus();
      if (left) Object.assign(o, { status: "failure", reason: `${left} QEMU still running after the boot${o.reason ? `; ${o.reason}` : ""}` });
      leftover += left;
      outcomes.push(o);
      log.step(`boot ${i}/${boots}: ${o.status} in ${(o.wallMs / 1000).toFixed(2)} s${o.reason ? ` (${o.reason})` : ""}`);
    }
    const report = soakReport(outcomes, leftover);
    process.stdout.write(args.json ? JSON.stringify(report, null, 2) + "\n" : formatSoak(report));
    return report.ok === report.boots ? 0 : 1;
  },
};

/** Run the soak with `argv` (without the program name); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const args = parseFlags(soakCommand, argv);
    if (args.help) {
      process.stdout.write(helpText(soakCommand).replace("microforge soak", "npm run soak --"));
      return 0;
    }
    return await soakCommand.run(args);
  } catch (err) {
    if (err instanceof MicroforgeError) {
      process.stderr.write(`soak: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

if (isMainModule(import.meta)) {
  process.exitCode = await main(process.argv.slice(2));
}
