/**
 * Tools of your own in the image, beside busybox: Debian packages with
 * their dependencies (`packages`, see fetch/debian-packages.ts and
 * package-content.ts) and host executables with their libraries
 * (`binaries`, see host-binaries.ts), merged with the recipe's own extra
 * content. Where two give the same path, the later wins: packages, then
 * binaries, then the recipe's files.
 */
import type { Arch } from "../util/arch.ts";
import type { LockOptions } from "../fetch/locked.ts";
import { fetchPackages } from "../fetch/debian-packages.ts";
import type { Logger } from "../util/log.ts";
import { archivePath } from "./cpio.ts";
import { hostBinaryContent } from "./host-binaries.ts";
import { packageContent } from "./package-content.ts";
import type { ExtraContent } from "./rootfs.ts";

/** What {@linkcode guestToolContent} adds, and what it needs to know about the image. */
export interface GuestTools {
  /** Host executables, each at its own path, with its ELF interpreter and libraries. */
  binaries?: readonly string[];
  /** Debian packages (with their Depends and Pre-Depends), unpacked; maintainer scripts do not run. */
  packages?: readonly string[];
  /** Pins the packages by version and sha256. */
  lock?: LockOptions;
  /** busybox's applets: `/bin/NAME` for each is in the image (a script's `#!/bin/sh` is). */
  applets?: readonly string[];
  extra?: readonly ExtraContent[];
  env?: Record<string, string | undefined>;
  log: Logger;
  /** The guest's architecture (default x86_64): binaries and packages must be built for it. */
  arch?: Arch;
}

/** The image's extra content with the packages and binaries of `o` added (the recipe's own `extra` alone when there are none). */
export async function guestToolContent(o: GuestTools): Promise<ExtraContent[]> {
  const own = [...(o.extra ?? [])];
  if (!o.binaries?.length && !o.packages?.length) return own;
  let packaged: ExtraContent[] = [];
  if (o.packages?.length) {
    o.log.step(`Debian packages: ${o.packages.join(", ")} (with their dependencies; maintainer scripts do not run)`);
    const fetched = await fetchPackages(o.packages, { lock: o.lock, env: o.env, log: o.log, guestArch: o.arch });
    o.log.step(`unpacked ${fetched.length} packages: ${fetched.map((p) => `${p.name} ${p.version}`).join(", ")}`);
    packaged = await packageContent(fetched.map((p) => p.root));
  }
  const present = new Set(["init", "bin/busybox", "bin/sh", ...(o.applets ?? []).map((a) => `bin/${a}`), ...[...packaged, ...own].map((x) => archivePath(x.dest))]);
  const binaries = o.binaries?.length ? await hostBinaryContent(o.binaries, { inImage: (path) => present.has(archivePath(path)), arch: o.arch }) : [];
  const merged = new Map<string, ExtraContent>();
  for (const item of [...packaged, ...binaries, ...own]) merged.set(archivePath(item.dest), item);
  return [...merged.values()];
}
