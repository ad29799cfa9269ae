/**
 * Running one command in a fresh microVM, like a container: the command goes
 * in over a virtio-serial port, its stdin, stdout and stderr are ports of
 * their own (so kernel messages on the serial console never mix with them),
 * and its exit status comes back on a status port. QEMU connects to unix
 * sockets we listen on before it starts, so nothing the guest writes is lost.
 */
import type { Socket } from "node:net";
import { BootTimeoutError, CommandError, GuestError, InputError, outputTail } from "../util/errors.ts";
import type { KernelSymbols, MicroVM, Port } from "../vm/microvm.ts";
import { shellJoin } from "../util/shell-quote.ts";
import { bootPhases, type Phase } from "./phases.ts";
import { printkCollector, writeTimeline } from "./timeline.ts";
import { type BootTimings, type ConsoleWatch, watchConsole } from "./console.ts";
import { decodePanic } from "./decode-panic.ts";
import type { Runner } from "../util/process.ts";
import { closeLaunched, launchVm, type PortName } from "./vm-process.ts";
import type { WarmStart } from "./warm-start.ts";

/** Options of {@linkcode execInVm}. */
export interface ExecOptions {
  /** The command's stdin: bytes, a stream, or nothing (EOF at once). */
  stdin?: string | Uint8Array | AsyncIterable<Uint8Array> | null;
  /** Where the command's output goes (default: this process's stdout/stderr, with backpressure). */
  stdout?: OutputSink;
  stderr?: OutputSink;
  /** Kernel console output, for --verbose. */
  console?: (chunk: string) => void;
  /** Kill the VM after this long (default 120 s; TCG boots are slow). */
  timeoutMs?: number;
  /** The line /init prints first (see the init template's banner). */
  banner?: string;
  /** Stop the VM early (e.g. a server recipe that is done); the result then has exit code 130. */
  signal?: AbortSignal;
  /**
   * Keep the kernel's timestamped lines for the boot phases (nested guest
   * detail), which also turns off the kernel's `quiet`: a few ms slower.
   */
  timings?: boolean;
  /** Write the boot timeline as an SVG chart to this path (implies `timings`). */
  timeline?: string;
  /** Pass `quiet` to the kernel (default: yes, unless `timings`, `timeline` or a `console` callback wants its messages). */
  quietKernel?: boolean;
  /** Runs the host tools that decode a panic's stack trace (default `runProcess`; tests fake it). */
  decodeRunner?: Runner;
  /** The CLI's warm start: the VM it booted early, taken when it is this one, and where this run's argv is remembered. */
  warm?: WarmStart;
}

/**
 * Takes one chunk of the command's output. A returned promise means "not
 * now": reading stops until it settles, so a slow consumer slows the guest
 * down instead of piling its output up in our memory.
 */
export type OutputSink = (chunk: Uint8Array) => unknown;

/** A sink writing to `stream` that asks to pause while the stream's buffer is full. */
export function streamSink(stream: NodeJS.WritableStream & { destroyed?: boolean }): (chunk: Uint8Array) => Promise<void> | undefined {
  return (chunk) => {
    if (stream.destroyed) return; // the reader went away (EPIPE): drop the rest, like a pipeline would
    if (stream.write(chunk)) return;
    return new Promise<void>((done) => {
      const settle = () => {
        for (const [ev, fn] of [["drain", settle], ["error", settle], ["close", settle]] as const) stream.removeListener(ev, fn);
        done();
      };
      stream.once("drain", settle).once("error", settle).once("close", settle);
    });
  };
}

/** What a scripted run gives back. */
export interface ExecResult {
  exitCode: number;
  timings: BootTimings;
  /** Where the time went: host-side phases, plus kernel detail with `timings`. */
  phases: Phase[];
  /** The last console lines. */
  console: string;
  /** The VM was the one the warm start booted before microforge loaded (see warm-start.ts). */
  warmStart?: boolean;
}

async function feedStdin(socket: Socket, stdin: ExecOptions["stdin"]): Promise<void> {
  socket.on("error", () => undefined);
  if (stdin === null || stdin === undefined) return void socket.end();
  if (typeof stdin === "string" || stdin instanceof Uint8Array) return void socket.end(stdin);
  for await (const chunk of stdin) {
    if (socket.destroyed) break;
    if (!socket.write(chunk)) await new Promise((r) => socket.once("drain", r));
  }
  socket.end();
}

/**
 * The output ports' readers. After QEMU exits, {@linkcode drained} waits for
 * every connected port to reach its end. It gives up only when nothing moved
 * for `idleMs` while no sink was holding us back: a port QEMU never
 * connected (it failed to start) or never closed must not keep us waiting.
 */
class PortReaders {
  #open = new Set<Socket>();
  #held = 0;
  #idle?: { timer?: ReturnType<typeof setTimeout>; ms: number; fire: () => void };
  #allClosed?: () => void;

  read(socket: Promise<Socket>, sink: OutputSink): void {
    void socket.then((s) => {
      this.#open.add(s);
      s.on("data", (c: Uint8Array) => {
        this.#poke();
        const wait = sink(c);
        // Only a promise holds us back (a sink like `(c) => (out += c)` returns other values).
        if (!(wait instanceof Promise)) return;
        s.pause();
        this.#held++;
        this.#poke();
        const resume = () => {
          this.#held--;
          this.#poke();
          s.resume();
        };
        void wait.then(resume, resume);
      });
      const gone = () => {
        this.#open.delete(s);
        if (!this.#open.size) this.#allClosed?.();
      };
      s.on("close", gone).on("error", gone);
    });
  }

  /**
   * Resolve once every connected port has closed, or nothing moved for
   * `idleMs` while no sink held us back, or `maxMs` passed (a reader that
   * never reads must not outlive the run's timeout).
   */
  async drained(idleMs: number, maxMs: number): Promise<void> {
    if (!this.#open.size) return;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((done) => {
      this.#allClosed = done;
      this.#idle = { ms: idleMs, fire: done };
      deadline = setTimeout(done, Math.max(maxMs, idleMs));
      this.#poke();
    });
    // Pending timers would keep the process alive after every run.
    clearTimeout(deadline);
    clearTimeout(this.#idle?.timer);
    this.#idle = undefined;
  }

  #poke(): void {
    const idle = this.#idle;
    if (!idle) return;
    clearTimeout(idle.timer);
    idle.timer = this.#held ? undefined : setTimeout(idle.fire, idle.ms);
  }
}

/** The unix sockets QEMU's ports connect to, listening before it starts so nothing the guest writes is lost. */
/** The error of a guest that gave no status: also its panic's decoded stack trace, when there is one. */
export type GuestFailure = GuestError & { exitCode: number; timings: BootTimings; phases: Phase[]; consoleTail: string; decodedTrace?: string };

/**
 * Why the guest gave no status: a panic (and what to do about it) or a VM
 * that ended without one. With `symbols`, the panic or oops trace the console
 * kept is decoded to file:line (see decode-panic.ts); if that fails, the error
 * is the same without it.
 */
export async function guestFailure(
  watch: Pick<ConsoleWatch, "panicked" | "panicMessage" | "timings" | "trace" | "tail">,
  phases: Phase[],
  o: { symbols?: KernelSymbols; run?: Runner } = {},
): Promise<GuestFailure> {
  const what = watch.panicked ? `The guest kernel panicked${watch.panicMessage ? `: ${watch.panicMessage}` : ""}` : "The VM ended without reporting the command's exit status";
  const hint = !watch.panicked
    ? "check that the initramfs has microforge's /init and the kernel has virtio-console (feature console)"
    : /Attempted to kill init/.test(watch.panicMessage ?? "")
    ? "the initramfs's /init exited; it must end the VM with `reboot -f` instead (microforge's init template does)"
    : "read the kernel messages above";
  const trace = watch.trace;
  const decodedTrace = o.symbols && trace ? await decodePanic(trace, { ...o.symbols, run: o.run }).catch(() => undefined) : undefined;
  const decoded = decodedTrace ? `\n--- decoded stack trace (${o.symbols!.vmlinux}) ---\n${decodedTrace}\n---` : "";
  const e = new GuestError(`${what}\n--- last console lines ---\n${watch.tail()}\n---${decoded}`, hint);
  return Object.assign(e, { exitCode: 255, timings: watch.timings, phases, consoleTail: watch.tail(), ...(decodedTrace ? { decodedTrace } : {}) });
}

/** Give the guest its command and stdin as QEMU connects, and read its stdout, stderr and status. */
function servePorts(sockets: Record<PortName, Promise<Socket>>, command: readonly string[], options: ExecOptions): { readers: PortReaders; status: () => string } {
  void sockets.cmd.then((s) => s.on("error", () => undefined).end(shellJoin(command) + "\n"));
  // Feeding stdin ends early when the guest is gone (we destroy the stream below); that is not an error.
  void sockets.stdin.then((s) => feedStdin(s, options.stdin)).catch(() => undefined);
  let status = "";
  const readers = new PortReaders();
  readers.read(sockets.stdout, options.stdout ?? streamSink(process.stdout));
  readers.read(sockets.stderr, options.stderr ?? streamSink(process.stderr));
  readers.read(sockets.status, (c) => void (status += new TextDecoder().decode(c)));
  return { readers, status: () => status };
}

/** Boot `vm`, run `command` in it, stream its output, and resolve to its exit status. */
export async function execInVm(vm: MicroVM, command: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  if (!command.length) throw new InputError("No command to run in the VM", "pass one after --, e.g. `microforge run -- uname -a`");
  const timings = options.timings || options.timeline !== undefined;
  const quiet = options.quietKernel ?? !(timings || options.console);
  const argvFor = (ports: Port[]) => vm.with({ ports, serial: "stdio", quiet: vm.spec.quiet || quiet }).toArgv();
  // The VM a warm start booted while we were getting here, when it is this very VM; else a fresh one.
  const early = await options.warm?.take(argvFor);
  const launched = early ?? (await launchVm(argvFor));
  const { sockets, argv, qemu, start } = launched;
  const remembered = options.warm?.remember(launched);
  try {
    const watch = watchConsole(options.banner ?? "microforge: /init started", start, { quietKernel: quiet });
    const printk = printkCollector(timings ? undefined : 0);
    let qemuErr = "";
    qemu.child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      watch.feed(d);
      printk.feed(d);
      options.console?.(d);
    });
    qemu.child.stderr!.setEncoding("utf8").on("data", (d: string) => (qemuErr = outputTail(qemuErr + d, 40)));
    const { readers, status } = servePorts(sockets, command, options);
    const timeoutMs = options.timeoutMs ?? 120_000;
    let timedOut = false;
    // Counted from QEMU's start, which a warm start brought forward.
    const timer = setTimeout(() => {
      timedOut = true;
      qemu.kill();
    }, Math.max(0, start + timeoutMs - Date.now()));
    options.signal?.addEventListener("abort", () => qemu.kill(), { once: true });
    const ended = await qemu.exited.finally(() => clearTimeout(timer));
    watch.timings.exitMs = Date.now() - start;
    // The guest is gone: stop reading our stdin (a pipe that never ends must not keep us alive).
    const stdinStream = options.stdin as { destroy?: () => void } | null | undefined;
    if (stdinStream && typeof stdinStream.destroy === "function") stdinStream.destroy();
    // QEMU has closed its ends; read what is still in flight, however slow our reader, within the timeout.
    await readers.drained(2000, timedOut || options.signal?.aborted ? 0 : start + timeoutMs - Date.now());
    const phases = bootPhases(watch.timings, printk.lines);
    if (options.timeline !== undefined) {
      await writeTimeline(options.timeline, phases, { title: `microforge run -- ${shellJoin(command)}`, totalMs: watch.timings.exitMs });
    }
    const result = (exitCode: number): ExecResult => ({ exitCode, timings: watch.timings, phases, console: watch.tail(), warmStart: Boolean(early) });
    if (timedOut) throw new BootTimeoutError(timeoutMs / 1000, watch.tail());
    if (options.signal?.aborted) return result(130);
    if (ended.code !== 0 && !watch.sawOutput) {
      throw new CommandError(argv, ended.code, ended.signal, qemuErr, "QEMU could not start this VM; check the paths and options above");
    }
    const parsed = /^(\d+)\s*$/.exec(status());
    if (parsed) return result(Number(parsed[1]));
    throw await guestFailure(watch, phases, { symbols: vm.spec.symbols, run: options.decodeRunner });
  } finally {
    await closeLaunched(launched);
    await remembered;
  }
}
