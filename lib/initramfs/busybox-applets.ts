/**
 * A busybox's applet names (`busybox --list`), so the initramfs can carry
 * the `/bin/<applet>` links itself: `busybox --install -s` at boot costs
 * about 100 ms under TCG (hundreds of symlink calls, each emulated).
 */
import { type Runner, runProcess } from "../util/process.ts";
import { memoByStat } from "../util/stat-memo.ts";

const known = new Map<string, readonly string[] | undefined>();

/**
 * The applets of the busybox at `path` (sha256 `sha256`, the cache key), or
 * undefined when it cannot run on this host: `/init` then installs the
 * links at boot, as before.
 */
export async function busyboxApplets(path: string, sha256: string, run?: Runner, env: Record<string, string | undefined> = process.env): Promise<readonly string[] | undefined> {
  if (known.has(sha256)) return known.get(sha256);
  const ask = async () => {
    const r = await (run ?? runProcess)([path, "--list"], { nothrow: true, timeoutMs: 10_000 }).catch(() => undefined);
    // Applet names are plain words ("[" and "[[" included); anything else means the output is not a list.
    const names = r?.code === 0 ? r.stdout.split("\n").filter(Boolean) : [];
    return names.length > 10 && names.every((n) => /^[\w.\-[]+$/.test(n)) ? [...new Set(names)].sort() : null;
  };
  // On the real host, remembered on disk for this busybox (a later process spawns nothing); an injected runner is always asked.
  const names = run ? await ask() : await memoByStat(`busybox --list of ${sha256}`, [path], ask, env);
  const applets = names ? Object.freeze([...names]) : undefined;
  known.set(sha256, applets);
  return applets;
}
