/**
 * Running one command in a fresh microVM, like a container: the command goes
 * in over a virtio-serial port, its stdin, stdout and stderr are ports of
 * their own (so kernel messages on the serial console never mix with them),
 * and its exit status comes back on a status port. QEMU connects to unix
 * sockets we listen on before it starts, so nothing the guest writes is lost.
 */
import type { Socket } from "node:net";
import { dirname, join } from "node:path";
import { BootTimeoutError, CommandError, GuestError, InputError, outputTail } from "../util/errors.ts";
import type { KernelSymbols, MicroVM, Port } from "../vm/microvm.ts";
import { shellJoin } from "../util/shell-quote.ts";
import { bootPhases, type Phase } from "./phases.ts";
import { printkCollector, writeTimeline } from "./timeline.ts";
import { type BootTimings, type ConsoleWatch, watchConsole } from "./console.ts";
import { decodePanic } from "./decode-panic.ts";
import type { Runner } from "../util/process.ts";
import { closeLaunched, launchVm, type PortName, PORTS } from "./vm-process.ts";
import { dropSnapshot, haveSnapshot, saveSnapshot, snapshotFor } from "./snapshot.ts";
import { ReplayableInput } from "./replay-input.ts";
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
  /**
   * Run from a snapshot of this VM (see snapshot.ts): restore it when one
   * is saved, else boot, save it once /init waits and go on in it. A run
   * that wants the boot (`timings`, `timeline`, a `console` callback) boots
   * cold; one with shares or disks too, with a warning.
   */
  snapshot?: boolean;
  /** Where snapshot warnings go (default stderr). */
  warn?: (message: string) => void;
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
  /** How a `snapshot` run used its snapshot. */
  snapshot?: SnapshotUse;
}

/** What a `snapshot` run did: restored from `file`, saved it (and ran on in that VM), or ran without one (`why`). */
export interface SnapshotUse {
  how: "restored" | "saved" | "unsaved";
  file?: string;
  /** `migrate` → completed, when saved. */
  saveMs?: number;
  why?: string;
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

/** How one attempt of a snapshot run starts its VM. */
interface Attempt {
  /** Restore from this file. */
  restore?: string;
  /** Boot, save to this file once /init waits, and go on. */
  save?: string;
  /** The guest sent something back (so it ran). */
  onData?: () => void;
}

/**
 * Give the guest its command and stdin as QEMU connects (after `hold`: a VM
 * being saved must not get them before it is), and read its stdout, stderr
 * and status. `clock`: a restored guest's clock stopped when it was saved,
 * so a first line tells /init the host's time (see the init template).
 */
function servePorts(sockets: Record<PortName, Promise<Socket>>, command: readonly string[], options: ExecOptions, o: { hold?: Promise<unknown>; clock?: boolean; onData?: () => void } = {}): { readers: PortReaders; status: () => string } {
  const hold = o.hold ?? Promise.resolve();
  void Promise.all([sockets.cmd, hold]).then(([s]) => s.on("error", () => undefined).end(`${o.clock ? `microforge-clock ${Math.round(Date.now() / 1000)}\n` : ""}${shellJoin(command)}\n`));
  // Feeding stdin ends early when the guest is gone (we destroy the stream below); that is not an error.
  void Promise.all([sockets.stdin, hold]).then(([s]) => feedStdin(s, options.stdin)).catch(() => undefined);
  let status = "";
  const readers = new PortReaders();
  const seen = <T>(sink: (c: Uint8Array) => T) => (c: Uint8Array) => (o.onData?.(), sink(c));
  readers.read(sockets.stdout, seen(options.stdout ?? streamSink(process.stdout)));
  readers.read(sockets.stderr, seen(options.stderr ?? streamSink(process.stderr)));
  readers.read(sockets.status, seen((c) => void (status += new TextDecoder().decode(c))));
  return { readers, status: () => status };
}

/** Why a run cannot use a snapshot, and whether to say so (the --help text says it for runs that want the boot). */
function snapshotBlocker(vm: MicroVM, options: ExecOptions): { why: string; tell: boolean } | undefined {
  if (options.timings || options.timeline !== undefined || options.console) return { why: "the run wants the boot's console or timings", tell: false };
  if (vm.spec.shares?.length) return { why: "QEMU cannot save a VM with a 9p share mounted (--share, --host-root)", tell: true };
  if (vm.spec.disks?.length) return { why: "a saved guest would keep what it read from its disks at boot (--disk)", tell: true };
  return undefined;
}

/** Boot `vm`, run `command` in it, stream its output, and resolve to its exit status. */
export async function execInVm(vm: MicroVM, command: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  if (!command.length) throw new InputError("No command to run in the VM", "pass one after --, e.g. `microforge run -- uname -a`");
  if (!options.snapshot) return await runOnce(vm, command, options);
  const warn = options.warn ?? ((m: string) => void process.stderr.write(`microforge: warning: ${m}\n`));
  const blocked = snapshotBlocker(vm, options);
  if (blocked) {
    if (blocked.tell) warn(`--snapshot ignored: ${blocked.why}; booting cold`);
    return { ...(await runOnce(vm, command, options)), snapshot: { how: "unsaved", why: blocked.why } };
  }
  const quiet = options.quietKernel ?? true;
  const dir = "/nonexistent/microforge-run";
  const ports = PORTS.map((name) => ({ name: `microforge.${name}`, socket: `${dir}/${name}` }));
  const file = await snapshotFor(vm.with({ ports, serial: "stdio", quiet: vm.spec.quiet || quiet }).toArgv(), { socketDir: dir });
  const given = options.stdin;
  const stdin = given && typeof given === "object" && Symbol.asyncIterator in given ? new ReplayableInput(given) : given;
  const settle = () => stdin instanceof ReplayableInput && stdin.settle();
  try {
    if (await haveSnapshot(file)) {
      let ran = false;
      try {
        return await runOnce(vm, command, { ...options, stdin }, { restore: file, onData: () => ((ran = true), settle()) });
      } catch (err) {
        // A state QEMU cannot load (damaged, or from another QEMU) fails at once, before the guest ran: boot cold instead.
        if (!(err instanceof CommandError) || ran || (stdin instanceof ReplayableInput && !stdin.replayable)) throw err;
        await dropSnapshot(file);
        warn(`cannot restore the snapshot ${file} (${/load of migration failed[^\n]*|[^\n]*$/.exec(err.tail.trim())?.[0] ?? "QEMU failed"}); removed it, booting cold`);
        settle();
        return await runOnce(vm, command, { ...options, stdin, warm: undefined }, { save: file, warn });
      }
    }
    settle();
    // The warm start's plan keeps the restoring argv: a saving run neither takes nor remembers one.
    return await runOnce(vm, command, { ...options, stdin, warm: undefined }, { save: file, warn });
  } finally {
    const stream = given as { destroy?: () => void } | null | undefined;
    if (stream !== stdin && stream && typeof stream.destroy === "function") stream.destroy();
  }
}

/** One VM for the run: booted, restored (`attempt.restore`) or booted and saved (`attempt.save`). */
async function runOnce(vm: MicroVM, command: readonly string[], options: ExecOptions, attempt: Attempt & { warn?: (m: string) => void } = {}): Promise<ExecResult> {
  const timings = options.timings || options.timeline !== undefined;
  const quiet = options.quietKernel ?? !(timings || options.console);
  const socketDir = (ports: Port[]) => dirname(ports[0].socket);
  const argvFor = (ports: Port[]) =>
    vm.with({
      ports,
      serial: "stdio",
      quiet: vm.spec.quiet || quiet,
      ...(attempt.restore ? { incoming: attempt.restore } : {}),
      ...(attempt.save ? { qmp: join(socketDir(ports), "qmp") } : {}),
    }).toArgv();
  // The VM a warm start booted while we were getting here, when it is this very VM; else a fresh one.
  const early = await options.warm?.take(argvFor);
  const launched = early ?? (await launchVm(argvFor));
  const { sockets, argv, qemu, start } = launched;
  const remembered = options.warm?.remember(launched);
  try {
    const watch = watchConsole(options.banner ?? "microforge: /init started", start, { quietKernel: quiet });
    const printk = printkCollector(timings ? undefined : 0);
    let qemuErr = launched.takeStderr();
    qemu.child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      watch.feed(d);
      printk.feed(d);
      options.console?.(d);
    });
    qemu.child.stderr!.setEncoding("utf8").on("data", (d: string) => (qemuErr = outputTail(qemuErr + d, 40)));
    let snapshot: SnapshotUse | undefined = attempt.restore ? { how: "restored", file: attempt.restore } : undefined;
    // Saving must not hold the run up on failure: the guest then gets its command unsaved.
    const exited = new AbortController();
    void qemu.exited.finally(() => exited.abort()).catch(() => undefined);
    const saved = attempt.save === undefined ? undefined : saveSnapshot(join(launched.dir, "qmp"), attempt.save, { chardev: `port${PORTS.indexOf("cmd")}`, signal: exited.signal }).then(
      (s) => void (snapshot = { how: "saved", file: s.file, saveMs: s.saveMs }),
      (err: Error) => {
        snapshot = { how: "unsaved", why: err.message };
        // A VM that is gone says why on its own below.
        if (qemu.child.exitCode === null && !qemu.child.killed) attempt.warn?.(`--snapshot: cannot save the VM (${(err as { summary?: string }).summary ?? err.message}); running without a snapshot`);
      },
    );
    const { readers, status } = servePorts(sockets, command, options, { hold: saved, clock: Boolean(attempt.restore), onData: attempt.onData });
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
    const result = (exitCode: number): ExecResult => ({ exitCode, timings: watch.timings, phases, console: watch.tail(), warmStart: Boolean(early), ...(snapshot ? { snapshot } : {}) });
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
