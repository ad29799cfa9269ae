import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { resolveBusybox } from "../../lib/fetch/busybox.ts";
import { inspectBusybox } from "../../lib/sources/busybox-inspect.ts";
import { BusyboxError } from "../../lib/util/errors.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import { tempDir } from "../helpers.ts";

const dynamicBinary = "/bin/ls";
const staticBusybox = "/bin/busybox"; // Debian's busybox-static, installed by .ci/run

test("a dynamic binary is refused, naming the binary and its loader", async () => {
  await assert.rejects(inspectBusybox(dynamicBinary, "path"), (err: unknown) => {
    assert.ok(err instanceof BusyboxError);
    assert.match(err.message, /\/bin\/ls is dynamically linked \(it needs the loader \/lib64\/ld-linux-x86-64\.so\.2\)/);
    assert.match(err.message, /busybox-static/);
    return true;
  });
});

test("a file that is not ELF is refused", async () => {
  const file = join(await tempDir("bb-"), "busybox");
  await writeFile(file, "#!/bin/sh\necho fake\n", { mode: 0o755 });
  await assert.rejects(inspectBusybox(file, "path"), /cannot be used as busybox/);
});

test("a missing path is refused with a hint", async () => {
  await assert.rejects(resolveBusybox("/nonexistent/busybox"), /Cannot read busybox at \/nonexistent\/busybox/);
});

test("the host's static busybox is accepted, with its version and sha256", async () => {
  const bb = await inspectBusybox(staticBusybox, "host");
  assert.match(bb.version ?? "", /^1\.\d+\.\d+$/);
  assert.match(bb.sha256, /^[0-9a-f]{64}$/);
});

test("host busybox is found on PATH; a dynamic one on PATH is refused for 'host'", async () => {
  const dir = await tempDir("bb-");
  await mkdir(join(dir, "good"));
  await mkdir(join(dir, "bad"));
  await symlink(staticBusybox, join(dir, "good", "busybox"));
  await copyFile(dynamicBinary, join(dir, "bad", "busybox"));
  const found = await resolveBusybox("host", { env: { PATH: join(dir, "good") } });
  assert.equal(found.origin, "host");
  await assert.rejects(resolveBusybox("host", { env: { PATH: join(dir, "bad") } }), /dynamically linked/);
  await assert.rejects(resolveBusybox("host", { env: { PATH: join(dir, "none") } }), /No busybox on PATH/);
  // "auto" tries busybox.net (opted into: it has no checksums), Debian's package, then the host; when all fail the error lists each reason.
  const env = { PATH: join(dir, "bad"), MICROFORGE_BUSYBOX_URL: "http://127.0.0.1:9/", MICROFORGE_ALLOW_UNVERIFIED: "1" };
  await assert.rejects(resolveBusybox("auto", { env, log: memoryLogger() }), (err: unknown) => {
    assert.ok(err instanceof BusyboxError);
    assert.match(err.message, /No busybox source worked:\n {2}busybox\.net: .*127\.0\.0\.1:9.*\n {2}debian: Debian packages need apt.*\n {2}host: .*dynamically linked/);
    return true;
  });
  // Without the opt-in, "auto" does not ask busybox.net at all.
  await assert.rejects(resolveBusybox("auto", { env: { ...env, MICROFORGE_ALLOW_UNVERIFIED: "" }, log: memoryLogger() }), (err: unknown) => {
    assert.ok(err instanceof BusyboxError);
    assert.match(err.message, /No busybox source worked:\n {2}debian: .*\n {2}host: /);
    return true;
  });
});
