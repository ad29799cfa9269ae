/**
 * An interactive VM: the serial console on the user's terminal. QEMU puts
 * the terminal in raw mode itself (Ctrl-A X quits, as in QEMU); we save the
 * terminal settings first and restore them on every exit path, even if QEMU
 * is killed.
 */
import { spawnSync } from "node:child_process";
import type { MicroVM } from "../vm/microvm.ts";
import { spawnTracked } from "../util/process.ts";
import { onExitOrSignal } from "../util/reaper.ts";

function saveTerminal(): (() => void) | undefined {
  if (!process.stdin.isTTY) return undefined;
  const saved = spawnSync("stty", ["-g"], { stdio: ["inherit", "pipe", "ignore"], encoding: "utf8" });
  const state = saved.status === 0 ? saved.stdout.trim() : "sane";
  return () => void spawnSync("stty", [state], { stdio: ["inherit", "ignore", "ignore"] });
}

/** Boot `vm` with its console on this terminal; resolves to QEMU's exit status when the guest powers off. */
export async function runInteractive(vm: MicroVM): Promise<number> {
  const argv = vm.toArgv();
  const restore = saveTerminal();
  const unhook = restore ? onExitOrSignal(() => (restore(), "restored the terminal settings")) : () => false;
  // Not detached: QEMU must stay in the terminal's foreground process group to read it.
  const qemu = spawnTracked(argv, { stdio: "inherit", group: false });
  try {
    const { code, signal } = await qemu.exited;
    return code ?? (signal ? 128 + 9 : 1);
  } finally {
    unhook();
    restore?.();
  }
}
