/**
 * Forwarded host ports of their own for VMs that run side by side (a test
 * matrix): each `hostfwd` rule keeps its guest port and gets a free host
 * port, so two cells never try to bind the same one.
 */
import { createServer } from "node:net";
import { parseHostfwd } from "./values.ts";
import type { MicroVM } from "./microvm.ts";

/** Ports handed out by this process, so two cells asking at once never get the same one. */
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that nothing listens on now, and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 20; tries++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const addr = server.address();
        server.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
      });
    });
    if (port && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no free TCP port found on 127.0.0.1 after 20 tries");
}

/** `rule` (any form `--hostfwd` takes) with its host port replaced by `port`. */
export function withHostPort(rule: string, port: number): string {
  return parseHostfwd(rule).replace(/^(tcp|udp):([\d.]*):\d+-/, `$1:$2:${port}-`);
}

/** `vm` with every forwarded host port replaced by a free one; the rules it ended up with. */
export async function withFreeHostPorts(vm: MicroVM): Promise<{ vm: MicroVM; hostfwd: string[] }> {
  const net = vm.spec.net;
  if (typeof net !== "object" || !net.hostfwd?.length) return { vm, hostfwd: [] };
  const hostfwd: string[] = [];
  for (const rule of net.hostfwd) hostfwd.push(withHostPort(rule, await freePort()));
  return { vm: vm.with({ net: { ...net, hostfwd } }), hostfwd };
}
