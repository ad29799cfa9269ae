/** What the lock file records about a kernel built from a local tree. */
import type { TreeLockInfo } from "../fetch/locked.ts";
import type { KernelBuild } from "./build.ts";

/** The lock's view of a local-tree build: the tree, its git state, the release and the booted image's sha256. */
export function treeLockInfo(k: KernelBuild): TreeLockInfo {
  if (!k.local) throw new TypeError("treeLockInfo needs a build of a local tree");
  const sha256 = k.pvh && k.vmlinuxSha256 ? k.vmlinuxSha256 : k.bzImageSha256;
  return { path: k.local.path, release: k.release ?? k.version, sha256, configHash: k.configHash, git: k.local.git };
}
