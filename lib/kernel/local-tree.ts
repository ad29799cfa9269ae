/**
 * A kernel source tree of the user's own (a git checkout, an extracted
 * tarball): checked, described and never written to. The build runs out of
 * tree (`O=`), so a tree that was configured in-tree is refused, as kbuild
 * itself refuses it, with the `make mrproper` hint. Its git commit, and
 * whether it was dirty (with a hash of `git diff HEAD`), go into the build
 * record, so every result says which kernel ran.
 */
import { readFile, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { KernelTreeError } from "../util/errors.ts";
import { sha256Hasher } from "../util/hash.ts";
import { type Runner, runProcess } from "../util/process.ts";

/** A local tree as it was when the build started. */
export interface LocalTree {
  /** The tree's real path (symlinks resolved): part of the build's cache key. */
  path: string;
  /** VERSION.PATCHLEVEL.SUBLEVEL from its Makefile ("6.1.192"), for the config templates. */
  version: string;
  /** The Makefile's EXTRAVERSION ("-rc3", or ""). */
  extraversion: string;
  /** Set when the tree is a git work tree. */
  git?: { commit: string; dirty: boolean; diffSha256?: string };
}

const HINT = "pass the top directory of a kernel source tree (a git checkout or an extracted tarball)";

/** The Makefile's version variables; a tree without them is refused. */
export function makefileVersion(makefile: string): { version: string; extraversion: string } | undefined {
  const field = (n: string) => new RegExp(`^${n}\\s*=[ \\t]*(\\S*)`, "m").exec(makefile)?.[1];
  const [v, p, s] = [field("VERSION"), field("PATCHLEVEL"), field("SUBLEVEL")];
  if (!v || !/^\d+$/.test(v)) return undefined;
  return { version: [v, p || "0", s || "0"].join("."), extraversion: field("EXTRAVERSION") ?? "" };
}

/** Check `dir` is a clean, unconfigured kernel tree and describe it. */
export async function localTree(dir: string, o: { run?: Runner } = {}): Promise<LocalTree> {
  const run = o.run ?? runProcess;
  const s = await stat(dir).catch(() => undefined);
  if (!s?.isDirectory()) throw new KernelTreeError(`Kernel tree ${dir} ${s ? "is not a directory" : "does not exist"} (--kernel-tree)`, HINT);
  const path = await realpath(dir);
  const makefile = await readFile(join(path, "Makefile"), "utf8").catch(() => "");
  const v = makefileVersion(makefile);
  if (!v || !(await stat(join(path, "Kconfig")).then(() => true, () => false))) throw new KernelTreeError(`${path} is not a kernel source tree (no VERSION in its Makefile, or no Kconfig)`, HINT);
  // kbuild refuses an O= build of a tree configured in place ("The source tree is not clean").
  for (const f of [".config", "include/config"]) {
    if (await stat(join(path, f)).then(() => true, () => false)) {
      throw new KernelTreeError(`The kernel tree ${path} was configured in place (it has ${f}); microforge builds out of tree and never writes into it`, `run \`make -C ${path} mrproper\` first (it deletes the in-tree .config and build output: copy the .config elsewhere if you need it)`);
    }
  }
  return { path, ...v, git: await gitState(path, run) };
}

/** The tree's commit and whether it differs from it; undefined outside git. */
async function gitState(path: string, run: Runner): Promise<LocalTree["git"]> {
  const git = (...args: string[]) => run(["git", "-C", path, ...args], { nothrow: true }).catch(() => undefined);
  const top = await git("rev-parse", "--show-toplevel");
  if (!top || top.code !== 0 || (await realpath(top.stdout.trim()).catch(() => "")) !== path) return undefined;
  const head = await git("rev-parse", "--verify", "HEAD");
  if (!head || head.code !== 0) return undefined;
  const status = await git("status", "--porcelain", "--untracked-files=normal");
  const dirty = (status?.stdout.trim() ?? "") !== "";
  if (!dirty) return { commit: head.stdout.trim(), dirty };
  // Hashed as it streams: a captured output keeps only its last megabyte, and a diff can be far larger.
  const hash = sha256Hasher();
  const diff = await run(["git", "-C", path, "diff", "HEAD", "--no-color", "--no-ext-diff"], {
    nothrow: true,
    onOutput: (chunk, stream) => void (stream === "stdout" && hash.update(chunk)),
  }).catch(() => undefined);
  return { commit: head.stdout.trim(), dirty, ...(diff?.code === 0 ? { diffSha256: hash.digest("hex") } : {}) };
}
