/**
 * One boot measured from the host: spawn QEMU from an argv (no shell),
 * stdin from /dev/null, and time the first line our /init prints and the
 * QEMU exit. A boot that does not end within the timeout is a hang; its
 * process group is killed.
 */
import { spawn } from "node:child_process";
import { killOnExit } from "../../lib/util/reaper.ts";

/** What one boot did. */
export interface BootOutcome {
  /** Host ms from spawn to the /init banner line. */
  initMs?: number;
  /** Host ms from spawn to QEMU's exit (undefined for a hang). */
  exitMs?: number;
  /** Guest uptime (s) at "Run /init as init process", from its printk timestamp. */
  guestInitS?: number;
  /** No exit within the timeout (killed). */
  hung: boolean;
  exitCode: number | null;
  /** The last console lines, for telling why a boot failed. */
  tail: string;
}

/** Options of {@linkcode bootOnce}. */
export interface BootOnceOptions {
  /** The line /init prints first. */
  banner: string;
  timeoutMs: number;
  /** Called with every console line and the host ms since spawn it arrived at (bench/boot-profile.ts). */
  onLine?: (line: string, ms: number) => void;
}

/** Boot `argv` once and watch its console. */
export function bootOnce(argv: readonly string[], options: BootOnceOptions): Promise<BootOutcome> {
  const start = performance.now();
  const out: BootOutcome = { hung: false, exitCode: null, tail: "" };
  const lines: string[] = [];
  let partial = "";
  const feed = (chunk: string) => {
    const parts = (partial + chunk).split(/\r?\n/);
    partial = parts.pop() ?? "";
    for (const line of parts) {
      const runInit = /\[\s*(\d+\.\d+)\]\s+Run \/init as init process/.exec(line);
      if (runInit && out.guestInitS === undefined) out.guestInitS = Number(runInit[1]);
      const ms = performance.now() - start;
      if (out.initMs === undefined && line.includes(options.banner)) out.initMs = ms;
      options.onLine?.(line, ms);
      lines.push(line);
      if (lines.length > 40) lines.shift();
    }
  };
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], detached: true });
    const forget = killOnExit(child);
    child.stdout.setEncoding("utf8").on("data", feed);
    child.stderr.setEncoding("utf8").on("data", (d: string) => feed(d));
    const timer = setTimeout(() => {
      out.hung = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, options.timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      forget();
      reject(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      forget();
      if (!out.hung) out.exitMs = performance.now() - start;
      out.exitCode = code;
      out.tail = [...lines, partial].join("\n").trim();
      resolve(out);
    });
  });
}
