/**
 * Benchmark statistics and the alternating runner: every side runs in the
 * same process, round by round, after a warm-up, so drift in host load hits
 * all sides alike.
 */

/** Median, minimum and maximum of some samples. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Summarize `samples` (NaN fields when there are none). */
export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  if (!n) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { median, min: s[0], max: s[n - 1], n };
}

/** `ours / theirs`, or NaN when either is missing or theirs is 0. */
export function ratio(ours: number, theirs: number): number {
  return Number.isFinite(ours) && Number.isFinite(theirs) && theirs !== 0 ? ours / theirs : NaN;
}

/** One timed call: wall milliseconds and what the function returned. */
export interface Sample<T> {
  ms: number;
  value: T;
}

/** The sides of a comparison: name → the work to time. */
export type Sides = Record<string, () => Promise<unknown>>;

/** The samples of each side, typed by what that side returns. */
export type SamplesOf<S extends Sides> = { [K in keyof S]: Sample<Awaited<ReturnType<S[K]>>>[] };

/** Options of {@linkcode alternate}. */
export interface AlternateOptions<S extends Sides> {
  /** Measured rounds; each runs every side once. */
  rounds: number;
  /** Unmeasured rounds first (default 1). */
  warmup?: number;
  /** Called after each measured call (progress). */
  onSample?: (side: keyof S & string, round: number, sample: Sample<Awaited<ReturnType<S[keyof S]>>>) => void;
  /** Clock in milliseconds (default performance.now). */
  now?: () => number;
}

/**
 * Run every side of `sides` once per round, `rounds` times after `warmup`
 * rounds; the side that goes first rotates each round so none always runs
 * on a cold (or warm) host. Returns each side's samples in round order.
 */
export async function alternate<S extends Sides>(sides: S, options: AlternateOptions<S>): Promise<SamplesOf<S>> {
  type K = keyof S & string;
  const names = Object.keys(sides) as K[];
  const now = options.now ?? (() => performance.now());
  const out = Object.fromEntries(names.map((k) => [k, [] as Sample<unknown>[]])) as Record<K, Sample<unknown>[]>;
  const warmup = options.warmup ?? 1;
  for (let round = -warmup; round < options.rounds; round++) {
    const start = ((round % names.length) + names.length) % names.length;
    for (const name of [...names.slice(start), ...names.slice(0, start)]) {
      const t = now();
      const value = await sides[name]();
      const sample = { ms: now() - t, value: value as Awaited<ReturnType<S[keyof S]>> };
      if (round < 0) continue;
      out[name].push(sample);
      options.onSample?.(name, round, sample);
    }
  }
  return out as SamplesOf<S>;
}

/** The `ms` of each sample. */
export function times<T>(samples: readonly Sample<T>[]): number[] {
  return samples.map((s) => s.ms);
}
