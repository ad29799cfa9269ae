import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { guestToolContent } from "../../lib/initramfs/guest-tools.ts";
import { BinaryError } from "../../lib/util/errors.ts";
import type { ExtraContent } from "../../lib/initramfs/rootfs.ts";
import { tempDir } from "../helpers.ts";

const log = { step: () => undefined, warn: () => undefined };

async function script(first: string): Promise<string> {
  const path = join(await tempDir("guest-tools-"), "tool");
  await writeFile(path, `${first}\necho hi\n`);
  await chmod(path, 0o755);
  return path;
}

test("with no binaries and no packages, the recipe's own extra content passes through as it is", async () => {
  const extra: ExtraContent[] = [{ dest: "/etc/motd", content: "hi" }];
  assert.deepEqual(await guestToolContent({ extra, log }), extra);
  assert.deepEqual(await guestToolContent({ log }), []);
});

test("a host binary comes with its interpreter and libc; the recipe's own file at the same path wins", async () => {
  const mine: ExtraContent = { dest: "/usr/bin/true", content: "#!/bin/sh\n" };
  const items = await guestToolContent({ binaries: ["/usr/bin/true"], extra: [mine], log });
  const dests = items.map((i) => i.dest.replace(/^\//, ""));
  assert.ok(dests.some((d) => /(^|\/)libc\.so\.6$/.test(d)), dests.join(" "));
  assert.ok(dests.some((d) => /ld-linux-x86-64\.so\.2$/.test(d)), dests.join(" "));
  assert.equal(new Set(dests).size, dests.length, "no path twice");
  assert.deepEqual(items.find((i) => i.dest.replace(/^\//, "") === "usr/bin/true"), mine);
});

test("a script's interpreter must be in the image: busybox's /bin/sh and applets are, other programs are not", async () => {
  const sh = await script("#!/bin/sh");
  assert.ok((await guestToolContent({ binaries: [sh], log })).some((i) => i.dest.endsWith("/tool")));
  const awk = await script("#!/bin/awk -f");
  assert.ok((await guestToolContent({ binaries: [awk], applets: ["awk"], log })).some((i) => i.dest.endsWith("/tool")));
  await assert.rejects(guestToolContent({ binaries: [awk], applets: ["sed"], log }), (e: unknown) => e instanceof BinaryError && /\/bin\/awk/.test(e.message) && e.exitCode === 2);
  const py = await script("#!/usr/bin/no-such-python");
  await assert.rejects(guestToolContent({ binaries: [py], log }), (e: unknown) => e instanceof BinaryError && /no-such-python/.test(e.message));
});
