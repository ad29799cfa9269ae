/**
 * A busybox's applet names (`busybox --list`), so the initramfs can carry
 * the `/bin/<applet>` links itself: `busybox --install -s` at boot costs
 * about 100 ms under TCG (hundreds of symlink calls, each emulated).
 */
import { type Runner, runProcess } from "../util/process.ts";

const known = new Map<string, readonly string[] | undefined>();

/**
 * The applets of the busybox at `path` (sha256 `sha256`, the cache key), or
 * undefined when it cannot run on this host: `/init` then installs the
 * links at boot, as before.
 */
export async function busyboxApplets(path: string, sha256: string, run: Runner = runProcess): Promise<readonly string[] | undefined> {
  if (known.has(sha256)) return known.get(sha256);
  const r = await run([path, "--list"], { nothrow: true, timeoutMs: 10_000 }).catch(() => undefined);
  // Applet names are plain words ("[" and "[[" included); anything else means the output is not a list.
  const names = r?.code === 0 ? r.stdout.split("\n").filter(Boolean) : [];
  const applets = names.length > 10 && names.every((n) => /^[\w.\-[]+$/.test(n)) ? Object.freeze([...new Set(names)].sort()) : undefined;
  known.set(sha256, applets);
  return applets;
}
