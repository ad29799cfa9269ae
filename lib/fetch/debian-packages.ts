/**
 * Debian packages and their dependencies, fetched and unpacked for the
 * image without installing anything: the closure is resolved with apt
 * (sources/debian-deps.ts), each .deb is fetched with `apt-get download`,
 * checked against the sha256 of apt's index (or of the lock), kept in the
 * blob store, and unpacked once with `dpkg-deb -x` into
 * `<cache>/debian-roots/<sha256>/`. Maintainer scripts never run.
 *
 * The lock holds one entry per package, `deb:NAME`, with the chosen
 * dependencies in `depends`: a locked closure is walked from the lock alone,
 * so `--locked` fetches exactly the pinned versions and bytes.
 */
import { type Arch, archInfo, isCross } from "../util/arch.ts";
import { foreignAptRoot } from "../sources/apt-root.ts";
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { LockOptions } from "./locked.ts";
import { adoptBlob, verifiedBlob } from "./blob-store.ts";
import { resolvePackages, type ResolveOptions } from "../sources/debian-deps.ts";
import { type LockEntry, type LockFile, readLock, writeLock } from "../sources/lock-file.ts";
import { cacheRoot, formatSize, tempPathFor } from "../util/cache-dir.ts";
import { ChecksumError, LockFileError, outputTail, PackageError, UnverifiedError } from "../util/errors.ts";
import { sha256File } from "../util/hash.ts";
import { stderrLogger } from "../util/log.ts";
import { runProcess } from "../util/process.ts";

/** A package of the closure, unpacked. */
export interface FetchedPackage {
  name: string;
  version: string;
  sha256: string;
  /** The directory `dpkg-deb -x` unpacked it into (read it, do not change it). */
  root: string;
}

/** Options of {@linkcode fetchPackages}. */
export interface FetchPackagesOptions extends ResolveOptions {
  lock?: LockOptions;
  /**
   * The guest's architecture (default: this host's). arm64 packages come
   * through the host's multiarch (`jq:arm64`); riscv64 ones, on a release
   * without that port, from Debian 13 through a private apt root.
   */
  guestArch?: Arch;
}

/** A package to fetch: what is pinned, and what it needs. */
export interface PlannedPackage {
  name: string;
  version: string;
  sha256: string;
  depends: string[];
  /** The version and sha256 come from the lock, not from apt's index. */
  pinned?: boolean;
}

/** The lock entry name of Debian package `name`. */
export function lockName(name: string): string {
  return `deb:${name}`;
}

/** The lock entry of a planned package. */
export function packageLockEntry(p: PlannedPackage): LockEntry {
  return { spec: p.name, version: p.version, source: "debian", url: `debian:${p.name}=${p.version}`, sha256: p.sha256, depends: p.depends };
}

/**
 * The closure of `roots` as the lock has it, walking each entry's `depends`;
 * `missing` names the packages without a usable entry (then `plan` is partial).
 */
export function lockedClosure(lock: LockFile, roots: readonly string[]): { plan: PlannedPackage[]; missing: string[] } {
  const plan: PlannedPackage[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  const queue = [...roots];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (seen.has(name)) continue;
    seen.add(name);
    const e = lock.artifacts[lockName(name)];
    const depends = e?.depends;
    if (!e || e.source !== "debian" || e.url !== `debian:${name}=${e.version}` || !Array.isArray(depends) || !depends.every((d) => typeof d === "string")) {
      missing.push(name);
      continue;
    }
    plan.push({ name, version: e.version, sha256: e.sha256, depends: depends as string[], pinned: true });
    queue.push(...(depends as string[]));
  }
  return { plan, missing };
}

/** `options` for the guest's architecture: multiarch names, or a private apt root where the host's release has none. */
async function forGuest(options: FetchPackagesOptions): Promise<FetchPackagesOptions> {
  const arch = options.guestArch;
  if (!arch || !isCross(arch)) return options;
  const apt = await foreignAptRoot(arch, { env: options.env, run: options.run, log: options.log });
  // In a private root the guest's architecture is apt's own: names need no suffix.
  return apt ? { ...options, apt } : { ...options, arch: archInfo(arch).debian };
}

async function plan(names: readonly string[], options: FetchPackagesOptions): Promise<PlannedPackage[]> {
  const lockOpts = options.lock;
  const lock = lockOpts ? await readLock(lockOpts.path) : undefined;
  if (lock && lockOpts && lockOpts.mode !== "update") {
    const locked = lockedClosure(lock, names);
    if (!locked.missing.length) return locked.plan;
    if (lockOpts.mode === "locked") {
      throw new LockFileError(`--locked: ${lockOpts.path} would change: it has no usable entry for ${locked.missing.map(lockName).join(", ")}`, "run without --locked (or with --update) to resolve the packages and rewrite the lock");
    }
  }
  const resolved = await resolvePackages(names, options);
  const fresh = resolved.map((p): PlannedPackage => {
    const pinned = lock && lockOpts?.mode === "reuse" ? lock.artifacts[lockName(p.name)] : undefined;
    if (pinned?.source === "debian") return { name: p.name, version: pinned.version, sha256: pinned.sha256, depends: p.depends, pinned: true };
    if (!p.sha256) throw new UnverifiedError(`apt's index lists no sha256 for ${p.name} ${p.version}, so the package cannot be verified`, "run `apt-get update` (as root) and try again");
    return { name: p.name, version: p.version, sha256: p.sha256, depends: p.depends };
  });
  if (lock && lockOpts) {
    for (const p of fresh) lock.artifacts[lockName(p.name)] = packageLockEntry(p);
    await writeLock(lockOpts.path, lock);
  }
  return fresh;
}

/** Where the package with this .deb sha256 is unpacked. */
export function packageRootDir(cacheDir: string, sha256: string): string {
  return join(cacheDir, "debian-roots", sha256);
}

const exists = (path: string) => stat(path).then(() => true, () => false);

async function download(missing: PlannedPackage[], cache: string, options: FetchPackagesOptions): Promise<Map<string, string>> {
  const env = options.env ?? process.env;
  const run = options.run ?? runProcess;
  await mkdir(join(cache, "tmp"), { recursive: true });
  const work = await mkdtemp(join(cache, "tmp", "debs-"));
  try {
    // apt drops privileges to _apt for downloads; it needs to write here.
    await chmod(work, 0o777);
    const argv = ["apt-get", ...(options.apt?.options ?? []), "download", ...missing.map((p) => `${p.name}=${p.version}`)];
    const r = await run(argv, { cwd: work, env: { ...env, LC_ALL: "C" }, nothrow: true });
    if (r.code !== 0) {
      throw new PackageError("apt-get cannot download the packages", "check that the mirror is reachable; `apt-get update` (as root) helps when a version is gone from it", { argv, code: r.code, tail: outputTail(r.stderr || r.stdout) });
    }
    const files = await readdir(work);
    const blobs = new Map<string, string>();
    for (const p of missing) {
      // apt names the file NAME_VERSION_ARCH.deb; "_" never occurs in a package name.
      const file = files.find((f) => f.startsWith(`${p.name.replace(/:.*/, "")}_`) && f.endsWith(".deb"));
      if (!file) throw new PackageError(`apt-get download left no .deb for ${p.name} ${p.version} in ${work}`, `try \`apt-get download ${p.name}=${p.version}\` by hand`);
      const actual = await sha256File(join(work, file));
      if (actual !== p.sha256) throw new ChecksumError(`debian:${p.name}=${p.version}`, p.sha256, actual, p.pinned ? options.lock?.path : undefined);
      blobs.set(p.sha256, (await adoptBlob(cache, join(work, file), p.sha256)).path);
    }
    return blobs;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function unpack(deb: string, root: string, options: FetchPackagesOptions): Promise<void> {
  const tmp = tempPathFor(root);
  await mkdir(join(root, ".."), { recursive: true });
  try {
    await (options.run ?? runProcess)(["dpkg-deb", "-x", deb, tmp], { hint: `the .deb ${deb} may be damaged: delete it and fetch again` });
    await rename(tmp, root);
  } catch (err) {
    // Another process unpacked the same package first: theirs is as good as ours.
    if (!(await exists(root))) throw err;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Fetch `names` and their whole Depends/Pre-Depends closure, verified, and
 * unpack each package once; through the lock when `lock` is given (`reuse`
 * keeps pinned versions, `update` re-resolves, `locked` refuses any change).
 */
export async function fetchPackages(names: readonly string[], options: FetchPackagesOptions = {}): Promise<FetchedPackage[]> {
  const env = options.env ?? process.env;
  const log = options.log ?? stderrLogger();
  options = await forGuest(options);
  const cache = cacheRoot(env);
  const planned = await plan(names, options);
  const roots = new Map(planned.map((p) => [p.name, packageRootDir(cache, p.sha256)]));
  const todo = [];
  for (const p of planned) if (!(await exists(roots.get(p.name)!))) todo.push(p);
  const debs = new Map<string, string>();
  const missing: PlannedPackage[] = [];
  for (const p of todo) {
    const blob = await verifiedBlob(cache, p.sha256, log);
    if (blob) debs.set(p.sha256, blob.path);
    else missing.push(p);
  }
  if (missing.length) {
    log.step(`fetching ${missing.length} Debian ${missing.length === 1 ? "package" : "packages"}: ${missing.map((p) => `${p.name} ${p.version}`).join(", ")}`);
    for (const [sha, path] of await download(missing, cache, options)) debs.set(sha, path);
  }
  for (const p of todo) await unpack(debs.get(p.sha256)!, roots.get(p.name)!, options);
  if (todo.length) {
    const bytes = (await Promise.all(todo.map((p) => stat(debs.get(p.sha256)!).then((s) => s.size)))).reduce((a, b) => a + b, 0);
    log.step(`unpacked ${todo.length} Debian ${todo.length === 1 ? "package" : "packages"} (${formatSize(bytes)} of .debs)`);
  }
  return planned.map((p) => ({ name: p.name, version: p.version, sha256: p.sha256, root: roots.get(p.name)! }));
}
