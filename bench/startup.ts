/**
 * Tool start-up: `microforge emit --one-line` with everything cached, on
 * Node (the bin) and on Deno, against the runtime starting and doing
 * nothing (`node -e 0`, `deno eval 0`), plus `node --import tsx lib/cli.ts`
 * as a reference (the TypeScript compiled at each start). All five
 * alternate. Target: emit ≤ 3× its runtime's empty start.
 *
 *   npm run bench:startup [-- --rounds 10 --quick]
 */
import { minimist } from "zx";
import { runProcess } from "../lib/util/process.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { type BenchOptions, denoBin, nodeCli, nodeCliEntry, repoRoot, tsCli, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BenchResult, formatMs, renderResult, type Row } from "./lib/report.ts";
import { alternate, ratio, summarize, times } from "./lib/stats.ts";

/** Time `emit --one-line` on each runtime. */
export async function run(opts: BenchOptions = {}): Promise<BenchResult> {
  const env = process.env;
  useBenchCache(env);
  const rounds = opts.rounds ?? (opts.quick ? 3 : 10);
  const progress = opts.progress ?? (() => undefined);
  const emit = (prefix: string[]) => () => runProcess([...prefix, "emit", "--one-line"], { cwd: repoRoot, env, timeoutMs: 120_000 });
  const empty = (argv: string[]) => () => runProcess(argv, { cwd: repoRoot, env, timeoutMs: 60_000 });
  const samples = await alternate({
    node: emit(["node", nodeCli]),
    nodeEmpty: empty(["node", "-e", "0"]),
    deno: emit([denoBin, "run", "-A", tsCli]),
    denoEmpty: empty([denoBin, "eval", "0"]),
    tsx: emit(["node", "--import", "tsx", tsCli]),
  }, { rounds, warmup: 1, onSample: (side, i, s) => progress(`startup ${side} ${i + 1}/${rounds}: ${s.ms.toFixed(0)} ms`) });
  const [node, deno, tsx] = [summarize(times(samples.node)), summarize(times(samples.deno)), summarize(times(samples.tsx))];
  const [nodeEmpty, denoEmpty] = [summarize(times(samples.nodeEmpty)), summarize(times(samples.denoEmpty))];
  const row = (benchmark: string, s: typeof node, base: typeof node): Row => {
    const r = ratio(s.median, base.median);
    return { benchmark, ours: formatMs(s), theirs: formatMs(base), ratio: r, target: "≤ 3×", met: r <= 3 };
  };
  return {
    name: "startup",
    title: `Tool start-up: microforge emit --one-line, everything cached (${rounds} rounds)`,
    timestamp: new Date().toISOString(),
    quick: !!opts.quick,
    rows: [
      row("emit warm (Node, bin/microforge.js) vs node -e 0", node, nodeEmpty),
      row("emit warm (Deno) vs deno eval 0", deno, denoEmpty),
      { benchmark: "emit start-up (node --import tsx, reference)", ours: formatMs(tsx), theirs: "", target: "" },
    ],
    notes: [`Wall time of each process, from spawn to exit; the five alternate after a warm-up. bin/microforge.js ran ${nodeCliEntry()}.`],
    data: { rounds, node, deno, tsx, nodeEmpty, denoEmpty },
  };
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["rounds"], boolean: ["quick"] });
  const result = await run({ quick: args.quick, rounds: args.rounds ? Number(args.rounds) : undefined, progress: ttyProgress() });
  process.stdout.write(renderResult(result));
}
