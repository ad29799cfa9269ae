/**
 * Run jobs at most N at a time, in order, with an optional fail-fast: once a
 * result counts as a failure, no further job starts and the running ones are
 * told to stop through their AbortSignal.
 */
import { availableParallelism, freemem } from "node:os";

/** Options of {@linkcode runPool}. */
export interface PoolOptions<R> {
  /** How many jobs run at once (at least 1). */
  parallel: number;
  /** Stop after the first result this says is a failure. */
  failFast?: (result: R) => boolean;
  /** Stop everything when this aborts (Ctrl-C). */
  signal?: AbortSignal;
}

/**
 * Run `work` on each item, `parallel` at a time, in the items' order.
 * Resolves to the results by position; a job that never started (fail-fast,
 * or `signal` aborted) is `undefined`. A job that throws rejects the pool
 * after the running jobs have settled.
 */
export async function runPool<T, R>(items: readonly T[], work: (item: T, signal: AbortSignal) => Promise<R>, o: PoolOptions<R>): Promise<(R | undefined)[]> {
  const results: (R | undefined)[] = new Array(items.length).fill(undefined);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  o.signal?.addEventListener("abort", onAbort, { once: true });
  if (o.signal?.aborted) stop.abort();
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (!stop.signal.aborted && next < items.length) {
      const i = next++;
      try {
        results[i] = await work(items[i], stop.signal);
        if (o.failFast?.(results[i] as R)) stop.abort();
      } catch (err) {
        failure ??= err;
        stop.abort();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.parallel, items.length)) }, lane));
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
  }
  if (failure !== undefined) throw failure;
  return results;
}

/** What {@linkcode defaultParallel} weighs. */
export interface HostCapacity {
  /** CPUs we may use. */
  cpus: number;
  /** Free memory, bytes. */
  freeBytes: number;
}

/** The host's CPUs and free memory now. */
export function hostCapacity(): HostCapacity {
  return { cpus: availableParallelism(), freeBytes: freemem() };
}

/** Memory a VM costs on top of its guest RAM (QEMU itself), bytes. */
const QEMU_OVERHEAD = 96 << 20;

/**
 * How many VMs to run at once: one per CPU (each TCG VM keeps a core busy),
 * but no more than fit in free memory with a quarter of it kept for the
 * host; at least 1.
 */
export function defaultParallel(vmMemoryBytes: number, host: HostCapacity = hostCapacity()): number {
  const fit = Math.floor((host.freeBytes * 0.75) / (vmMemoryBytes + QEMU_OVERHEAD));
  return Math.max(1, Math.min(host.cpus, fit));
}
