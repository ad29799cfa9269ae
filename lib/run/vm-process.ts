/**
 * Starting QEMU for a scripted run: the unix sockets its virtio-serial ports
 * connect to listen first (so nothing the guest writes is lost), in a temp
 * directory of the run's own, then QEMU starts from an argv that names them.
 * This is small on purpose: a warm `run` loads it before the rest of
 * microforge, to start the VM while the rest loads (see warm-start.ts).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Port } from "../vm/microvm.ts";
import { type Spawned, spawnTracked } from "../util/process.ts";

/** The ports of a scripted run, by the name the guest's /init knows them by (`microforge.<name>`). */
export const PORTS = ["cmd", "stdin", "stdout", "stderr", "status"] as const;
export type PortName = (typeof PORTS)[number];

/** A started VM: its ports (the guest connects as it boots), the QEMU process and when it started. */
export interface LaunchedVm {
  dir: string;
  servers: Server[];
  sockets: Record<PortName, Promise<Socket>>;
  ports: Port[];
  argv: string[];
  qemu: Spawned;
  /** `Date.now()` when QEMU was spawned: boot timings and the run's timeout count from here. */
  start: number;
  /** What QEMU wrote to stderr until now; the caller reads the pipe itself from here on. */
  takeStderr: () => string;
}

function listen(path: string): Promise<{ server: Server; socket: Promise<Socket> }> {
  return new Promise((res, rej) => {
    let resolveSocket!: (s: Socket) => void;
    const socket = new Promise<Socket>((r) => (resolveSocket = r));
    const server = createServer((s) => resolveSocket(s));
    server.once("error", rej);
    server.listen(path, () => res({ server, socket }));
  });
}

/** The unix sockets QEMU's ports connect to, listening in `dir`. */
async function openPorts(dir: string): Promise<Pick<LaunchedVm, "servers" | "sockets" | "ports">> {
  const servers: Server[] = [];
  const sockets = {} as Record<PortName, Promise<Socket>>;
  const ports: Port[] = [];
  for (const name of PORTS) {
    const path = join(dir, name);
    const { server, socket } = await listen(path);
    servers.push(server);
    sockets[name] = socket;
    ports.push({ name: `microforge.${name}`, socket: path });
  }
  return { servers, sockets, ports };
}

/**
 * Open the ports in a fresh temp directory and start QEMU with
 * `argvFor(ports)`; its console (stdout) and stderr are pipes nobody reads
 * yet, so what it prints waits there for whoever takes the VM.
 */
export async function launchVm(argvFor: (ports: Port[]) => string[]): Promise<LaunchedVm> {
  const dir = await mkdtemp(join(tmpdir(), "mf-"));
  try {
    const open = await openPorts(dir);
    const argv = argvFor(open.ports);
    const start = Date.now();
    const qemu = spawnTracked(argv, { stdio: ["ignore", "pipe", "pipe"] });
    // Node discards what a child left in a pipe nobody listens on once it exits: keep QEMU's last words (why it failed) for whoever takes the VM.
    let err = "";
    const keep = (d: Uint8Array) => void (err = (err + new TextDecoder().decode(d)).slice(-8000));
    qemu.child.stderr!.on("data", keep);
    const takeStderr = () => (qemu.child.stderr!.removeListener("data", keep), err);
    return { dir, ...open, argv, qemu, start, takeStderr };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Stop listening and remove the run's temp directory (QEMU has exited, or was killed). */
export async function closeLaunched(vm: LaunchedVm): Promise<void> {
  for (const s of vm.servers) s.close();
  await rm(vm.dir, { recursive: true, force: true });
}
