/**
 * What `microforge run`, `vm.run()` and `vm.start()` have in common: boot a
 * VM for a person or a script and resolve to the exit status to end with.
 *
 * - A command: run it in a fresh VM (our stdin is its stdin unless we are
 *   on a terminal); its status, 124 on timeout, 255 when the guest failed.
 * - No command, on a terminal: the serial console on the terminal, a shell.
 * - No command, stdin not a terminal (a pipe, a file, /dev/null): the
 *   guest's shell reads our stdin over its own virtio-serial port, which
 *   buffers until the shell opens it, so nothing typed ahead is lost to the
 *   UART; EOF ends the shell, and its status is ours. Without this, a serial
 *   console fed from a pipe never sees EOF and the VM would run forever.
 */
import { MicroforgeError } from "../util/errors.ts";
import type { MicroVM } from "../vm/microvm.ts";
import { type ExecOptions, type ExecResult, execInVm } from "./exec.ts";
import { runInteractive } from "./interactive.ts";

/** The longest timer Node and Deno take (about 24.8 days): a piped shell has no time limit of its own. */
const NO_TIMEOUT_MS = 2 ** 31 - 1;

/** Options of {@linkcode startVm}: those of a scripted run, plus where its result goes. */
export interface StartOptions extends ExecOptions {
  /** Our stdin is a terminal (default: `process.stdin.isTTY`). */
  tty?: boolean;
  /** Called with a scripted run's result (timings, phases) before its status is returned. */
  onResult?: (result: ExecResult) => void;
  /** Where a guest failure is reported (default stderr). */
  report?: (line: string) => void;
  /** Called with a scripted run's failure (a panic, a timeout) before it is reported. */
  onError?: (err: MicroforgeError) => void;
}

/** The shell a piped stdin feeds: busybox sh reading commands from stdin. */
export const PIPED_SHELL: readonly string[] = ["sh"];

/** Boot `vm`: run `command`, or a shell; resolves to the exit status to end with (see the module doc). */
export async function startVm(vm: MicroVM, command: readonly string[] = [], options: StartOptions = {}): Promise<number> {
  const { tty = Boolean(process.stdin.isTTY), onResult, onError, report = (l) => void process.stderr.write(l), ...exec } = options;
  if (!command.length && tty) return await runInteractive(vm);
  const piped = !command.length;
  const stdin = exec.stdin !== undefined ? exec.stdin : tty ? null : (process.stdin as AsyncIterable<Uint8Array>);
  try {
    const r = await execInVm(vm, piped ? PIPED_SHELL : command, { ...exec, stdin, timeoutMs: exec.timeoutMs ?? (piped ? NO_TIMEOUT_MS : undefined) });
    onResult?.(r);
    return r.exitCode;
  } catch (err) {
    if (!(err instanceof MicroforgeError)) throw err;
    onError?.(err);
    report(`microforge: ${err.message}\n`);
    // A guest that failed without a status of its own (a panic, QEMU gone) is 255, as in containers.
    return err.exitCode === 1 ? 255 : err.exitCode;
  }
}
