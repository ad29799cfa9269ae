/**
 * `menuconfig()` for real, in a terminal (tmux): the Debian 6.1 tree from the
 * test cache, the kernel's own mconf, keys sent as a person would (search,
 * jump to the first result, y, Esc Esc, save), then the fragment it wrote is
 * used as the local layer of a real allnoconfig.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { runProcess } from "../../lib/util/process.ts";
import { findOnPath } from "../../lib/util/find-on-path.ts";
import { sha256File } from "../../lib/util/hash.ts";
import { sourceTree } from "../../lib/kernel/source-tree.ts";
import { configureKernel } from "../../lib/kernel/config.ts";
import { reproducibleEnv } from "../../lib/kernel/build.ts";
import { kernelConfigRequest } from "../../lib/kernel/fragments.ts";
import { parseDotConfig } from "../../lib/kernel/dot-config.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import { debianKernelSource, onDeno, repoRoot, tempDir, testCache } from "../helpers.ts";

const skip = onDeno ? "drives a terminal through tmux; runs under Node"
  : !(await findOnPath("tmux")) ? "tmux is not installed (apt-get install tmux)"
  : !existsSync("/usr/include/ncurses.h") ? "the ncurses headers are not installed (apt-get install libncurses-dev)"
  : false;

test("menuconfig in a terminal: search IKCONFIG, y, save; the fragment holds just that and the next config has it", { skip, timeout: 10 * 60_000 }, async () => {
  const env = { ...process.env, MICROFORGE_CACHE: testCache };
  const { file, version } = await debianKernelSource("6.1");
  const tree = await sourceTree({ path: file, sha256: await sha256File(file), version }, { env, log: memoryLogger() });
  const dir = await tempDir("menuconfig-e2e-");
  const output = join(dir, "templates", "kernel", "local.config");
  const result = join(dir, "result.json");
  const socket = join(dir, "tmux.sock");
  const t = async (...args: string[]) => (await runProcess(["tmux", "-S", socket, "-f", "/dev/null", ...args], { nothrow: true, env })).stdout;
  const screen = () => t("capture-pane", "-p", "-t", "mc");
  const waitFor = async (pattern: RegExp, timeoutMs = 120_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const text = await screen();
      if (pattern.test(text)) return text;
      if (Date.now() > end) assert.fail(`timed out waiting for ${pattern} on the screen:\n${text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const keys = (...k: string[]) => t("send-keys", "-t", "mc", ...k);
  const command = [process.execPath, "--import", "tsx", "test/fixtures/menuconfig-child.ts", tree, version, output, result];
  // tmux does not always report a pane's exit status, so a fixed sh script prints it.
  await runProcess(["tmux", "-S", socket, "-f", "/dev/null", "new-session", "-d", "-s", "mc", "-x", "200", "-y", "50", "-c", repoRoot, "sh", "-c", '"$@"; echo "exited with $?"; sleep 600', "sh", ...command], { env });
  try {
    await waitFor(/Press <Esc><Esc> to exit, <\?> for Help, <\/> for Search/, 300_000); // allnoconfig, then mconf is compiled
    await keys("/");
    await waitFor(/Search Configuration Parameter/);
    await keys("-l", "IKCONFIG");
    await keys("Enter");
    await waitFor(/Search Results[\s\S]*Symbol: IKCONFIG \[=n\][\s\S]*\(1\)\s+-> Kernel \.config support/);
    await keys("1");
    await waitFor(/General setup[\s\S]*\[ \] Kernel \.config support/);
    await keys("y");
    await waitFor(/\[\*\] Kernel \.config support/);
    // Esc Esc climbs one level (the jump, the search results, the main menu), until mconf asks to save.
    for (let i = 0; !/Do you wish to save your new configuration\?/.test(await screen()); i++) {
      assert.ok(i < 6, `no save dialog after ${i} Esc Esc:\n${await screen()}`);
      const before = await screen();
      await keys("Escape", "Escape");
      const end = Date.now() + 10_000;
      while ((await screen()) === before && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    }
    await keys("Enter"); // < Yes > is selected
    const done = await waitFor(/exited with \d+/);
    assert.match(done, /exited with 0/, done);
  } finally {
    await t("kill-server");
  }
  const r = JSON.parse(await readFile(result, "utf8"));
  // IKCONFIG selects nothing, and IKCONFIG_PROC appears unset (NEW), so the change is this one symbol.
  assert.deepEqual(r, { changed: { IKCONFIG: "y" }, wrote: true, output });
  const text = await readFile(output, "utf8");
  assert.match(text, new RegExp(`^# microforge local kernel config layer, written by \`microforge kernel menuconfig\` on linux ${version.replace(/\./g, "\\.")}\\.$`, "m"));
  assert.deepEqual([...parseDotConfig(text)], [["IKCONFIG", "y"]]);

  const request = kernelConfigRequest({ version, local: output });
  assert.equal(request.layers.at(-1)?.name, "local");
  const config = await configureKernel(tree, join(dir, "next"), request, { env: reproducibleEnv(env) });
  assert.match(config.config, /^CONFIG_IKCONFIG=y$/m);
  assert.deepEqual(config.dropped, []);
});
