import { test } from "node:test";
import assert from "node:assert/strict";
import { busyboxApplets } from "../../lib/initramfs/busybox-applets.ts";
import type { Runner } from "../../lib/util/process.ts";

const runner = (stdout: string, code = 0): Runner => ((argv: readonly string[]) => Promise.resolve({ argv, code, signal: null, stdout, stderr: "" })) as unknown as Runner;

test("applet names come from busybox --list, sorted and unique", async () => {
  const list = ["sh", "[", "[[", "ls", "mount", "sh", "udhcpc", "ip", "cat", "echo", "true", "false", "reboot"].join("\n") + "\n";
  assert.deepEqual(await busyboxApplets("/bb", "sha-a", runner(list)), ["[", "[[", "cat", "echo", "false", "ip", "ls", "mount", "reboot", "sh", "true", "udhcpc"]);
});

test("a busybox that cannot run here, or prints no list, gives undefined", async () => {
  assert.equal(await busyboxApplets("/bb", "sha-b", runner("", 126)), undefined);
  assert.equal(await busyboxApplets("/bb", "sha-c", runner("BusyBox v1.35.0 multi-call binary.\nUsage: busybox [function [arguments]...]\n")), undefined);
  const failing = (() => Promise.reject(new Error("ENOEXEC"))) as unknown as Runner;
  assert.equal(await busyboxApplets("/bb", "sha-d", failing), undefined);
});

test("the host's static busybox lists its applets", { skip: !(await import("node:fs")).existsSync("/bin/busybox") && "no /bin/busybox" }, async () => {
  const applets = await busyboxApplets("/bin/busybox", "host-busybox");
  assert.ok(applets && applets.includes("sh") && applets.includes("mount") && applets.length > 100, String(applets?.length));
});
