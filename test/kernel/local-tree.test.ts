import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { localTree, makefileVersion } from "../../lib/kernel/local-tree.ts";
import { KernelTreeError } from "../../lib/util/errors.ts";
import { runProcess } from "../../lib/util/process.ts";
import { tempDir } from "../helpers.ts";

const MAKEFILE = "# SPDX\nVERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\nEXTRAVERSION =\nNAME = Curry Ramen\n";

async function fakeTree(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "Makefile"), MAKEFILE);
  await writeFile(join(dir, "Kconfig"), "mainmenu \"Linux\"\n");
  return dir;
}

test("makefileVersion reads VERSION, PATCHLEVEL, SUBLEVEL and EXTRAVERSION", () => {
  assert.deepEqual(makefileVersion(MAKEFILE), { version: "6.1.192", extraversion: "" });
  assert.deepEqual(makefileVersion(MAKEFILE.replace("EXTRAVERSION =", "EXTRAVERSION = -rc3")), { version: "6.1.192", extraversion: "-rc3" });
  assert.equal(makefileVersion("all:\n\ttrue\n"), undefined);
});

test("localTree refuses a missing directory and a directory that is not a kernel tree", async () => {
  const dir = await tempDir();
  await assert.rejects(localTree(join(dir, "nope")), (e: Error) => e instanceof KernelTreeError && /does not exist/.test(e.message));
  await assert.rejects(localTree(dir), (e: Error) => e instanceof KernelTreeError && /not a kernel source tree/.test(e.message));
});

test("localTree refuses a tree configured in place, with the make mrproper hint", async () => {
  const tree = await fakeTree(join(await tempDir(), "linux"));
  await writeFile(join(tree, ".config"), "CONFIG_64BIT=y\n");
  await assert.rejects(localTree(tree), (e: KernelTreeError) => e instanceof KernelTreeError && /configured in place/.test(e.message) && /make -C .* mrproper/.test(e.hint ?? ""));
});

test("localTree records the git commit, and dirty with a hash of the diff after an edit", async (t) => {
  const tree = await fakeTree(join(await tempDir(), "linux"));
  const git = (...a: string[]) => runProcess(["git", "-C", tree, "-c", "user.name=t", "-c", "user.email=t@example.invalid", ...a]);
  if (!(await runProcess(["git", "--version"], { nothrow: true }).catch(() => undefined))) return t.skip("git is not installed");
  assert.equal((await localTree(tree)).git, undefined);
  await git("init", "-q");
  await git("add", "-A");
  await git("commit", "-q", "-m", "import");
  const head = (await git("rev-parse", "HEAD")).stdout.trim();
  const clean = await localTree(tree);
  assert.deepEqual(clean.git, { commit: head, dirty: false });
  await writeFile(join(tree, "Makefile"), MAKEFILE.replace("EXTRAVERSION =", "EXTRAVERSION = -mf"));
  const dirty = await localTree(tree);
  assert.equal(dirty.git?.commit, head);
  assert.equal(dirty.git?.dirty, true);
  assert.match(dirty.git?.diffSha256 ?? "", /^[0-9a-f]{64}$/);
  assert.equal(dirty.extraversion, "-mf");
});
