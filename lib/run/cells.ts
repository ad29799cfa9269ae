/**
 * The cells of a test matrix: the cross product of kernels, feature sets and
 * repeats, each with a stable index and a name, and the deterministic slice
 * of them one shard of a CI job runs.
 */
import { UsageError } from "../util/errors.ts";
import type { Shard } from "./test-report.ts";
import type { Arch } from "../util/arch.ts";

/** The axes of a matrix. */
export interface MatrixAxes {
  /** Guest architectures; none means the VM options' one, and no architecture in the ids. */
  arches?: readonly Arch[];
  /** Kernel version specs (`6.1`, `longterm`), or `tree` for a local source tree. */
  kernels: readonly string[];
  /** Feature sets by name: `default`, or a comma-separated list such as `virtio,net`. */
  featureSets: readonly string[];
  /** How many times each kernel and feature set runs (1-based repeats). */
  repeat: number;
}

/** One cell to run. */
export interface CellPlan {
  /** Its place in the whole matrix, from 0. */
  index: number;
  /** `<kernel>/<features>#<repeat>`, e.g. `6.1/default#1`; `<arch>/...` with an architecture axis. */
  id: string;
  arch?: Arch;
  kernel: string;
  features: string;
  repeat: number;
}

/** Every cell of the matrix: architectures outermost, then kernels, feature sets and repeats. */
export function matrixCells(axes: MatrixAxes): CellPlan[] {
  const cells: CellPlan[] = [];
  for (const arch of axes.arches?.length ? axes.arches : [undefined]) {
    for (const kernel of axes.kernels) {
      for (const features of axes.featureSets) {
        for (let repeat = 1; repeat <= axes.repeat; repeat++) {
          const id = `${arch ? `${arch}/` : ""}${kernel}/${features}#${repeat}`;
          cells.push({ index: cells.length, id, ...(arch ? { arch } : {}), kernel, features, repeat });
        }
      }
    }
  }
  return cells;
}

/** Parse `--shard K/N` (1 ≤ K ≤ N). */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!(index >= 1 && count >= 1 && index <= count)) {
    throw new UsageError(`Invalid --shard ${JSON.stringify(text)}`, "use K/N with 1 ≤ K ≤ N, e.g. --shard 1/4 for the first of four jobs");
  }
  return { index, count };
}

/**
 * The cells shard K of N runs: every N-th cell from the (K-1)-th, so each
 * shard gets a share of every kernel, and the shards together run each
 * cell exactly once.
 */
export function shardCells<T extends { index: number }>(cells: readonly T[], shard: Shard | undefined): T[] {
  if (!shard) return [...cells];
  return cells.filter((c) => c.index % shard.count === shard.index - 1);
}
