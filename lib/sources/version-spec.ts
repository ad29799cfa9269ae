/**
 * Resolving a version spec against what a source offers: "latest",
 * a channel ("longterm", "stable", "mainline"), or a semver range ("6.6",
 * "^6.1", "~6.6.3", ">=5.15 <6", "6.6.3", "6.7-rc2").
 */
import semver from "semver";
import { suggest } from "../util/suggest.ts";
import { VersionError, VersionSpecError } from "../util/errors.ts";
import { toSemver } from "./kernel-version.ts";

/** Something with a version: a kernel release, a busybox build, a Debian package. */
export interface Versioned {
  version: string;
  semver: string;
  moniker?: string;
  iseol?: boolean;
}

/** Channels a kernel spec may name. */
export const CHANNELS = ["longterm", "stable", "mainline"] as const;

/** The spec each artifact resolves when none is given. */
export const DEFAULT_SPEC = { kernel: "longterm", busybox: "latest" } as const;

/** Options of {@linkcode resolveSpec}. */
export interface ResolveOptions {
  /** Consider end-of-life releases (default false). */
  includeEol?: boolean;
  /** Consider prereleases such as 6.7-rc2 for ranges (default false; the mainline channel always does). */
  includePrerelease?: boolean;
  /** "kernel" or "busybox", for messages. */
  what?: string;
  /** Where the candidates came from, for messages ("kernel.org", "Debian packages"). */
  from?: string;
}

/** Options of {@linkcode checkSpec}. */
export interface CheckSpecOptions {
  /** "kernel" or "busybox", for messages. */
  what?: string;
  /** Whether the source has channels (longterm, stable, mainline); default true. */
  channels?: boolean;
  /** Where the versions come from, for messages ("busybox.net"). */
  from?: string;
}

/**
 * Check that `spec` has a form {@linkcode resolveSpec} understands, without any candidates:
 * commands call it before looking versions up, so a typo fails at once.
 */
export function checkSpec(spec: string, options: CheckSpecOptions = {}): void {
  const key = spec.trim().toLowerCase();
  const channels = options.channels ?? true;
  const what = options.what ?? "version";
  if ((CHANNELS as readonly string[]).includes(key)) {
    if (channels) return;
    throw new VersionSpecError(`Channel ${key} does not apply to ${what}${options.from ? ` from ${options.from}` : ""}`, "use latest, a version like 1.36, or a range like ^1.35");
  }
  // semver reads "" as "*" (any version); an empty spec is a mistake (an unset variable), not a wish.
  if (key === "latest" || (key && specRange(spec))) return;
  const words = ["latest", ...(channels ? CHANNELS : [])];
  const close = key ? suggest(key, words) ?? words.find((w) => key.startsWith(w)) : undefined;
  const example = channels ? "6.6, 6.6.3" : "1.36, 1.36.1";
  throw new VersionSpecError(
    `Invalid ${what} version spec ${JSON.stringify(spec)}`,
    `${close ? `did you mean ${close}? Use` : "use"} latest, ${channels ? "longterm, stable, mainline, " : ""}a version (${example}), or a range (${channels ? `^6.1, ~6.6.3, ">=5.15 <6"` : `^1.35, ~1.36.0`})`,
  );
}

/** A spec as a semver range, or undefined when it is not one. */
export function specRange(spec: string): string | undefined {
  const exact = toSemver(spec.trim());
  if (exact) return /^\d+\.\d+$/.test(spec.trim()) ? `~${exact}` : exact;
  return semver.validRange(spec.trim()) ?? undefined;
}

function describe(list: readonly Versioned[]): string {
  return list.map((c) => `${c.version}${c.moniker ? ` (${c.moniker}${c.iseol ? ", EOL" : ""})` : ""}`).join(", ");
}

/** The versions in `all` closest to `spec`, for "did you mean" lists. */
function nearest(all: readonly Versioned[], spec: string, n = 5): Versioned[] {
  const range = specRange(spec);
  const target = range ? semver.minVersion(range) : undefined;
  if (!target) return [...all].sort((a, b) => semver.rcompare(a.semver, b.semver)).slice(0, n);
  const score = (v: Versioned) => {
    const s = semver.parse(v.semver)!;
    return Math.abs(s.major - target.major) * 1e6 + Math.abs(s.minor - target.minor) * 1e3 + Math.abs(s.patch - target.patch);
  };
  return [...all].sort((a, b) => score(a) - score(b) || semver.rcompare(a.semver, b.semver)).slice(0, n);
}

/** The newest of `list` by semver. */
function newest<T extends Versioned>(list: readonly T[]): T | undefined {
  return [...list].sort((a, b) => semver.rcompare(a.semver, b.semver))[0];
}

/** Pick the one version `spec` means among `candidates`; throws {@linkcode VersionError} listing the nearest when none matches. */
export function resolveSpec<T extends Versioned>(spec: string, candidates: readonly T[], options: ResolveOptions = {}): T {
  const what = options.what ?? "version";
  const from = options.from ? ` from ${options.from}` : "";
  const key = spec.trim().toLowerCase();
  checkSpec(spec, { what, channels: candidates.some((c) => c.moniker), from: options.from });
  const live = candidates.filter((c) => options.includeEol || !c.iseol);
  let pool: T[];
  let found: T | undefined;
  if (key === "latest") {
    pool = live.filter((c) => !semver.prerelease(c.semver));
    found = newest(pool);
  } else if ((CHANNELS as readonly string[]).includes(key)) {
    pool = live.filter((c) => c.moniker === key);
    found = newest(pool);
  } else {
    const range = specRange(spec)!;
    const includePrerelease = options.includePrerelease || semver.prerelease(semver.minVersion(range) ?? "0.0.0") !== null;
    pool = live.filter((c) => semver.satisfies(c.semver, range, { includePrerelease }));
    found = newest(pool);
  }
  if (found) return found;
  const eolOnly = !options.includeEol && candidates.some((c) => c.iseol && specRange(spec) && semver.satisfies(c.semver, specRange(spec)!));
  const near = nearest(live.length ? live : candidates, spec);
  throw new VersionError(
    `No ${what} version${from} matches ${JSON.stringify(spec)}`,
    eolOnly
      ? `only end-of-life releases match; pass --include-eol to allow them`
      : near.length ? `available: ${describe(near)}; pass one of these, or a range that includes one` : "no versions are listed at all; check the source",
  );
}
