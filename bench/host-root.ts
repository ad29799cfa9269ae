/**
 * Boot cost of `--host-root` against the busybox initramfs: `-- true` in a
 * fresh VM each way, the same kernel, alternated after a warm-up, wall time
 * of the whole scripted run (QEMU start to exit). The host-root side also
 * mounts the host's / over 9p under a tmpfs overlay and chroots into it.
 *
 *   npm run bench:host-root [-- --rounds 10 --quick]
 */
import { minimist } from "zx";
import { execInVm } from "../lib/run/exec.ts";
import { vmWithDefaults } from "../lib/recipe/defaults.ts";
import type { Logger } from "../lib/util/log.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { type BenchOptions, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BenchResult, formatMs, renderResult } from "./lib/report.ts";
import { alternate, ratio, summarize, times } from "./lib/stats.ts";

const silent: Logger = { step: () => undefined, warn: () => undefined };

/** `-- true` with `--host-root` vs the initramfs. */
export async function run(opts: BenchOptions = {}): Promise<BenchResult> {
  const env = process.env;
  useBenchCache(env);
  const rounds = opts.rounds ?? (opts.quick ? 3 : 10);
  const progress = opts.progress ?? (() => undefined);
  const common = { kernelSource: "debian", kernelVersion: "6.1", log: silent, quiet: true, env };
  const initramfs = await vmWithDefaults(common);
  const hostRoot = await vmWithDefaults({ ...common, hostRoot: true });
  const once = (vm: typeof initramfs, probe: string) => async () => {
    let out = "";
    const r = await execInVm(vm, ["sh", "-c", probe], { stdout: (c) => void (out += new TextDecoder().decode(c)), timeoutMs: 60_000 });
    if (r.exitCode !== 0) throw new Error(`-- ${probe} failed (exit ${r.exitCode})`);
    return out;
  };
  // Each side checks it ran where it should: the host-root side sees the host's /usr/bin/node.
  const samples = await alternate({
    "host-root": once(hostRoot, "test -x /usr/bin/node"),
    initramfs: once(initramfs, "! test -e /usr/bin/node"),
  }, { rounds, warmup: 1, onSample: (side, i, s) => progress(`host-root ${side} ${i + 1}/${rounds}: ${s.ms.toFixed(0)} ms`) });
  const [hr, ir] = [summarize(times(samples["host-root"])), summarize(times(samples.initramfs))];
  const r = ratio(hr.median, ir.median);
  return {
    name: "host-root",
    title: `--host-root vs the busybox initramfs: a scripted run of -- true (${rounds} rounds, ${(initramfs.spec.accel ?? "tcg").toUpperCase()})`,
    timestamp: new Date().toISOString(),
    quick: !!opts.quick,
    rows: [{ benchmark: "run -- true with --host-root", ours: formatMs(hr), theirs: formatMs(ir), ratio: r, target: "≤ 1.25×", met: r <= 1.25 }],
    notes: ["Same kernel (Debian 6.1, default features); \"theirs\" is the same run in the initramfs. Wall time per run, in-process (no CLI start-up)."],
    data: { rounds, hostRoot: hr, initramfs: ir },
  };
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["rounds"], boolean: ["quick"] });
  const result = await run({ quick: args.quick, rounds: args.rounds ? Number(args.rounds) : undefined, progress: ttyProgress() });
  process.stdout.write(renderResult(result));
}
