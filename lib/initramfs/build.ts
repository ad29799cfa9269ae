/**
 * Building an initramfs: find busybox, lay out the root filesystem, render
 * `/init`, add kernel modules when given, pack it reproducibly. The image
 * is named by its sha256, so its name changes with any module's content. (The DSL's `initramfs()` adds the recipe's
 * own templates/ to the search.)
 */
import type { Arch } from "../util/arch.ts";
import { rename } from "node:fs/promises";
import { join } from "node:path";
import { type Busybox, type BusyboxSource, resolveBusybox } from "../fetch/busybox.ts";
import { busyboxApplets } from "./busybox-applets.ts";
import { cacheRoot, tempPathFor } from "../util/cache-dir.ts";
import { type PackOptions, type PackResult, packInitramfs, sourceDateEpoch } from "./pack.ts";
import { packedBefore, packInputKey, rememberPack } from "./pack-memo.ts";
import { type Logger, stderrLogger } from "../util/log.ts";
import { type RootfsSpec, rootfsEntries } from "./rootfs.ts";
import { guestToolContent } from "./guest-tools.ts";
import type { LockOptions } from "../fetch/locked.ts";

/** Options of {@linkcode buildInitramfs}. */
export interface InitramfsOptions extends Omit<RootfsSpec, "busybox">, PackOptions {
  /** A resolved busybox, or where to find one (default "auto"). */
  busybox?: Busybox | BusyboxSource;
  /** Version spec for a busybox that is not given as an object (default "latest"). */
  busyboxVersion?: string;
  /** The guest architecture (default x86_64): busybox, binaries and packages must be built for it. */
  arch?: Arch;
  /** Host executables to copy in, each with its interpreter and libraries (see {@linkcode guestToolContent}). */
  binaries?: readonly string[];
  /** Debian packages to unpack in, with their dependencies; maintainer scripts do not run. */
  packages?: readonly string[];
  /** Pins the packages in the lock file. */
  lock?: LockOptions;
  /** Output file; default `<cache>/initramfs/<sha256>.cpio.gz`. */
  output?: string;
  log?: Logger;
  env?: Record<string, string | undefined>;
}

/** A built initramfs: its file, size and sha256, and the busybox inside. */
export interface Initramfs extends PackResult {
  busybox: Busybox;
}

/** Build an initramfs with busybox and a rendered `/init`; the same inputs give the same bytes. */
export async function buildInitramfs(options: InitramfsOptions = {}): Promise<Initramfs> {
  const log = options.log ?? stderrLogger();
  const env = options.env ?? process.env;
  const busybox = typeof options.busybox === "object" ? options.busybox : await resolveBusybox(options.busybox, { log, env, version: options.busyboxVersion, arch: options.arch });
  log.step(`packing initramfs (busybox ${busybox.version ?? "?"} from ${busybox.origin})`);
  const init = options.init;
  const applets = options.applets ?? (await busyboxApplets(busybox.path, busybox.sha256, undefined, env));
  const extra = await guestToolContent({ binaries: options.binaries, packages: options.packages, lock: options.lock, applets, extra: options.extra, env, log, arch: options.arch });
  const entries = await rootfsEntries({ busybox: busybox.path, init, extra, applets, modules: options.modules }, { log });
  const dir = join(cacheRoot(env), "initramfs");
  const memberCache = join(cacheRoot(env), "gzip-members");
  // A name of our own while building (another process may be packing the same
  // image), in the temp-name form `cache clean` removes if we are killed.
  const building = tempPathFor(join(dir, "building.cpio"));
  // The same inputs as an earlier pack into the cache: its image, untouched since, is this one.
  const key = options.output ? undefined : await packInputKey(entries, { gzip: options.gzip ?? 9, mtime: options.mtime ?? sourceDateEpoch(), uid: options.uid, gid: options.gid });
  const before = key ? await packedBefore(dir, key) : undefined;
  if (before) return { ...before, busybox };
  const result = await packInitramfs(entries, options.output ?? building, { memberCache, ...options });
  if (key) {
    const final = join(dir, `${result.sha256}.cpio${options.gzip === false ? "" : ".gz"}`);
    await rename(result.path, final);
    result.path = final;
    await rememberPack(dir, key, result);
  }
  return { ...result, busybox };
}
