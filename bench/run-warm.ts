/**
 * Warm scripted run: `microforge run -- true` with everything cached, on Node
 * and on Deno, against the raw QEMU command `microforge emit -- true` prints
 * (same kernel; `true` baked into /init), run directly. The first run of
 * each side is the warm-up, so later ones start their VM early (warm-start.ts).
 * Target: ≤ 1.15× the raw command's wall time.
 *
 *   npm run bench:run [-- --rounds 10 --quick]
 */
import { minimist } from "zx";
import { parseFlags } from "../lib/cli/command.ts";
import { emitCommand } from "../lib/cli/emit.ts";
import { vmOptions } from "../lib/cli/vm-flags.ts";
import { runProcess } from "../lib/util/process.ts";
import type { Logger } from "../lib/util/log.ts";
import { defaultInitVars } from "../lib/initramfs/rootfs.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { vmWithDefaults } from "../lib/recipe/defaults.ts";
import { bootOnce } from "./lib/boot-once.ts";
import { type BenchOptions, denoBin, nodeCli, nodeCliEntry, repoRoot, tsCli, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BenchResult, formatMs, renderResult, type Row } from "./lib/report.ts";
import { alternate, ratio, summarize, times } from "./lib/stats.ts";

const silent: Logger = { step: () => undefined, warn: () => undefined };
const TIMEOUT_MS = 60_000;

/** Time `microforge run -- true` (Node, Deno) against the emitted QEMU command. */
export async function run(opts: BenchOptions = {}): Promise<BenchResult> {
  const env = process.env;
  useBenchCache(env);
  const rounds = opts.rounds ?? (opts.quick ? 3 : 10);
  const progress = opts.progress ?? (() => undefined);
  const { banner } = defaultInitVars();
  // The argv `microforge emit -- true` prints: `true` baked into /init, the kernel quiet.
  const vm = await vmWithDefaults({ ...vmOptions(parseFlags(emitCommand, [])), command: ["true"], log: silent, quiet: true, env });
  const argv = vm.with({ quiet: true }).toArgv();
  const notes = ["\"raw QEMU\" is the QEMU command `microforge emit -- true` prints, run directly: /init runs `true`, prints its status on the console and powers the VM off."];
  const check = await bootOnce(argv, { banner, timeoutMs: 10_000 });
  if (check.hung || check.exitCode !== 0) throw new Error(`The emitted command did not boot and exit 0 (${check.hung ? "hang" : `QEMU status ${check.exitCode}`}):\n${check.tail}`);
  const cli = (prefix: string[], flags: string[] = []) => () => runProcess([...prefix, "run", ...flags, "--", "true"], { cwd: repoRoot, env, timeoutMs: TIMEOUT_MS });
  const samples = await alternate({
    node: cli(["node", nodeCli]),
    deno: cli([denoBin, "run", "-A", tsCli]),
    // The opt-in: the warm-up run saves the snapshot, the timed ones restore it.
    snapshot: cli(["node", nodeCli], ["--snapshot"]),
    raw: async () => {
      const o = await bootOnce(argv, { banner, timeoutMs: TIMEOUT_MS });
      if (o.hung || o.exitCode !== 0) throw new Error(`Raw QEMU run failed (${o.hung ? "hang" : `status ${o.exitCode}`}):\n${o.tail}`);
      return o;
    },
  }, { rounds, warmup: 1, onSample: (side, i, s) => progress(`run-warm ${side} ${i + 1}/${rounds}: ${s.ms.toFixed(0)} ms`) });
  const [node, deno, raw] = [summarize(times(samples.node)), summarize(times(samples.deno)), summarize(times(samples.raw))];
  const snapshot = summarize(times(samples.snapshot));
  const row = (label: string, s: typeof node): Row => {
    const r = ratio(s.median, raw.median);
    return { benchmark: label, ours: formatMs(s), theirs: formatMs(raw), ratio: r, target: "≤ 1.15×", met: r <= 1.15 };
  };
  return {
    name: "run-warm",
    title: `Warm scripted run: microforge run -- true vs the emitted QEMU command (${rounds} rounds, ${(vm.spec.accel ?? "tcg").toUpperCase()})`,
    timestamp: new Date().toISOString(),
    quick: !!opts.quick,
    rows: [row("run -- true, warm (Node)", node), row("run -- true, warm (Deno)", deno), row("run --snapshot -- true, warm (Node)", snapshot)],
    notes: [...notes, `Wall time per process, kernel and initramfs cached; the sides alternate after a warm-up. bin/microforge.js ran ${nodeCliEntry()}.`],
    data: { rounds, accel: vm.spec.accel, argv, node, deno, snapshot, raw },
  };
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["rounds"], boolean: ["quick"] });
  const result = await run({ quick: args.quick, rounds: args.rounds ? Number(args.rounds) : undefined, progress: ttyProgress() });
  process.stdout.write(renderResult(result));
}
