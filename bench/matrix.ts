/**
 * A test matrix against the same runs one after another: `microforge test
 * --repeat 8 --parallel 2 -- true` vs 8 sequential `microforge run -- true`,
 * both on Node with everything cached, alternated after a warm-up.
 * Target: ≤ 0.6× (two cores allow 0.5×).
 *
 *   npm run bench:matrix [-- --rounds 3 --quick]
 */
import { minimist } from "zx";
import { runProcess } from "../lib/util/process.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { type BenchOptions, nodeCli, nodeCliEntry, repoRoot, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BenchResult, formatMs, renderResult } from "./lib/report.ts";
import { alternate, ratio, summarize, times } from "./lib/stats.ts";

const CELLS = 8;
const TIMEOUT_MS = 600_000;

/** Time the matrix of 8 `true` cells against 8 sequential runs. */
export async function run(opts: BenchOptions = {}): Promise<BenchResult> {
  const env = process.env;
  useBenchCache(env);
  const rounds = opts.rounds ?? (opts.quick ? 1 : 3);
  const progress = opts.progress ?? (() => undefined);
  const cli = (args: string[]) => runProcess(["node", nodeCli, ...args], { cwd: repoRoot, env, timeoutMs: TIMEOUT_MS });
  const samples = await alternate({
    matrix: () => cli(["test", "--quiet", "--repeat", String(CELLS), "--parallel", "2", "--", "true"]),
    sequential: async () => {
      for (let i = 0; i < CELLS; i++) await cli(["run", "--quiet", "--", "true"]);
    },
  }, { rounds, warmup: 1, onSample: (side, i, s) => progress(`matrix ${side} ${i + 1}/${rounds}: ${s.ms.toFixed(0)} ms`) });
  const [m, seq] = [summarize(times(samples.matrix)), summarize(times(samples.sequential))];
  const r = ratio(m.median, seq.median);
  return {
    name: "matrix",
    title: `Test matrix: test --repeat ${CELLS} --parallel 2 -- true vs ${CELLS} sequential run -- true (${rounds} rounds)`,
    timestamp: new Date().toISOString(),
    quick: !!opts.quick,
    rows: [{ benchmark: `test --repeat ${CELLS} --parallel 2 -- true`, ours: formatMs(m), theirs: formatMs(seq), ratio: r, target: "≤ 0.6×", met: r <= 0.6 }],
    notes: [`Wall time of the whole command; kernel and initramfs cached; the sides alternate after a warm-up. bin/microforge.js ran ${nodeCliEntry()}.`],
    data: { rounds, matrix: m, sequential: seq },
  };
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["rounds"], boolean: ["quick"] });
  const result = await run({ quick: args.quick, rounds: args.rounds ? Number(args.rounds) : undefined, progress: ttyProgress() });
  process.stdout.write(renderResult(result));
}
