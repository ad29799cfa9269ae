/**
 * The three guest architectures side by side under TCG on this host: the
 * cold (cross-)build of the default kernel, as the build that made its cache
 * entry recorded it (`--rebuild` builds each again into a fresh cache
 * first), and the boot to `/init`: each architecture's `emit -- true` QEMU
 * command, spawned directly, alternated after a warm-up, timed from spawn to
 * the /init banner and to QEMU's exit.
 *
 *   npm run bench:arch [-- --rounds 10 --quick --rebuild]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { minimist } from "zx";
import { ARCHES, type Arch } from "../lib/util/arch.ts";
import { lockedKernel } from "../lib/fetch/locked.ts";
import { buildKernel } from "../lib/kernel/build.ts";
import { defaultInitVars } from "../lib/initramfs/rootfs.ts";
import { vmWithDefaults } from "../lib/recipe/defaults.ts";
import type { Logger } from "../lib/util/log.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { cacheRoot } from "../lib/util/cache-dir.ts";
import { bootOnce } from "./lib/boot-once.ts";
import { type BenchOptions, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BenchResult, formatMs, renderResult, type Row } from "./lib/report.ts";
import { alternate, summarize } from "./lib/stats.ts";

const silent: Logger = { step: () => undefined, warn: () => undefined };

/** Options of {@linkcode run}: also build each kernel again, cold, in a fresh cache. */
export interface ArchBenchOptions extends BenchOptions {
  rebuild?: boolean;
}

/** Cold build and boot to /init of each architecture. */
export async function run(opts: ArchBenchOptions = {}): Promise<BenchResult> {
  const env = process.env;
  useBenchCache(env);
  const rounds = opts.rounds ?? (opts.quick ? 3 : 10);
  const progress = opts.progress ?? (() => undefined);
  const arches = Object.keys(ARCHES) as Arch[];
  const builds: Record<string, number> = {};
  if (opts.rebuild) {
    // A cache of its own: every build is cold (the extracted tree is fresh too).
    const fresh = await mkdtemp(join(cacheRoot(env), "..", "bench-arch-"));
    try {
      const cold = { ...env, MICROFORGE_CACHE: fresh };
      const tarball = await lockedKernel("6.1", { source: "debian", quiet: true, env: cold });
      for (const arch of arches) {
        const t = performance.now();
        await buildKernel({ tarball, arch, env: cold, log: silent, quiet: true });
        builds[arch] = (performance.now() - t) / 1000;
        progress(`arch ${arch}: cold build ${builds[arch].toFixed(0)} s`);
      }
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  }
  const { banner } = defaultInitVars();
  const vms = Object.fromEntries(await Promise.all(arches.map(async (arch) => {
    const vm = await vmWithDefaults({ arch, kernelSource: "debian", kernelVersion: "6.1", accel: "tcg", command: ["true"], log: silent, quiet: true, env });
    return [arch, vm] as const;
  })));
  const samples = await alternate(Object.fromEntries(arches.map((arch) => [arch, async () => {
    const o = await bootOnce(vms[arch].with({ quiet: true }).toArgv(), { banner, timeoutMs: 60_000 });
    if (o.hung || o.exitCode !== 0 || o.initMs === undefined) throw new Error(`${arch} boot failed (${o.hung ? "hang" : `status ${o.exitCode}`}):\n${o.tail}`);
    return o;
  }])), { rounds, warmup: 1, onSample: (side, i, s) => progress(`arch ${side} ${i + 1}/${rounds}: /init ${(s.value as { initMs: number }).initMs.toFixed(0)} ms`) });
  const rows: Row[] = [];
  const x86 = summarize(samples.x86_64.map((s) => (s.value as { initMs: number }).initMs));
  for (const arch of arches) {
    const toInit = summarize(samples[arch].map((s) => (s.value as { initMs: number }).initMs));
    rows.push({ benchmark: `boot to /init, ${arch} (TCG)`, ours: formatMs(toInit), theirs: arch === "x86_64" ? "" : formatMs(x86), ratio: arch === "x86_64" ? undefined : toInit.median / x86.median, target: "" });
    if (builds[arch] !== undefined) rows.push({ benchmark: `kernel build, cold, ${arch}`, ours: `${builds[arch].toFixed(1)} s`, theirs: "", target: "" });
  }
  return {
    name: "arch",
    title: `Guest architectures under TCG: the default kernel (Linux 6.1, Debian's source) and the boot to /init (${rounds} rounds)`,
    timestamp: new Date().toISOString(),
    quick: !!opts.quick,
    rows,
    notes: [
      "\"theirs\" for a foreign architecture is x86_64's boot, so the ratio is its cost against the host's own.",
      "Boot: each architecture's `emit -- true` command spawned directly (no microforge in between), host time from spawn to the /init banner; arm64 is QEMU's virt with -cpu max, riscv64 virt with OpenSBI, x86_64 microvm with qboot.",
      ...(opts.rebuild ? ["Builds: make -j of each architecture's default kernel into a fresh cache, one after another, cross-compiled with Debian's gcc-aarch64-linux-gnu and gcc-riscv64-linux-gnu."] : []),
    ],
    data: { rounds, builds, samples },
  };
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["rounds"], boolean: ["quick", "rebuild"] });
  const result = await run({ quick: args.quick, rebuild: args.rebuild, rounds: args.rounds ? Number(args.rounds) : undefined, progress: ttyProgress() });
  process.stdout.write(renderResult(result));
}
