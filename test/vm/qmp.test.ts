import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { Qmp } from "../../lib/vm/qmp.ts";
import { tempDir } from "../helpers.ts";

/** A fake QEMU monitor: greets, answers capabilities, then what `answer` says (undefined: stay silent). */
async function fakeQmp(answer: (msg: { execute: string; arguments?: Record<string, unknown> }) => object | undefined, path?: string): Promise<{ path: string; server: Server; seen: unknown[]; clients: Socket[] }> {
  path ??= join(await tempDir("qmp-"), "qmp");
  const seen: unknown[] = [];
  const clients: Socket[] = [];
  const server = createServer((s) => {
    clients.push(s);
    s.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } }) + "\n");
    let buf = "";
    s.setEncoding("utf8").on("data", (d: string) => {
      const lines = (buf + d).split("\n");
      buf = lines.pop()!;
      for (const line of lines) {
        const msg = JSON.parse(line);
        seen.push(msg);
        if (msg.execute === "qmp_capabilities") s.write(`{"return": {}}\n`);
        else {
          const a = answer(msg);
          // An event first: the client must not take it for the answer.
          if (a) s.write(`{"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 2}}\n${JSON.stringify(a)}\n`);
        }
      }
    }).on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, server, seen, clients };
}

test("qmp leaves capabilities mode and returns each command's answer, in order, past events", async () => {
  const f = await fakeQmp((m) => ({ return: m.execute === "query-status" ? { status: "running" } : { echo: m.arguments } }));
  const qmp = await Qmp.connect(f.path);
  try {
    const [a, b] = await Promise.all([qmp.execute("query-status"), qmp.execute("migrate", { uri: "exec:cat > x" })]);
    assert.deepEqual(a, { status: "running" });
    assert.deepEqual(b, { echo: { uri: "exec:cat > x" } });
    assert.deepEqual(f.seen, [{ execute: "qmp_capabilities" }, { execute: "query-status" }, { execute: "migrate", arguments: { uri: "exec:cat > x" } }]);
  } finally {
    qmp.close();
    f.server.close();
  }
});

test("qmp turns an error answer into a QmpError naming the command and QEMU's reason", async () => {
  const f = await fakeQmp(() => ({ error: { class: "GenericError", desc: "Migration is disabled when VirtFS export path '/x' is mounted" } }));
  const qmp = await Qmp.connect(f.path);
  try {
    await assert.rejects(qmp.execute("migrate", { uri: "exec:cat > x" }), { name: "QmpError", message: /^QMP command migrate failed: Migration is disabled when VirtFS/ });
  } finally {
    qmp.close();
    f.server.close();
  }
});

test("qmp waits for QEMU to create its socket", async () => {
  const path = join(await tempDir("qmp-"), "qmp");
  const connecting = Qmp.connect(path, { timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 100));
  const f = await fakeQmp(() => ({ return: {} }), path);
  const qmp = await connecting;
  qmp.close();
  f.server.close();
});

test("qmp gives up connecting after its timeout", async () => {
  const path = join(await tempDir("qmp-"), "none");
  await assert.rejects(Qmp.connect(path, { timeoutMs: 100 }), { name: "QmpError", message: /Cannot connect to QEMU's QMP socket .*none within 0.1 s/ });
});

test("qmp fails a command QEMU never answers, after the timeout", async () => {
  const f = await fakeQmp(() => undefined);
  const qmp = await Qmp.connect(f.path, { timeoutMs: 2000 });
  try {
    await assert.rejects(qmp.execute("query-migrate", undefined, { timeoutMs: 100 }), { name: "QmpError", message: /did not answer the QMP command query-migrate within 0.1 s/ });
    await assert.rejects(qmp.execute("query-status"), { name: "QmpError" });
  } finally {
    qmp.close();
    f.server.close();
  }
});

test("qmp fails waiting commands when QEMU goes away", async () => {
  const f = await fakeQmp(() => undefined);
  const qmp = await Qmp.connect(f.path);
  try {
    const pending = qmp.execute("query-status");
    for (const c of f.clients) c.destroy();
    await assert.rejects(pending, { name: "QmpError", message: /QEMU closed its QMP socket/ });
  } finally {
    qmp.close();
    f.server.close();
  }
});
