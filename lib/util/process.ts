/**
 * Running host commands from argv arrays (never a shell string), with the
 * output tail kept for errors. The `Runner` type lets tests inject a fake.
 * A command still running when we exit or are signalled is stopped with its
 * whole process group (see reaper.ts): it gets the signal first, so make
 * removes what it was writing, then SIGKILL.
 */
import { type ChildProcess, spawn, type StdioOptions } from "node:child_process";
import { CommandError, outputTail } from "./errors.ts";
import { diesWithUs, killOnExit, sendSignal } from "./reaper.ts";

/** What a finished command gives back. */
export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Options for {@linkcode runProcess}. */
export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Feed this to stdin; otherwise stdin is closed (or inherited with `stdio: "inherit"`). */
  input?: string | Uint8Array;
  /** Kill the command after this many milliseconds (SIGKILL to its process group). */
  timeoutMs?: number;
  /** Do not throw on non-zero exit; the caller inspects `code`. */
  nothrow?: boolean;
  /** "inherit" shows the command's output live (interactive installs). */
  stdio?: "pipe" | "inherit";
  /** Next step to put in the error message when the command fails. */
  hint?: string;
  /** Called with each chunk of output as it arrives (progress, logs). */
  onOutput?: (chunk: string, stream: "stdout" | "stderr") => void;
  /** Called with the command's pid once it started (it leads its own process group unless `stdio: "inherit"`). */
  onSpawn?: (pid: number) => void;
}

/** Output kept per stream; older output is dropped so a flood cannot exhaust memory. */
const KEEP = 1 << 20;

function append(buf: string, chunk: string): string {
  const next = buf + chunk;
  return next.length > 2 * KEEP ? next.slice(-KEEP) : next;
}

/** Runs argv; injectable so unit tests can fake the host. */
export type Runner = (argv: readonly string[], options?: RunOptions) => Promise<RunResult>;

/** Options of {@linkcode spawnTracked}. */
export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  stdio: StdioOptions;
  /** Lead a process group of its own, so stopping it stops everything it started (default true). */
  group?: boolean;
  /** On our exit or a signal: the signal first and a grace period (a build tool cleaning up), else SIGKILL at once (QEMU). */
  graceful?: boolean;
}

/** A started command: the child, how it ended, and how to stop it. */
export interface Spawned {
  child: ChildProcess;
  /** Resolves when it has exited and its streams closed; rejects when it could not start. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Send `sig` (default SIGKILL) to it, and to its process group when it leads one. */
  kill(sig?: NodeJS.Signals): void;
}

/**
 * The one way microforge starts a program: from an argv (never a shell
 * string), dying with us even on SIGKILL (`setpriv --pdeathsig`), tracked
 * so a signal or our exit stops it (see reaper.ts), in its own process group
 * unless it must share the terminal's.
 */
export function spawnTracked(argv: readonly string[], options: SpawnOptions): Spawned {
  const group = options.group ?? true;
  const [program, ...args] = diesWithUs(argv, options.env ?? process.env);
  const child = spawn(program, args, { cwd: options.cwd, env: options.env as NodeJS.ProcessEnv | undefined, stdio: options.stdio, detached: group });
  const untrack = child.pid === undefined ? () => false : killOnExit(child, group, { graceful: options.graceful ?? false, name: argv[0].split("/").pop() });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
    child.once("error", (err) => (untrack(), reject(err)));
    child.once("close", (code, sig) => (untrack(), resolve({ code, signal: sig })));
  });
  exited.catch(() => {});
  const kill = (sig: NodeJS.Signals = "SIGKILL") => {
    if (child.pid !== undefined) sendSignal(child.pid, group, sig);
  };
  return { child, exited, kill };
}

/** Run `argv[0]` with the remaining arguments; throws {@linkcode CommandError} on failure. */
export const runProcess: Runner = async (argv, options = {}) => {
  const inherit = options.stdio === "inherit";
  const { child, exited, kill } = spawnTracked(argv, {
    cwd: options.cwd,
    env: options.env,
    stdio: inherit ? "inherit" : [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    // On a terminal the command stays in its foreground process group (apt-get's prompts).
    group: !inherit,
    graceful: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    stdout = append(stdout, d);
    options.onOutput?.(d, "stdout");
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr = append(stderr, d);
    options.onOutput?.(d, "stderr");
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  const timer = options.timeoutMs ? setTimeout(() => kill(), options.timeoutMs) : undefined;
  try {
    const { code, signal } = await exited;
    const result = { code, signal, stdout, stderr };
    if ((code === 0 && !signal) || options.nothrow) return result;
    throw new CommandError(argv, code, signal, outputTail(stdout + stderr), options.hint);
  } finally {
    clearTimeout(timer);
  }
};
