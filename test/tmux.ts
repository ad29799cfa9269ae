/**
 * A terminal for end-to-end tests: a tmux server of our own (its socket in a
 * temp dir, so the user's sessions are never touched) running one command.
 * tmux does not always report a pane's exit status, so a fixed sh script
 * prints `exited with N` after the command (passed as "$@").
 */
import assert from "node:assert/strict";
import { runProcess } from "../lib/util/process.ts";

/** A running terminal session. */
export interface Terminal {
  /** The visible screen as text. */
  screen(): Promise<string>;
  /** The screen once it matches `pattern`; fails the test after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Send tmux key names ("Enter", "Escape", "y"). */
  keys(...keys: string[]): Promise<unknown>;
  /** Type text literally. */
  type(text: string): Promise<unknown>;
  /** Stop the server and the command. */
  close(): Promise<unknown>;
}

/** Start `command` in a 200×50 terminal in `cwd`; the session's environment is `env` (the first client's). */
export async function terminal(o: { socket: string; cwd: string; env: Record<string, string | undefined>; command: string[]; waitMs?: number }): Promise<Terminal> {
  const t = async (...args: string[]) => (await runProcess(["tmux", "-S", o.socket, "-f", "/dev/null", ...args], { nothrow: true, env: o.env })).stdout;
  await runProcess(["tmux", "-S", o.socket, "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "200", "-y", "50", "-c", o.cwd, "sh", "-c", '"$@"; echo "exited with $?"; sleep 600', "sh", ...o.command], { env: o.env });
  const screen = () => t("capture-pane", "-p", "-t", "t");
  return {
    screen,
    async waitFor(pattern, timeoutMs = o.waitMs ?? 30_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const text = await screen();
        if (pattern.test(text)) return text;
        if (Date.now() > end) assert.fail(`timed out waiting for ${pattern} on the screen:\n${text}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    keys: (...k) => t("send-keys", "-t", "t", ...k),
    type: (text) => t("send-keys", "-t", "t", "-l", text),
    close: () => t("kill-server"),
  };
}
