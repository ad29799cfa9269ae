/**
 * No orphaned QEMU: every VM process is killed (its whole process group)
 * when this process exits, or gets SIGINT/SIGTERM/SIGHUP.
 */
import type { ChildProcess } from "node:child_process";

/** Children and whether they lead their own process group (spawned detached). */
const live = new Map<ChildProcess, boolean>();
let installed = false;

function killAll(): void {
  for (const [child, group] of live) {
    try {
      if (group) process.kill(-child.pid!, "SIGKILL");
      else child.kill("SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  }
  for (const hook of exitHooks) hook();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      killAll();
      // Default behaviour after cleanup: exit with 128 + signal number.
      process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const)[sig]);
    });
  }
}

const exitHooks = new Set<() => void>();

/** Run `hook` (synchronously) when this process exits or is signalled, e.g. to restore the terminal. */
export function onExitOrSignal(hook: () => void): () => void {
  install();
  exitHooks.add(hook);
  return () => exitHooks.delete(hook);
}

/** Track `child` until it exits (`group`: it was spawned detached, kill its process group); returns the untrack function. */
export function killOnExit(child: ChildProcess, group = true): () => void {
  install();
  live.set(child, group);
  const forget = () => live.delete(child);
  child.once("close", forget);
  return forget;
}
