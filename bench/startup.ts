/**
 * Tool start-up: `microforge emit --one-line` with everything cached, on
 * Node (the bin) and on Deno, plus `node --import tsx lib/cli.ts` as a
 * reference (the TypeScript compiled at each start). Targets: Node ≤ 0.5 s,
 * Deno ≤ 0.3 s.
 *
 *   npm run bench:startup [-- --rounds 10 --quick]
 */
import { minimist } from "zx";
import { runProcess } from "../lib/util/process.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { type BenchOptions, denoBin, nodeCli, nodeCliEntry, repoRoot, tsCli, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BenchResult, formatMs, renderResult } from "./lib/report.ts";
import { alternate, summarize, times } from "./lib/stats.ts";

/** Time `emit --one-line` on each runtime. */
export async function run(opts: BenchOptions = {}): Promise<BenchResult> {
  const env = process.env;
  useBenchCache(env);
  const rounds = opts.rounds ?? (opts.quick ? 3 : 10);
  const progress = opts.progress ?? (() => undefined);
  const emit = (prefix: string[]) => () => runProcess([...prefix, "emit", "--one-line"], { cwd: repoRoot, env, timeoutMs: 120_000 });
  const samples = await alternate({
    node: emit(["node", nodeCli]),
    deno: emit([denoBin, "run", "-A", tsCli]),
    tsx: emit(["node", "--import", "tsx", tsCli]),
  }, { rounds, warmup: 1, onSample: (side, i, s) => progress(`startup ${side} ${i + 1}/${rounds}: ${s.ms.toFixed(0)} ms`) });
  const [node, deno, tsx] = [summarize(times(samples.node)), summarize(times(samples.deno)), summarize(times(samples.tsx))];
  return {
    name: "startup",
    title: `Tool start-up: microforge emit --one-line, everything cached (${rounds} rounds)`,
    timestamp: new Date().toISOString(),
    quick: !!opts.quick,
    rows: [
      { benchmark: "emit start-up (Node, bin/microforge.js)", ours: formatMs(node), theirs: "", target: "≤ 0.5 s", met: node.median <= 500 },
      { benchmark: "emit start-up (Deno)", ours: formatMs(deno), theirs: "", target: "≤ 0.3 s", met: deno.median <= 300 },
      { benchmark: "emit start-up (node --import tsx, reference)", ours: formatMs(tsx), theirs: "", target: "" },
    ],
    notes: [`Wall time of each process, from spawn to exit; the three alternate after a warm-up. bin/microforge.js ran ${nodeCliEntry()}.`],
    data: { rounds, node, deno, tsx },
  };
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["rounds"], boolean: ["quick"] });
  const result = await run({ quick: args.quick, rounds: args.rounds ? Number(args.rounds) : undefined, progress: ttyProgress() });
  process.stdout.write(renderResult(result));
}
