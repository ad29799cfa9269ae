/**
 * No orphans and nothing half-done after a signal. On SIGINT, SIGTERM or
 * SIGHUP every VM is killed, every running command gets the same signal in
 * its process group (so `make` deletes the targets it was writing) and
 * SIGKILL if it is still there after a grace period, any other child we
 * started is stopped, the cleanups run (temp files, held locks, the
 * terminal), and the process exits with 128 + the signal number. The same
 * cleanups run on a plain exit. Linux details (process groups, zombies) are
 * read from /proc; elsewhere the grace period is simply waited out.
 */
import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { delimiter } from "node:path";
import { findOnPathSync } from "./find-on-path.ts";

/** How a tracked child is stopped. */
interface Tracked {
  /** It leads its own process group (spawned detached): signal the group. */
  group: boolean;
  /** Send the signal first and wait (a build tool cleaning up); else SIGKILL at once (QEMU). */
  graceful: boolean;
  /** For the message: "make". */
  name: string;
}

const live = new Map<ChildProcess, Tracked>();
const exitHooks = new Set<() => string | void>();
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
/** How long a command may take to stop after the signal before it gets SIGKILL. */
const GRACE_MS = 5000;
let installed = false;
let interrupted: keyof typeof SIGNALS | undefined;

/** The signal that is stopping this process, if one is. */
export function interruptedBy(): string | undefined {
  return interrupted;
}

function sleepSync(ms: number): void {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  } catch {
    const end = Date.now() + ms;
    while (Date.now() < end) { /* no Atomics.wait here: spin */ }
  }
}

/** pid → [state, ppid, pgrp] of every process, from /proc; `undefined` without /proc. */
function processTable(): Map<number, [string, number, number]> | undefined {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return undefined;
  }
  const table = new Map<number, [string, number, number]>();
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
      const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      table.set(Number(name), [state, Number(ppid), Number(pgrp)]);
    } catch { /* exited while we looked */ }
  }
  return table;
}

/** True while any non-zombie process of group `pgid` (or process `pid`) exists. */
function running(id: number, group: boolean): boolean {
  const table = processTable();
  if (!table) {
    try {
      process.kill(group ? -id : id, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const [pid, [state, , pgrp]] of table) {
    if ((group ? pgrp === id : pid === id) && state !== "Z") return true;
  }
  return false;
}

/** True while process group `pgid` has a live (non-zombie) member. */
export function groupRunning(pgid: number): boolean {
  return running(pgid, true);
}

/** The live (non-zombie) members of process group `pgid`; empty without /proc. */
export function groupMembers(pgid: number): number[] {
  return [...(processTable() ?? [])].filter(([, [state, , pgrp]]) => pgrp === pgid && state !== "Z").map(([pid]) => pid);
}

function send(id: number, group: boolean, signal: NodeJS.Signals): void {
  try {
    process.kill(group ? -id : id, signal);
  } catch { /* already gone */ }
}

/** Stop every tracked child; with `signal`, also the untracked children of this process. Returns what was stopped. */
function stopChildren(signal: NodeJS.Signals | undefined): string[] {
  const stopped: string[] = [];
  const gentle: [number, boolean][] = [];
  for (const [child, t] of live) {
    if (child.pid === undefined || !running(child.pid, t.group)) continue;
    stopped.push(`${t.name} (pid ${child.pid})`);
    if (t.graceful) {
      send(child.pid, t.group, signal ?? "SIGTERM");
      gentle.push([child.pid, t.group]);
    } else send(child.pid, t.group, "SIGKILL");
  }
  if (signal) {
    // Children started by code that does not track them (tar, xz, apt-get): they must not outlive us either.
    const tracked = new Set([...live.keys()].map((c) => c.pid));
    for (const [pid, [state, ppid]] of processTable() ?? []) {
      if (ppid !== process.pid || state === "Z" || tracked.has(pid)) continue;
      send(pid, false, "SIGTERM");
      gentle.push([pid, false]);
    }
  }
  for (const end = Date.now() + GRACE_MS; gentle.some(([id, g]) => running(id, g)) && Date.now() < end;) sleepSync(50);
  for (const [id, g] of gentle) if (running(id, g)) send(id, g, "SIGKILL");
  live.clear();
  return stopped;
}

/** Stop children, then run the exit hooks (temp files, locks, terminal); returns what was done. */
function cleanUp(signal?: NodeJS.Signals): string[] {
  const done: string[] = [];
  const stopped = stopChildren(signal);
  if (stopped.length) done.push(`stopped ${stopped.join(", ")}`);
  for (const hook of [...exitHooks]) {
    try {
      const what = hook();
      if (what) done.push(what);
    } catch { /* a failing cleanup must not stop the others */ }
  }
  exitHooks.clear();
  return done;
}

function onSignal(sig: keyof typeof SIGNALS): void {
  const code = 128 + SIGNALS[sig];
  if (interrupted) process.exit(code); // a second signal: stop waiting (the exit hook still SIGKILLs)
  interrupted = sig;
  const done = cleanUp(sig);
  process.stderr.write(`\nmicroforge: interrupted by ${sig}${done.length ? `: ${done.join("; ")}` : ""}\n`);
  process.exit(code);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", () => {
    cleanUp();
    if (interrupted) process.exitCode = 128 + SIGNALS[interrupted];
  });
  for (const sig of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) process.on(sig, () => onSignal(sig));
}

/**
 * Run `hook` (synchronously) when this process exits or is signalled: remove
 * a temp file, release a lock, restore the terminal. It may return a short
 * note of what it did for the "interrupted" message. Returns the unhook function.
 */
export function onExitOrSignal(hook: () => string | void): () => void {
  install();
  exitHooks.add(hook);
  return () => exitHooks.delete(hook);
}

/** Options of {@linkcode killOnExit}. */
export interface KillOptions {
  /** Send the signal (SIGTERM on exit) and wait up to 5 s before SIGKILL, so a build tool can clean up (default false: SIGKILL). */
  graceful?: boolean;
  /** Name for the message (default the program's name). */
  name?: string;
}

/** Track `child` until it exits (`group`: it was spawned detached, kill its process group); returns the untrack function. */
export function killOnExit(child: ChildProcess, group = true, options: KillOptions = {}): () => void {
  install();
  const name = options.name ?? (child.spawnfile ?? "command").split("/").pop()!;
  live.set(child, { group, graceful: options.graceful ?? false, name });
  const forget = () => live.delete(child);
  child.once("close", forget);
  return forget;
}

let setpriv: string | undefined | null = null;

/**
 * `argv` made to die with us, however we die (SIGKILL included, when no
 * handler of ours runs): util-linux `setpriv --pdeathsig KILL` asks the
 * kernel to SIGKILL the command when this process goes. Unchanged where
 * setpriv is missing, and for a program that is not on PATH (so the spawn
 * still fails with ENOENT, naming the program).
 */
export function diesWithUs(argv: readonly string[], env: Record<string, string | undefined> = process.env): string[] {
  if (setpriv === null) setpriv = process.platform === "linux" ? findOnPathSync("setpriv", { PATH: `${process.env.PATH ?? ""}${delimiter}/usr/bin${delimiter}/bin` }) : undefined;
  const program = setpriv ? findOnPathSync(argv[0], env) : undefined;
  // argv[0] as given: setpriv finds it on the same PATH, and the process keeps its name (`make -C ...`).
  return setpriv && program ? [setpriv, "--pdeathsig", "KILL", "--", ...argv] : [...argv];
}
