/**
 * `--host-root`: the host's / as the guest's root, read-only over 9p under a
 * tmpfs overlay. Host tools run in the guest; writes stay in the guest unless
 * they go to a `--share`; exit codes and split streams are those of any run.
 * The default Debian 6.1 kernel (its 9p feature carries overlayfs).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runProcess } from "../../lib/util/process.ts";
import { cli, onDeno, repoRoot, tempDir, testCache } from "../helpers.ts";

const skip = onDeno ? "boots real VMs from the CLI; runs under Node" : false;
const run = (args: string[]) => cli(["run", "--quiet", "--kernel-source", "debian", "--kernel-version", "6.1", "--accel", "tcg", "--host-root", ...args]);

test("host tools run in the guest: python3 and node each print 42", { skip }, async () => {
  const py = await run(["--", "python3", "-c", "print(6*7)"]);
  assert.equal(py.code, 0, py.stderr);
  assert.equal(py.stdout, "42\n");
  const node = await run(["--", "node", "-e", "console.log(6*7)"]);
  assert.equal(node.code, 0, node.stderr);
  assert.equal(node.stdout, "42\n");
});

test("the command runs in our working directory, with split streams and its own exit code", { skip }, async () => {
  const r = await run(["--", "sh", "-c", "pwd; echo to-stderr >&2; exit 3"]);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, `${repoRoot}\n`);
  assert.equal(r.stderr, "to-stderr\n");
});

test("a guest write to /etc stays in the guest; one to a --share reaches the host", { skip }, async () => {
  const name = `microforge-guest-write-${process.pid}`;
  const dir = await tempDir("host-root-share-");
  const r = await run(["--share", dir, "--", "sh", "-c", `echo guest > /etc/${name} && cat /etc/${name} && echo shared > ${dir}/out && mount | grep -c ' on / type overlay'`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "guest\n1\n");
  await assert.rejects(stat(`/etc/${name}`), { code: "ENOENT" });
  assert.equal(await readFile(join(dir, "out"), "utf8"), "shared\n");
});

test("a working directory under /tmp stays visible over the guest's own /tmp; writes there stay in the guest", { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "mf-host-root-"));
  try {
    await writeFile(join(dir, "f.txt"), "from the host\n");
    // The bin, not `--import tsx`: an ESM --import resolves from the working directory, which is not ours.
    const r = await runProcess([process.execPath, join(repoRoot, "bin", "microforge.js"), "run", "--quiet", "--kernel-source", "debian", "--kernel-version", "6.1", "--accel", "tcg", "--host-root", "--", "sh", "-c", "pwd; cat f.txt; echo guest > g.txt && cat g.txt"], { cwd: dir, env: { ...process.env, MICROFORGE_CACHE: testCache }, nothrow: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${dir}\nfrom the host\nguest\n`);
    await assert.rejects(stat(join(dir, "g.txt")), { code: "ENOENT" });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
