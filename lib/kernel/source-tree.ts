/**
 * Extracted kernel source trees, cached by tarball sha256 and reused across
 * configs. A tree is extracted under a temp name and renamed when complete,
 * so a half-extracted tree is never taken for a whole one. The decompressed
 * stream passes through {@linkcode TarScanner} on its way to `tar -x`: a
 * member that could land or point outside the tree stops the extraction
 * before tar reads it.
 */
import type { ChildProcess } from "node:child_process";
import { open, mkdir, readdir, realpath, rename, rm, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import type { Readable, Writable } from "node:stream";
import { cacheRoot, tempPathFor } from "../util/cache-dir.ts";
import { CommandError, KernelTreeError, MicroforgeError, MissingToolError, UnsafeArchiveError, outputTail } from "../util/errors.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import { decompressor, TarScanner } from "./tar-scan.ts";
import { spawnTracked } from "../util/process.ts";

/** Options of {@linkcode sourceTree}. */
export interface SourceTreeOptions {
  env?: Record<string, string | undefined>;
  log?: Logger;
}

/** `<cache>/src/<sha256>`: the tree of a tarball, top directory stripped. */
export function sourceTreePath(sha256: string, env: Record<string, string | undefined> = process.env): string {
  return join(cacheRoot(env), "src", sha256);
}

/** Extract `tarball` (sha256 `sha256`) once; return the tree's path. */
export async function sourceTree(tarball: { path: string; sha256: string; version?: string }, options: SourceTreeOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const dir = sourceTreePath(tarball.sha256, env);
  if (await stat(join(dir, "Makefile")).then(() => true, () => false)) return dir;
  const log = options.log ?? stderrLogger();
  log.step(`extracting ${tarball.version ? `linux ${tarball.version}` : tarball.path} (about a minute for a full tree)`);
  await mkdir(join(dir, ".."), { recursive: true });
  const tmp = tempPathFor(dir);
  await mkdir(tmp);
  try {
    await extractTar(tarball.path, tmp, { stripComponents: 1 });
    if (!(await readdir(tmp)).includes("Makefile")) {
      throw new KernelTreeError(`${tarball.path} does not look like a kernel source tarball (no top-level Makefile)`, "check the kernel source");
    }
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return dir;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** A child process's end: exit code or signal, and the tail of its stderr. */
interface Ended {
  code: number | null;
  signal: string | null;
  tail: string;
}

/** Debian packages of the programs extraction runs. */
const PACKAGES: Record<string, string> = { xz: "xz-utils" };

function start(argv: string[], stdio: ["pipe" | "ignore" | number, "pipe" | "ignore", "pipe"]): { child: ChildProcess; ended: Promise<Ended> } {
  // In our process group: a signal to us reaches tar and xz too, and the reaper waits for them.
  const { child, exited } = spawnTracked(argv, { stdio, group: false, graceful: true });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-8192)));
  const ended = exited.then(({ code, signal }) => ({ code, signal, tail: outputTail(stderr) }), (err) => {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    throw missing ? new MissingToolError(argv[0], "it unpacks the kernel source", `install it with \`apt-get install ${PACKAGES[argv[0]] ?? argv[0]}\``) : err;
  });
  ended.catch(() => {});
  return { child, ended };
}

/** Write to tar's stdin, waiting only when its buffer is full; fails when tar has closed it. */
async function write(stream: Writable, data: Uint8Array): Promise<void> {
  const gone = () => new Error("tar closed its input");
  if (stream.destroyed) throw gone();
  if (stream.write(data)) return;
  if (stream.destroyed) throw gone();
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off("drain", onDrain).off("error", done).off("close", onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(gone());
    stream.on("drain", onDrain).on("error", done).on("close", onClose);
  });
}

/**
 * Extract the tar archive at `file` (plain, xz, gzip, bzip2 or zstd) into the
 * existing directory `dest`, refusing unsafe members (see tar-scan.ts) before
 * tar sees them. On failure `dest` may hold part of the tree: the caller
 * removes it.
 */
export async function extractTar(file: string, dest: string, options: { stripComponents?: number } = {}): Promise<void> {
  const strip = options.stripComponents ?? 0;
  const head = new Uint8Array(8);
  const fh = await open(file, "r");
  try {
    await fh.read(head, 0, head.length, 0);
  } finally {
    await fh.close();
  }
  const unpack = decompressor(head);
  const scanner = new TarScanner({ archive: file, stripComponents: strip });
  const tarArgv = ["tar", "-x", "-f", "-", "-C", dest, `--strip-components=${strip}`, "--no-same-owner", "--no-same-permissions"];
  const tar = start(tarArgv, ["pipe", "ignore", "pipe"]);
  const source = unpack ? start([...unpack, "--", file], ["ignore", "pipe", "pipe"]) : undefined;
  const input: Readable = source ? source.child.stdout! : (await open(file, "r")).createReadStream();
  const killAll = () => {
    tar.child.kill("SIGKILL");
    source?.child.kill("SIGKILL");
  };
  process.once("exit", killAll);
  const stdin = tar.child.stdin!;
  stdin.on("error", () => {}); // EPIPE when tar stops early: reported from tar's exit below
  const damaged = "the tarball is damaged: delete it from the cache (`microforge cache clean`) and fetch it again";
  try {
    try {
      for await (const chunk of input) {
        const n = scanner.push(chunk as Uint8Array);
        if (n) await write(stdin, n === chunk.length ? chunk : (chunk as Uint8Array).subarray(0, n));
        // After the end marker the rest is padding; it is read (so the decompressor's integrity check runs) but not passed on.
      }
      // A decompressor that failed says more than "truncated" would.
      const s = await source?.ended;
      if (s && (s.code !== 0 || s.signal)) throw new CommandError([...unpack!, "--", file], s.code, s.signal, s.tail, damaged);
      scanner.end();
      // The scan stops at the first zero block; a second one makes the end marker complete for tar.
      if (scanner.done) await write(stdin, new Uint8Array(2 * 512));
      stdin.end();
    } catch (err) {
      killAll();
      input.destroy();
      const ended: Ended | Error = await tar.ended.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      if (err instanceof MicroforgeError) throw err;
      // A write failed because tar stopped (or never started): its own message says why.
      if (ended instanceof Error) throw ended;
      if ((ended.code !== 0 || ended.signal) && ended.signal !== "SIGKILL") throw tarError(tarArgv, ended);
      throw err;
    }
    const t = await tar.ended;
    if (t.code !== 0 || t.signal) throw tarError(tarArgv, t);
  } finally {
    process.removeListener("exit", killAll);
  }
  await checkSymlinks(file, dest, scanner.symlinks);
}

function tarError(argv: string[], ended: Ended): CommandError {
  return new CommandError(argv, ended.code, ended.signal, ended.tail, "the tarball may be damaged, or the disk full: check the output above, then fetch again");
}

/**
 * Each symlink's target was checked by name as it streamed past; a chain of
 * symlinks can still lead out once all exist, so resolve each for real.
 */
async function checkSymlinks(file: string, dest: string, links: readonly { path: string; member: string }[]): Promise<void> {
  if (!links.length) return;
  const root = await realpath(dest);
  for (const link of links) {
    const target = await realpath(join(dest, link.path)).catch(() => undefined); // dangling or a loop: leads nowhere
    if (target !== undefined && target !== root && !target.startsWith(root + sep)) {
      throw new UnsafeArchiveError(file, link.member, `is a symlink that resolves to ${target}, outside the tree`);
    }
  }
}
