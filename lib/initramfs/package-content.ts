/**
 * Unpacked Debian packages (fetch/debian-packages.ts) as the image's extra
 * content: every file, symlink and directory, /etc included, merged in
 * order (a later package's file wins, as when dpkg unpacks it later).
 * Maintainer scripts never run: nothing is configured, no user is added, no
 * alternative or diversion is made; a package that needs its postinst to work
 * will not.
 *
 * The busybox image has real /bin and /lib directories and busybox's applet
 * links at /bin/NAME:
 * - a package file at /bin/NAME replaces the applet link (the real program is
 *   what the package's users call by that path), except /bin/sh and
 *   /bin/busybox, and /init, which stay busybox's;
 * - a /usr-merge link a package ships for a top-level directory the image
 *   has (`bin -> usr/bin`, Debian 13's base-files) is not taken over the
 *   directory: each entry of usr/bin gets its own /bin/NAME link instead.
 * `/init`'s PATH is /bin:/sbin:/usr/bin:/usr/sbin, so a package's
 * /usr/bin/NAME is found, after busybox's applet of that name.
 *
 * - Debian 13's packages are /usr-merged (the loader is /usr/lib/ld-linux-*):
 *   its /lib/NAME link is added, the path every binary's PT_INTERP names.
 *
 * No library search path is written: Debian's glibc loader searches
 * /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib and /usr/lib
 * without /etc/ld.so.cache (`ld.so --help`, "System search path"), which is
 * where packages put their libraries. /etc/ld.so.conf.d files are kept.
 */
import { lstat, readdir, readlink } from "node:fs/promises";
import { join, posix } from "node:path";
import { BASE_DIRS, type ExtraContent } from "./rootfs.ts";
import { archivePath } from "./cpio.ts";

/** Paths a package never replaces: the image's shell, busybox and init. */
export const PROTECTED_PATHS: readonly string[] = ["init", "bin/busybox", "bin/sh", "etc/udhcpc.script"];

async function walk(root: string, rel: string, out: Map<string, ExtraContent>, merged: Map<string, string>): Promise<void> {
  for (const entry of (await readdir(join(root, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const dest = rel ? `${rel}/${entry.name}` : entry.name;
    const path = join(root, dest);
    const info = await lstat(path);
    if (info.isSymbolicLink()) {
      const target = await readlink(path);
      // A /usr-merge link over a directory the image has: expanded per entry below.
      if (!rel && BASE_DIRS.includes(dest)) merged.set(dest, archivePath(posix.normalize(posix.join("/", target))));
      else out.set(dest, { dest, symlink: target });
    } else if (info.isDirectory()) {
      if (!BASE_DIRS.includes(dest)) out.set(dest, { dest, dir: true, mode: info.mode & 0o7777 });
      await walk(root, dest, out, merged);
    } else if (info.isFile()) {
      out.set(dest, { dest, source: path, mode: info.mode & 0o7777 });
    }
    // Device nodes and FIFOs: a package ships none that matter in a VM; devtmpfs provides /dev.
  }
}

/**
 * The content of the unpacked package `roots` (directories, in order) for
 * `RootfsSpec.extra`, sorted by path; see the module doc for what is left out.
 */
export async function packageContent(roots: readonly string[]): Promise<ExtraContent[]> {
  const out = new Map<string, ExtraContent>();
  const merged = new Map<string, string>();
  for (const root of roots) await walk(root, "", out, merged);
  for (const p of PROTECTED_PATHS) out.delete(p);
  const free = (dest: string) => !out.has(dest) && !PROTECTED_PATHS.includes(dest);
  for (const [dir, target] of merged) {
    for (const dest of [...out.keys()]) {
      const name = dest.slice(target.length + 1);
      if (dest.startsWith(`${target}/`) && !name.includes("/") && free(`${dir}/${name}`)) out.set(`${dir}/${name}`, { dest: `${dir}/${name}`, symlink: `/${dest}` });
    }
  }
  // Debian 13's packages are /usr-merged: libc6 ships its loader as /usr/lib/ld-linux-*.so.*, while
  // binaries ask for /lib/ld-linux-*.so.* (PT_INTERP), which base-files' `lib -> usr/lib` would give.
  for (const dest of [...out.keys()]) {
    const m = /^usr\/(lib|lib64)\/(ld-linux[^/]*\.so[^/]*)$/.exec(dest);
    if (m && free(`${m[1]}/${m[2]}`)) out.set(`${m[1]}/${m[2]}`, { dest: `${m[1]}/${m[2]}`, symlink: `/${dest}` });
  }
  return [...out.values()].sort((a, b) => a.dest < b.dest ? -1 : a.dest > b.dest ? 1 : 0);
}
