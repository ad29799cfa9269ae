/**
 * A small client for QEMU's machine protocol (QMP) on a unix socket
 * (`-qmp unix:PATH,server=on,wait=off`): one command at a time, in order,
 * each answered by a `return` or an `error` line; events are skipped.
 * See https://www.qemu.org/docs/master/interop/qmp-spec.html.
 */
import { connect, type Socket } from "node:net";
import { QmpError } from "../util/errors.ts";

/** Options of {@linkcode Qmp.connect}. */
export interface QmpOptions {
  /** Keep trying to connect this long (QEMU creates the socket as it starts); also the default for each command (default 10 s). */
  timeoutMs?: number;
  /** Stop trying to connect (QEMU has exited). */
  signal?: AbortSignal;
}

interface Waiter {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** A QMP connection out of capabilities negotiation, ready for commands. */
export class Qmp {
  #socket: Socket;
  #buf = "";
  #waiting: Waiter[] = [];
  #closed?: QmpError;
  readonly #timeoutMs: number;

  private constructor(socket: Socket, path: string, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => this.#read(d));
    const gone = () => this.#fail(new QmpError(`QEMU closed its QMP socket ${path}`, "QEMU has exited; see its error output"));
    socket.on("close", gone).on("error", gone);
  }

  /** Connect to the QMP socket at `path`, retrying until QEMU made it, and leave capabilities mode. */
  static async connect(path: string, options: QmpOptions = {}): Promise<Qmp> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const end = Date.now() + timeoutMs;
    for (;;) {
      const socket = await new Promise<Socket | undefined>((res) => {
        const s = connect(path).once("connect", () => res(s)).once("error", () => res(undefined));
      });
      if (socket) {
        const qmp = new Qmp(socket, path, timeoutMs);
        try {
          await qmp.execute("qmp_capabilities");
        } catch (err) {
          qmp.close();
          throw err;
        }
        return qmp;
      }
      if (options.signal?.aborted) throw new QmpError(`QEMU exited before its QMP socket ${path} answered`, "see QEMU's error output");
      if (Date.now() > end) throw new QmpError(`Cannot connect to QEMU's QMP socket ${path} within ${timeoutMs / 1000} s`, "check that QEMU started with -qmp unix:PATH,server=on,wait=off");
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Run `command` with `args`; resolves to its `return` value, rejects with a {@linkcode QmpError} on its `error`, a closed socket or a timeout. */
  execute(command: string, args?: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closed);
    const ms = options.timeoutMs ?? this.#timeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const e = new QmpError(`QEMU did not answer the QMP command ${command} within ${ms / 1000} s`, "QEMU may be stuck; it is stopped with the run");
        // The answer may still come: the connection is out of step from here on.
        this.#fail(e);
        this.#socket.destroy();
      }, ms);
      const done = <T>(f: (v: T) => void) => (v: T) => {
        clearTimeout(timer);
        f(v);
      };
      this.#waiting.push({ command, resolve: done(resolve), reject: done(reject) });
      this.#socket.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) }) + "\n");
    });
  }

  /** Close the connection; commands still waiting fail. */
  close(): void {
    this.#fail(new QmpError("The QMP connection was closed"));
    this.#socket.destroy();
  }

  #read(data: string): void {
    const lines = (this.#buf + data).split("\n");
    this.#buf = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.trim()) continue;
      let msg: { return?: unknown; error?: { class?: string; desc?: string } };
      try {
        msg = JSON.parse(line);
      } catch {
        continue; // not QMP: nothing waits for it
      }
      if (!("return" in msg) && !("error" in msg)) continue; // the greeting, or an event
      const w = this.#waiting.shift();
      if (!w) continue;
      if (msg.error) w.reject(new QmpError(`QMP command ${w.command} failed: ${msg.error.desc ?? JSON.stringify(msg.error)}`, msg.error.class ? `QEMU's error class: ${msg.error.class}` : ""));
      else w.resolve(msg.return);
    }
  }

  #fail(err: QmpError): void {
    this.#closed ??= err;
    for (const w of this.#waiting.splice(0)) w.reject(err);
  }
}
