import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { freePort, withFreeHostPorts, withHostPort } from "../../lib/vm/host-ports.ts";
import { MicroVM } from "../../lib/vm/microvm.ts";

test("a forward keeps its guest port and address and takes the new host port", () => {
  assert.equal(withHostPort("8080:80", 40001), "tcp::40001-:80");
  assert.equal(withHostPort("udp:127.0.0.1:53-10.0.2.15:5353", 40002), "udp:127.0.0.1:40002-10.0.2.15:5353");
});

test("free ports are bindable and never handed out twice by one process", async () => {
  const ports = await Promise.all(Array.from({ length: 8 }, freePort));
  assert.equal(new Set(ports).size, 8);
  const server = createServer();
  await new Promise<void>((r) => server.listen(ports[0], "127.0.0.1", r));
  server.close();
});

test("each VM of a matrix gets host ports of its own; a VM without forwards is unchanged", async () => {
  const vm = new MicroVM({ qemu: "qemu-system-x86_64", bios: "/qboot.rom", kernel: "/k", net: { hostfwd: ["8080:80", "tcp::2222-:22"] } });
  const a = await withFreeHostPorts(vm);
  const b = await withFreeHostPorts(vm);
  assert.equal(a.hostfwd.length, 2);
  assert.match(a.hostfwd[0], /^tcp::\d+-:80$/);
  assert.match(a.hostfwd[1], /^tcp::\d+-:22$/);
  assert.notDeepEqual(a.hostfwd, b.hostfwd);
  assert.ok(a.vm.toArgv().join(" ").includes(`hostfwd=${a.hostfwd[0]}`));
  const plain = new MicroVM({ qemu: "qemu-system-x86_64", bios: "/qboot.rom", kernel: "/k" });
  assert.equal((await withFreeHostPorts(plain)).vm, plain);
});
