/**
 * Scripted runs from a snapshot (`microforge run --snapshot -- CMD`): the
 * first run of a VM boots it as always, and once its /init waits for the
 * command on the cmd port, saves it with QMP (`migrate` to a file, no `stop`
 * first, so the state records a running guest) and goes on with the command
 * in the same VM. Later runs start QEMU with `-incoming exec:cat FILE`: the
 * guest resumes in that read, about 1.9× faster than a boot under TCG
 * (bench/snapshot.ts). The file sits in the cache under a key of the whole
 * argv (its socket directory left out) and the files it names, QEMU itself
 * included, so a rebuilt kernel or initramfs, an upgraded QEMU or any other
 * option gives another snapshot.
 */
import { rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { cacheRoot, ensureDir, tempPathFor } from "../util/cache-dir.ts";
import { findOnPath } from "../util/find-on-path.ts";
import { sha256Hex } from "../util/hash.ts";
import { shellQuote } from "../util/shell-quote.ts";
import { fileSignature } from "../util/stat-memo.ts";
import { QmpError } from "../util/errors.ts";
import { Qmp } from "../vm/qmp.ts";

/** Bump when the saved state or the way it is keyed changes meaning (e.g. what /init waits for). */
const FORMAT = "snapshot/v1";
/** Stands for the run's own socket directory in the key. */
const DIR = "\u0000dir\u0000";

/** Options of {@linkcode snapshotFor}. */
export interface SnapshotKeyOptions {
  /** The run's socket directory: left out of the key (every run has its own). */
  socketDir?: string;
  env?: Record<string, string | undefined>;
}

/**
 * The cache file (`<cache>/snapshots/<sha256>.state`) holding the VM that
 * `argv` boots, saved at its /init's wait for the command. The key covers
 * every argument but the socket directory, and how QEMU's binary and every
 * file the argv names (kernel, initramfs, firmware) look on disk.
 */
export async function snapshotFor(argv: readonly string[], options: SnapshotKeyOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const dir = options.socketDir;
  const args = dir ? argv.map((a) => a.replaceAll(dir, DIR)) : [...argv];
  const qemu = (await findOnPath(argv[0], env)) ?? argv[0];
  const files = [qemu, ...new Set(args.slice(1).filter((a) => a.startsWith("/")))];
  const signatures = await Promise.all(files.map(async (f) => [f, await fileSignature(f)]));
  const key = sha256Hex(JSON.stringify({ format: FORMAT, argv: args, files: signatures }));
  return join(cacheRoot(env), "snapshots", `${key}.state`);
}

/** Whether a snapshot file is there to restore from. */
export async function haveSnapshot(file: string): Promise<boolean> {
  return await stat(file).then((s) => s.isFile() && s.size > 0, () => false);
}

/** What saving took. */
export interface SavedSnapshot {
  file: string;
  /** QMP up → the guest's /init opened the cmd port. */
  readyMs: number;
  /** `migrate` → completed. */
  saveMs: number;
}

/** Options of {@linkcode saveSnapshot}. */
export interface SaveOptions {
  /** The QMP label of the cmd port's chardev (`port0` for the first port). */
  chardev?: string;
  /** How long each QMP step may take (default 10 s); the run's own timeout kills QEMU, which ends the wait for readiness. */
  timeoutMs?: number;
  /** QEMU has exited: stop waiting for its QMP socket. */
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Wait until the guest behind the QMP socket `qmpPath` has opened its cmd
 * port (its /init waits for the command), save it to `file` (atomically:
 * a temp name, then renamed), and let it run on. Rejects (a `QmpError`) when
 * QEMU refuses the migration (a mounted 9p share blocks it) or goes away;
 * the VM then runs on unsaved.
 */
export async function saveSnapshot(qmpPath: string, file: string, options: SaveOptions = {}): Promise<SavedSnapshot> {
  const chardev = options.chardev ?? "port0";
  const qmp = await Qmp.connect(qmpPath, { timeoutMs: options.timeoutMs, signal: options.signal });
  const tmp = tempPathFor(file);
  try {
    const t0 = performance.now();
    for (;;) {
      const chardevs = (await qmp.execute("query-chardev")) as { label: string; "frontend-open"?: boolean }[];
      if (chardevs.find((c) => c.label === chardev)?.["frontend-open"]) break;
      await sleep(5);
    }
    const readyMs = performance.now() - t0;
    await ensureDir(join(file, ".."));
    // QEMU 7.2 throttles a migration to 128 MiB/s by default.
    await qmp.execute("migrate-set-parameters", { "max-bandwidth": 16 * 2 ** 30 });
    const t1 = performance.now();
    // No `stop` first: the state then records a running guest, which
    // `-incoming` resumes by itself (a stopped one would wait for `cont`).
    // QEMU runs an exec: URI through /bin/sh -c.
    await qmp.execute("migrate", { uri: `exec:cat > ${shellQuote(tmp)}` });
    for (;;) {
      const m = (await qmp.execute("query-migrate")) as { status?: string; "error-desc"?: string };
      if (m.status === "completed") break;
      if (m.status === "failed" || m.status === "cancelled") throw new QmpError(`Saving the VM failed: ${m["error-desc"] ?? m.status}`);
      await sleep(2);
    }
    const saveMs = performance.now() - t1;
    // A completed migration leaves the source paused ("postmigrate"); this run goes on in it.
    await qmp.execute("cont");
    await rename(tmp, file);
    return { file, readyMs, saveMs };
  } finally {
    qmp.close();
    await rm(tmp, { force: true });
  }
}

/** Remove a snapshot that failed to restore, so the next run saves a new one. */
export async function dropSnapshot(file: string): Promise<void> {
  await rm(file, { force: true });
}
