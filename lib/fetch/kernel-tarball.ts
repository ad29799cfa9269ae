/**
 * Kernel source tarballs: which versions a source offers, which one a spec
 * means, and fetching it verified. Sources: kernel.org (releases.json +
 * sha256sums.asc), Debian's `linux-source-X.Y` packages (offline fallback,
 * verified by apt), or a local tarball. `auto` tries kernel.org, then Debian.
 */
import { stat } from "node:fs/promises";
import { mirrorHttp } from "./http.ts";
import { basename, resolve } from "node:path";
import { type DebianDeps, type DebianPackage, aptPackages, aptSearch, debianFile, installedVersion } from "../sources/debian.ts";
import { download } from "./download.ts";
import { fetchText } from "./text.ts";
import { rememberedIndex } from "./index-memo.ts";
import { cacheRoot } from "../util/cache-dir.ts";
import { ChecksumError, DownloadError, SourcePathError, UnverifiedError, VersionError } from "../util/errors.ts";
import { KERNEL_RELEASES_URL, type KernelRelease, parseKernelReleases, sha256From } from "../sources/kernel-releases.ts";
import { toSemver } from "../sources/kernel-version.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import { verifyClearsigned } from "./pgp-verify.ts";
import { resolveSpec, type Versioned } from "../sources/version-spec.ts";
import { memoByStat } from "../util/stat-memo.ts";
import { sha256File } from "../util/hash.ts";
import { unverifiedAllowed } from "../sources/policy.ts";

/** Where kernel sources come from: "auto", "kernel.org", "debian", or a tarball path. */
export type KernelSourceKind = "auto" | "kernel.org" | "debian" | (string & Record<never, never>);

/** A resolved kernel, before download. */
export interface KernelChoice extends Versioned {
  source: "kernel.org" | "debian" | "path";
  /** Tarball URL, `debian:<package>=<version>`, or the local path. */
  url: string;
  /** kernel.org: the sha256sums.asc URL, absent for mainline snapshots. */
  checksums?: string;
  /** The tarball's top directory, when known ("linux-source-6.1" for Debian). */
  topDir?: string;
  debian?: DebianPackage;
}

/** A fetched, verified tarball. */
export interface KernelTarball extends KernelChoice {
  path: string;
  sha256: string;
  /** How the bytes were checked. */
  verified: string;
}

/** Options shared by the kernel source functions. */
export interface KernelSourceOptions extends DebianDeps {
  source?: KernelSourceKind;
  fetch?: typeof fetch;
  includeEol?: boolean;
  includePrerelease?: boolean;
  /** Allow mainline snapshots, which have no published checksum (also `MICROFORGE_ALLOW_UNVERIFIED=1`). */
  allowUnverified?: boolean;
  /** Check sha256sums.asc's PGP signature with gpgv and `MICROFORGE_KERNEL_KEYRING`. */
  verifySignatures?: boolean;
  quiet?: boolean;
  /** Ask kernel.org now, not a release list fetched in the last `MICROFORGE_INDEX_TTL` seconds (fetch/index-memo.ts). */
  fresh?: boolean;
  /** The clock for the release list's age, in epoch milliseconds (tests). */
  now?: () => number;
}

/** The release list URL: `MICROFORGE_KERNEL_RELEASES_URL` or kernel.org's. */
export function releasesUrl(env: Record<string, string | undefined> = process.env): string {
  return env.MICROFORGE_KERNEL_RELEASES_URL || KERNEL_RELEASES_URL;
}

/** kernel.org's releases as candidates: the list fetched in the last few minutes, or fetched now (see fetch/index-memo.ts). */
export async function kernelOrgReleases(options: KernelSourceOptions = {}): Promise<KernelRelease[]> {
  const env = options.env ?? process.env;
  const url = releasesUrl(env);
  const load = () => fetchText(url, { fetch: options.fetch, allowHttp: mirrorHttp("MICROFORGE_KERNEL_RELEASES_URL", env), connectTimeoutMs: 5000 });
  return await rememberedIndex(url, load, (text) => parseKernelReleases(text, url).releases, { env, fresh: options.fresh, now: options.now });
}

/** Debian's `linux-source-X.Y` packages as candidates (version = upstream part of the package version). */
export async function debianKernels(options: DebianDeps = {}): Promise<(Versioned & { pkg: DebianPackage })[]> {
  const names = await aptSearch("^linux-source-[0-9.]+$", options);
  const pkgs = names.length ? await aptPackages(names, options) : [];
  return pkgs.flatMap((pkg) => {
    const sv = toSemver(pkg.upstream);
    return sv ? [{ version: pkg.upstream, semver: sv, moniker: "longterm", pkg }] : [];
  });
}

function fromDebian(c: Versioned & { pkg: DebianPackage }): KernelChoice {
  return { ...c, source: "debian", url: `debian:${c.pkg.name}=${c.pkg.version}`, topDir: c.pkg.name, debian: c.pkg };
}

/** What a source offers: kernel.org's releases, or (offline) Debian's packages. */
export interface KernelCandidates {
  from: "kernel.org" | "Debian packages";
  choices: KernelChoice[];
}

/** The kernels `options.source` offers; `auto` falls back from kernel.org to Debian and says why. */
export async function kernelCandidates(options: KernelSourceOptions = {}): Promise<KernelCandidates> {
  const env = options.env ?? process.env;
  const kind = options.source ?? env.MICROFORGE_KERNEL_SOURCE ?? "auto";
  if (kind === "kernel.org" || kind === "auto") {
    try {
      const releases = await kernelOrgReleases(options);
      return { from: "kernel.org", choices: releases.map((r) => ({ ...r, source: "kernel.org", url: r.source, checksums: r.checksums })) };
    } catch (err) {
      if (kind === "kernel.org" || !(err instanceof DownloadError)) throw err;
      const log = options.log ?? stderrLogger({ quiet: options.quiet });
      log.warn(`kernel.org is not reachable (${err.summary}); using Debian's linux-source packages`);
    }
  } else if (kind !== "debian") {
    throw new VersionError(`Kernel source ${kind} is a file; it offers one version`, "list versions with --kernel-source kernel.org or debian");
  }
  const list = await debianKernels(options);
  if (!list.length) {
    throw new VersionError("apt offers no linux-source-X.Y packages", "run `apt-get update`, or use --kernel-source kernel.org or a tarball path");
  }
  return { from: "Debian packages", choices: list.map(fromDebian) };
}

/** Resolve `spec` among `candidates`; Debian ships longterm kernels only, so its channels mean "newest". */
export function pickKernel(spec: string, candidates: KernelCandidates, options: KernelSourceOptions = {}): KernelChoice {
  const key = spec.trim().toLowerCase();
  let effective = spec;
  if (candidates.from === "Debian packages") {
    if (key === "mainline") {
      throw new VersionError("Debian packages offer no mainline kernels", `available: ${candidates.choices.map((c) => c.version).join(", ")}`);
    }
    if (key === "stable" || key === "longterm") effective = "latest";
  }
  return resolveSpec(effective, candidates.choices, {
    what: "kernel",
    from: candidates.from,
    includeEol: options.includeEol,
    includePrerelease: options.includePrerelease,
  });
}

/** Resolve `spec` to one kernel from the chosen source, without downloading it. */
export async function resolveKernel(spec: string, options: KernelSourceOptions = {}): Promise<KernelChoice> {
  const kind = options.source ?? (options.env ?? process.env).MICROFORGE_KERNEL_SOURCE ?? "auto";
  if (kind === "auto" || kind === "kernel.org" || kind === "debian") return pickKernel(spec, await kernelCandidates(options), options);
  const path = resolve(kind);
  const version = /linux-(\d+\.\d+(?:\.\d+)?(?:-rc\d+)?)\.tar/.exec(basename(path))?.[1] ?? "unknown";
  return { version, semver: toSemver(version) ?? "0.0.0", source: "path", url: path };
}

const said = new Set<string>();
function sayOnce(log: Logger, message: string): void {
  if (!said.has(message)) log.step(message);
  said.add(message);
}


/**
 * sha256 of a tarball outside our cache (Debian's /usr/src one, or the
 * user's), remembered until the file changes: hashing 150 MB takes 1–2 s,
 * and a warm `run` needs only the digest (the kernel built from it is
 * verified on use).
 */
function sha256OfSource(path: string, env: Record<string, string | undefined>): Promise<string> {
  return memoByStat(`sha256 of ${path}`, [path], () => sha256File(path), env);
}

/** Download (or locate) and verify the tarball of `choice`. `expectSha256` pins it (from a lock file). */
export async function fetchKernel(choice: KernelChoice, options: KernelSourceOptions & { expectSha256?: string } = {}): Promise<KernelTarball> {
  const env = options.env ?? process.env;
  const log = options.log ?? stderrLogger({ quiet: options.quiet });
  let path: string;
  let sha256: string;
  let verified: string;
  if (choice.source === "kernel.org") {
    const name = basename(new URL(choice.url).pathname);
    let expected = options.expectSha256;
    if (!expected && choice.checksums) {
      const sums = await fetchText(choice.checksums, { fetch: options.fetch, allowHttp: mirrorHttp("MICROFORGE_KERNEL_RELEASES_URL", env) });
      if (options.verifySignatures) await verifyClearsigned(sums, choice.checksums, env.MICROFORGE_KERNEL_KEYRING, options);
      else sayOnce(log, "sha256 checked against sha256sums.asc, but not its PGP signature (use --verify-signatures with gpgv and MICROFORGE_KERNEL_KEYRING)");
      expected = sha256From(sums, name);
      if (!expected) {
        throw new UnverifiedError(`${choice.checksums} lists no sha256 for ${name}`, "the mirror may be mid-update; try again later or pick another version");
      }
    }
    if (!expected && !unverifiedAllowed(options.allowUnverified, env)) {
      throw new UnverifiedError(
        `${name} is a mainline snapshot from git.kernel.org, which publishes no checksum for it`,
        "pass --allow-unverified (or set MICROFORGE_ALLOW_UNVERIFIED=1) to use it unverified (the sha256 is then pinned in the lock file), or pick a released version",
      );
    }
    const got = await download({ url: choice.url, sha256: expected, name, fetch: options.fetch, log, quiet: options.quiet, allowHttp: mirrorHttp("MICROFORGE_KERNEL_RELEASES_URL", env), cacheDir: cacheRoot(env) });
    [path, sha256] = [got.path, got.sha256];
    verified = options.expectSha256 ? "sha256 from the lock file" : expected ? `sha256 from sha256sums.asc (${options.verifySignatures ? "PGP signature verified" : "signature not checked"})` : "unverified mainline snapshot (pinned on first use)";
  } else if (choice.source === "debian") {
    const pkg = choice.debian!;
    const member = `usr/src/${pkg.name}.tar.xz`;
    const installed = await installedVersion(pkg.name, options);
    const systemFile = `/${member}`;
    if (installed === pkg.version && (await stat(systemFile).then((s) => s.isFile(), () => false))) {
      path = systemFile;
      verified = `installed Debian package ${pkg.name} ${pkg.version}`;
    } else {
      path = await debianFile(pkg, member, options);
      verified = `Debian package ${pkg.name} ${pkg.version}, checked by apt`;
    }
    sha256 = await sha256OfSource(path, env);
  } else {
    path = choice.url;
    if (!(await stat(path).then((s) => s.isFile(), () => false))) {
      throw new SourcePathError(`Kernel tarball ${path} does not exist`, "pass an existing .tar.xz/.tar.gz, or --kernel-source kernel.org|debian");
    }
    sha256 = await sha256OfSource(path, env);
    // A file the user named is their choice: nothing to check it against, its sha256 is recorded (and pinned by a lock file).
    verified = options.expectSha256 ? "local file, sha256 from the lock file" : "local file given by the user (not verified; sha256 recorded)";
  }
  if (options.expectSha256 && sha256 !== options.expectSha256) {
    throw new ChecksumError(choice.url, options.expectSha256, sha256, "the lock file");
  }
  return { ...choice, path, sha256, verified };
}
