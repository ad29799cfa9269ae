/**
 * `microforge kernel menuconfig` for real, in a terminal (tmux): Debian's 6.1
 * source, the kernel's own mconf, keys sent as a person would (search, jump
 * to the first result, y, Esc Esc, save), then the fragment it wrote in the
 * recipe's templates/kernel/local.config is picked up by the next
 * `kernel config` there, verified against the real tree.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { runProcess } from "../../lib/util/process.ts";
import { terminal } from "../tmux.ts";
import { findOnPath } from "../../lib/util/find-on-path.ts";
import { sha256File } from "../../lib/util/hash.ts";
import { sourceTree } from "../../lib/kernel/source-tree.ts";
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
  const socket = join(dir, "tmux.sock");
  const command = [process.execPath, "--import", import.meta.resolve("tsx"), join(repoRoot, "lib", "cli.ts"), "kernel", "menuconfig", "--kernel-source", "debian", "--version", version];
  const term = await terminal({ socket, cwd: dir, env, command, waitMs: 120_000 });
  const { screen, waitFor, keys } = term;
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
    // IKCONFIG selects nothing, and IKCONFIG_PROC appears unset (NEW), so the change is this one symbol.
    assert.match(done.replace(/\n/g, ""), /wrote 1 symbol to .*local\.config: CONFIG_IKCONFIG=y/, done);
  } finally {
    await term.close();
  }
  const text = await readFile(output, "utf8");
  assert.match(text, new RegExp(`^# microforge local kernel config layer, written by \`microforge kernel menuconfig\` on linux ${version.replace(/\./g, "\\.")}\\.$`, "m"));
  assert.deepEqual([...parseDotConfig(text)], [["IKCONFIG", "y"]]);

  // The next build in the recipe's directory has it: `kernel config` there layers it and verifies it against the tree.
  const next = await runProcess([process.execPath, "--import", import.meta.resolve("tsx"), join(repoRoot, "lib", "cli.ts"), "kernel", "config", "--tree", tree, "--print", "--json"], { env, cwd: dir, nothrow: true });
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stdout, /^# microforge kernel config for .*→ local\n/m);
  assert.match(next.stdout, /^CONFIG_IKCONFIG=y$/m);
  assert.deepEqual(JSON.parse(next.stdout.slice(next.stdout.indexOf("\n{") + 1)).dropped, []);
});
