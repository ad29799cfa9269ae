/**
 * Resolve-and-fetch through the lock file: a locked artifact is fetched by
 * its pinned URL and sha256 (no version lookup, works offline from the
 * cache); otherwise it is resolved, fetched, and written to the lock.
 */
import { hostArch } from "../util/arch.ts";
import { type Busybox, type BusyboxDeps, type BusyboxSource, resolveBusybox } from "./busybox.ts";
import { upstreamVersion } from "../sources/debian.ts";
import { ChecksumError, LockFileError } from "../util/errors.ts";
import { fetchKernel, type KernelChoice, type KernelSourceOptions, type KernelTarball, resolveKernel } from "./kernel-tarball.ts";
import { toSemver } from "../sources/kernel-version.ts";
import { type LockEntry, lockedEntry, type LockMode, readLock, writeLock } from "../sources/lock-file.ts";

/** Which lock file to use and how. */
export interface LockOptions {
  path: string;
  mode: LockMode;
}

function choiceFromEntry(e: LockEntry): KernelChoice {
  const base = { version: e.version, semver: toSemver(e.version) ?? "0.0.0" };
  if (e.source === "kernel.org") {
    if (!/^https?:\/\/[^/]/.test(String(e.url))) throw new LockFileError(`Lock entry for the kernel has source kernel.org but no http(s) URL (${JSON.stringify(e.url)})`, "fix the url, or run with --update to re-resolve");
    return { ...base, source: "kernel.org", url: e.url };
  }
  if (e.source === "path") return { ...base, source: "path", url: e.url };
  const m = /^debian:([^=]+)=(.+)$/.exec(e.url);
  if (e.source !== "debian" || !m) throw new LockFileError(`Lock entry for the kernel has an unknown source ${e.source} (${e.url})`, "run with --update to re-resolve");
  return { ...base, source: "debian", url: e.url, topDir: m[1], debian: { name: m[1], version: m[2], upstream: upstreamVersion(m[2]), sha256: undefined, size: undefined } };
}

async function throughLockFile<T extends { version?: string; sha256: string; url?: string }>(
  name: string,
  spec: string,
  source: string,
  lockOpts: LockOptions | undefined,
  fromEntry: (e: LockEntry) => Promise<T>,
  fresh: () => Promise<T & { source: string }>,
  beforeFetch?: (version: string) => unknown,
): Promise<T> {
  if (!lockOpts) return await fresh();
  const lock = await readLock(lockOpts.path);
  const entry = lockedEntry(lock, name, spec, source, lockOpts.mode, lockOpts.path);
  if (entry) {
    await beforeFetch?.(entry.version);
    const got = await fromEntry(entry);
    if (got.sha256 !== entry.sha256) {
      throw new ChecksumError(`${name} from ${entry.url}`, entry.sha256, got.sha256, lockOpts.path);
    }
    return got;
  }
  const got = await fresh();
  lock.artifacts[name] = { spec, version: got.version ?? "unknown", source: got.source, url: got.url ?? "", sha256: got.sha256 };
  await writeLock(lockOpts.path, lock);
  return got;
}

/** Options of {@linkcode lockedKernel}. */
export interface LockedKernelOptions extends KernelSourceOptions {
  lock?: LockOptions;
  /** The lock entry's name (default `kernel`; a test matrix of several kernels uses `kernel:SPEC`). */
  lockName?: string;
  /**
   * Called with the version to fetch once it is known, before the download: a build checks
   * its config layers here, so a bad fragment fails before a 130 MB transfer, not after.
   */
  beforeFetch?: (version: string) => unknown;
}

/** The kernel tarball for `spec`, through the lock file when `lock` is given. */
export async function lockedKernel(spec: string, options: LockedKernelOptions = {}): Promise<KernelTarball> {
  const source = options.source ?? (options.env ?? process.env).MICROFORGE_KERNEL_SOURCE ?? "auto";
  return await throughLockFile(
    options.lockName ?? "kernel",
    spec,
    source,
    options.lock,
    (e) => fetchKernel(choiceFromEntry(e), { ...options, expectSha256: e.sha256 }),
    async () => {
      // --update re-resolves against upstream as it is now, not a release list kept for a few minutes.
      const choice = await resolveKernel(spec, options.lock?.mode === "update" ? { ...options, fresh: true } : options);
      await options.beforeFetch?.(choice.version);
      return await fetchKernel(choice, options);
    },
    options.beforeFetch,
  );
}

/** The busybox for `spec` from `source`, through the lock file when `lock` is given. */
export async function lockedBusybox(spec: string, source: BusyboxSource, options: BusyboxDeps & { lock?: LockOptions } = {}): Promise<Busybox> {
  // busybox is a binary of one architecture: another's has an entry of its own.
  const arch = options.arch ?? hostArch();
  return await throughLockFile(
    arch === hostArch() ? "busybox" : `busybox:${arch}`,
    spec,
    source,
    options.lock,
    (e) => resolveBusybox(e.source === "path" ? e.url : e.source, { ...options, version: e.version, url: e.source === "busybox.net" ? e.url : undefined, expectSha256: e.sha256 }),
    async () => {
      const bb = await resolveBusybox(source, { ...options, version: spec });
      return { ...bb, source: bb.origin };
    },
  );
}

/** What the lock records about a kernel built from a local tree: which tree, at which commit, and the image that came out. */
export interface TreeLockInfo {
  /** The tree's real path. */
  path: string;
  /** `uname -r` of the build. */
  release: string;
  /** sha256 of the image QEMU boots. */
  sha256: string;
  configHash: string;
  git?: { commit: string; dirty: boolean; diffSha256?: string };
}

/** The lock entry's name for a kernel built from a local tree (beside, not instead of, a release's `kernel`). */
export const TREE_LOCK_ENTRY = "kernel-tree";

/** The lock entry of a local tree's build (see {@linkcode lockTreeBuild}). */
export function treeLockEntry(info: TreeLockInfo): LockEntry {
  return {
    spec: "tree",
    version: info.release,
    source: "tree",
    url: info.path,
    sha256: info.sha256,
    configHash: info.configHash,
    ...(info.git ? { commit: info.git.commit, dirty: info.git.dirty, ...(info.git.diffSha256 ? { diffSha256: info.git.diffSha256 } : {}) } : {}),
  };
}

/**
 * Record a local tree's build in the lock. A tree changes under the developer,
 * so `reuse` and `update` rewrite the entry; `locked` refuses any difference
 * (another tree, commit, diff, config or image), saying what changed.
 */
export async function lockTreeBuild(lockOpts: LockOptions | undefined, info: TreeLockInfo): Promise<void> {
  if (!lockOpts) return;
  const lock = await readLock(lockOpts.path);
  const entry = treeLockEntry(info);
  const old = lock.artifacts[TREE_LOCK_ENTRY];
  if (lockOpts.mode === "locked") {
    const fields = ["url", "commit", "dirty", "diffSha256", "configHash", "sha256"] as const;
    const changed = !old ? ["the entry (there is none)"] : fields.filter((f) => JSON.stringify(old[f]) !== JSON.stringify(entry[f]));
    if (changed.length) {
      throw new LockFileError(`--locked: ${lockOpts.path} would change: the ${TREE_LOCK_ENTRY} entry differs in ${changed.join(", ")}`, "run without --locked to record this build of the tree, or check out the commit the lock names");
    }
    return;
  }
  lock.artifacts[TREE_LOCK_ENTRY] = entry;
  await writeLock(lockOpts.path, lock);
}
