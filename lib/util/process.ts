/**
 * Running host commands from argv arrays (never a shell string), with the
 * output tail kept for errors. The `Runner` type lets tests inject a fake.
 * A command still running when we exit or are signalled is stopped with its
 * whole process group (see vm-reaper.ts): it gets the signal first, so make
 * removes what it was writing, then SIGKILL.
 */
import { spawn } from "node:child_process";
import { CommandError, outputTail } from "./errors.ts";
import { diesWithUs, killOnExit } from "./reaper.ts";

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

/** Run `argv[0]` with the remaining arguments; throws {@linkcode CommandError} on failure. */
export const runProcess: Runner = (argv, options = {}) => {
  const [cmd, ...args] = diesWithUs(argv, options.env ?? process.env);
  return new Promise((resolve, reject) => {
    const inherit = options.stdio === "inherit";
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env as NodeJS.ProcessEnv | undefined,
      stdio: inherit ? "inherit" : [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      detached: !inherit,
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
    const kill = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const timer = options.timeoutMs ? setTimeout(kill, options.timeoutMs) : undefined;
    const untrack = child.pid === undefined ? () => false : killOnExit(child, !inherit, { graceful: true, name: argv[0].split("/").pop() });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    child.on("error", (err) => {
      clearTimeout(timer);
      untrack();
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      untrack();
      const result = { code, signal, stdout, stderr };
      if ((code === 0 && !signal) || options.nothrow) return resolve(result);
      reject(new CommandError(argv, code, signal, outputTail(stdout + stderr), options.hint));
    });
  });
};
