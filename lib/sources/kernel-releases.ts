/**
 * kernel.org's `releases.json` and `sha256sums.asc`, parsed into plain data.
 * Shapes as published (see README "Version sources"): monikers mainline,
 * stable, longterm, linux-next; linux-next has no source tarball; mainline
 * tarballs come from git.kernel.org and have no sha256sums entry.
 */
import { VersionError } from "../util/errors.ts";
import { toSemver } from "./kernel-version.ts";

/** Default location of the release list; `MICROFORGE_KERNEL_RELEASES_URL` overrides it. */
export const KERNEL_RELEASES_URL = "https://www.kernel.org/releases.json";

/** One release entry. */
export interface KernelRelease {
  /** As kernel.org writes it: "6.6.2", "6.6", "6.7-rc2". */
  version: string;
  /** Coerced for comparisons: "6.6.2", "6.6.0", "6.7.0-rc2". */
  semver: string;
  moniker: "mainline" | "stable" | "longterm";
  iseol: boolean;
  /** Tarball URL. */
  source: string;
  /** `sha256sums.asc` next to the tarball, or undefined for git.kernel.org snapshots. */
  checksums: string | undefined;
  released: string | undefined;
}

/** The parsed list plus kernel.org's own idea of "latest stable". */
export interface KernelReleases {
  latestStable: string | undefined;
  releases: KernelRelease[];
}

interface RawRelease {
  version?: unknown;
  moniker?: unknown;
  iseol?: unknown;
  source?: unknown;
  released?: { isodate?: unknown };
}

/**
 * Where `sha256sums.asc` sits for a tarball URL: beside release tarballs in
 * the `vN.x/` directories; git.kernel.org snapshots (mainline rc) have none.
 */
export function checksumsUrlFor(source: string): string | undefined {
  const url = new URL(source);
  if (!/\/v\d+\.x\/linux-[^/]+\.tar\.xz$/.test(url.pathname)) return undefined;
  return new URL("sha256sums.asc", url).href;
}

/** Parse `releases.json` text; entries without a tarball (linux-next) or a version we cannot compare are left out. */
export function parseKernelReleases(text: string, origin = "releases.json"): KernelReleases {
  let raw: { latest_stable?: { version?: unknown }; releases?: unknown };
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new VersionError(`${origin} is not valid JSON: ${(err as Error).message}`, "check MICROFORGE_KERNEL_RELEASES_URL points at kernel.org's releases.json");
  }
  if (!Array.isArray(raw.releases)) {
    throw new VersionError(`${origin} has no "releases" list`, "check MICROFORGE_KERNEL_RELEASES_URL points at kernel.org's releases.json");
  }
  const releases: KernelRelease[] = [];
  for (const r of raw.releases as RawRelease[]) {
    if (typeof r.version !== "string" || typeof r.source !== "string" || !r.source) continue;
    if (r.moniker !== "mainline" && r.moniker !== "stable" && r.moniker !== "longterm") continue;
    const sv = toSemver(r.version);
    if (!sv) continue;
    releases.push({
      version: r.version,
      semver: sv,
      moniker: r.moniker,
      iseol: r.iseol === true,
      source: r.source,
      checksums: checksumsUrlFor(r.source),
      released: typeof r.released?.isodate === "string" ? r.released.isodate : undefined,
    });
  }
  const latest = raw.latest_stable?.version;
  return { latestStable: typeof latest === "string" ? latest : undefined, releases };
}

/**
 * The sha256 of `filename` in a `sha256sums.asc` text (PGP clearsigned or
 * plain `<hex>  <name>` lines). The signature itself is checked elsewhere.
 */
export function sha256From(sums: string, filename: string): string | undefined {
  let body = sums;
  const begin = body.indexOf("-----BEGIN PGP SIGNED MESSAGE-----");
  if (begin >= 0) {
    // Armor headers ("Hash: SHA256", "Version: ...") run until the first empty line.
    const afterHeaders = body.slice(begin).search(/\r?\n\r?\n/);
    body = body.slice(begin + afterHeaders);
    const sig = body.indexOf("-----BEGIN PGP SIGNATURE-----");
    if (sig >= 0) body = body.slice(0, sig);
  }
  for (const line of body.split(/\r?\n/)) {
    // Dash-escaped lines ("- text") are clearsign escaping; checksum lines never start with a dash.
    const m = /^([0-9a-f]{64}) [ *]?(\S+)$/i.exec(line.trim());
    if (m && m[2] === filename) return m[1].toLowerCase();
  }
  return undefined;
}
