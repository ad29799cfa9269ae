/**
 * How many compile steps a kernel build will take, so its progress can show
 * a percentage: the count of an earlier full build of the same version and
 * config (exact), else one scaled from the closest earlier build or from a
 * count measured for the version (an estimate, shown as "about"). Finished
 * full builds are recorded in `<cache>/host/build-steps.json`, keyed by
 * version and config hash; it lives in `host/` because the seconds are this
 * machine's, and so that `cache ls` and `cache clean` see it.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/cache-dir.ts";

/** The make steps of one finished full build (or a measured typical one). */
export interface StepRecord {
  /** "6.1.192" */
  version: string;
  /** sha256 of the final `.config`; absent in {@linkcode TYPICAL_STEPS}. */
  configHash?: string;
  /** All make steps. */
  steps: number;
  /** Compile steps (CC, AS, HOSTCC) among them: what the progress counts. */
  compiled: number;
  /** `=y` symbols of the config, to scale the count for another config. */
  yes?: number;
  /** Wall time of the make. */
  seconds?: number;
}

/** What {@linkcode chooseEstimate} found. */
export interface StepEstimate {
  /** Compile steps to expect. */
  compiled: number;
  /** True for the count of an earlier build of exactly this version and config. */
  exact: boolean;
  /** Where the number came from, for people ("an earlier build of 6.1.190"). */
  from: string;
}

/** The build to estimate. */
export interface StepTarget {
  version: string;
  configHash: string;
  /** `=y` symbols of its config. */
  yes?: number;
}

/**
 * `make bzImage` of the default features (virtio, blk, net, 9p, console)
 * from Debian's trees, measured on x86_64 with gcc 12.
 */
export const TYPICAL_STEPS: readonly StepRecord[] = [
  { version: "6.1.192", steps: 1340, compiled: 881, yes: 476 },
  { version: "6.12.118", steps: 1451, compiled: 939, yes: 514 },
];

/**
 * Compile steps per `=y` symbol more or less than a record of the same
 * major.minor. Measured on 6.1.192: the default features 881 at 476 `=y`,
 * virtio alone 744 at 450. Between versions the `=y` count says little (the
 * default features are 476 on 6.1 and 514 on 6.12, yet only 58 more compile
 * steps), so another version's count is taken as it is.
 */
const COMPILED_PER_YES = 5;

/** Records kept in the file; the oldest go first. */
const KEEP = 200;

function parts(version: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0];
}

/** How far apart two versions are: major.minor releases first, then patch levels. */
function distance(a: string, b: string): [number, number] {
  const [x, y] = [parts(a), parts(b)];
  return [Math.abs(x[0] * 100 + x[1] - (y[0] * 100 + y[1])), Math.abs(x[2] - y[2])];
}

/**
 * The expected compile steps of `target`: its exact earlier count, else the
 * closest of `records` and `typical` (nearest major.minor, then the most
 * similar config, then the nearest patch level, an earlier build here before
 * a measured one), scaled by the difference in `=y` symbols when it is of
 * the same major.minor.
 */
export function chooseEstimate(target: StepTarget, records: readonly StepRecord[], typical: readonly StepRecord[] = TYPICAL_STEPS): StepEstimate | undefined {
  const same = records.find((r) => r.version === target.version && r.configHash === target.configHash);
  if (same) return { compiled: same.compiled, exact: true, from: `an earlier build of ${target.version} with this config` };
  const yesGap = (r: StepRecord) => (target.yes !== undefined && r.yes !== undefined ? Math.abs(target.yes - r.yes) : Infinity);
  const ranked = [...records.map((r) => ({ r, measured: false })), ...typical.map((r) => ({ r, measured: true }))]
    .map((c) => ({ ...c, d: distance(target.version, c.r.version), gap: yesGap(c.r) }))
    .sort((a, b) => a.d[0] - b.d[0] || a.gap - b.gap || a.d[1] - b.d[1] || Number(a.measured) - Number(b.measured));
  const best = ranked[0];
  if (!best) return undefined;
  const { r } = best;
  const scaled = best.d[0] === 0 && target.yes !== undefined && r.yes !== undefined ? r.compiled + COMPILED_PER_YES * (target.yes - r.yes) : r.compiled;
  const from = best.measured ? `a typical build of ${r.version}` : `an earlier build of ${r.version}${r.version === target.version ? " with another config" : ""}`;
  // A config far from any record: the linear guess is kept within half to twice the record.
  return { compiled: Math.round(Math.min(2 * r.compiled, Math.max(r.compiled / 2, scaled))), exact: false, from };
}

/** The file holding the step counts of finished builds under the cache `root`. */
export function stepRecordsPath(root: string): string {
  return join(root, "host", "build-steps.json");
}

/** The recorded builds under the cache `root` (none when the file is missing or unreadable). */
export async function readStepRecords(root: string): Promise<StepRecord[]> {
  const data = await readFile(stepRecordsPath(root), "utf8").then(JSON.parse).catch(() => undefined);
  const builds: unknown[] = Array.isArray(data?.builds) ? data.builds : [];
  const count = (n: unknown) => Number.isInteger(n) && (n as number) > 0;
  return builds.filter((b): b is StepRecord => typeof (b as StepRecord)?.version === "string" && count((b as StepRecord).steps) && count((b as StepRecord).compiled));
}

/** Record the steps of a finished full build, replacing an earlier record of the same version and config. */
export async function recordBuildSteps(root: string, record: StepRecord & { configHash: string }): Promise<void> {
  const others = (await readStepRecords(root)).filter((r) => !(r.version === record.version && r.configHash === record.configHash));
  const builds = [...others, record].slice(-KEEP);
  await writeFileAtomic(stepRecordsPath(root), JSON.stringify({ builds }, null, 2) + "\n");
}

/** The expected steps of `target` from the builds recorded under the cache `root` and {@linkcode TYPICAL_STEPS}. */
export async function estimateSteps(root: string, target: StepTarget): Promise<StepEstimate | undefined> {
  return chooseEstimate(target, await readStepRecords(root));
}
