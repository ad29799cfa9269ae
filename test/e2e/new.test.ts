/**
 * `microforge new`: a generated project installs offline and its recipe
 * boots the cached Debian 6.1 kernel under TCG; and an interactive session
 * in a real terminal (tmux) whose answers end up in the files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { runCommand } from "../../lib/exec.ts";
import { findOnPath } from "../../lib/find-on-path.ts";
import { cli, onDeno, repoRoot, tempDir, testCache } from "../helpers.ts";

const skip = onDeno ? "scaffolds and boots from the CLI; runs under Node" : false;

/** The recipe's environment: the test cache, Debian's 6.1 kernel source and the host's busybox, so nothing is downloaded. */
const recipeEnv = {
  MICROFORGE_CACHE: testCache,
  MICROFORGE_KERNEL_SOURCE: "debian",
  MICROFORGE_KERNEL_VERSION: "6.1",
  MICROFORGE_BUSYBOX_SOURCE: "host",
  MICROFORGE_ACCEL: "tcg",
};

test("new --yes: the project installs offline and its recipe boots and exits with the command's status", { skip, timeout: 30 * 60_000 }, async () => {
  // A fixed directory: the kernel build is keyed by the recipe's fragment file
  // path too, so a fresh temp dir would build a new kernel on every run.
  const dir = join(testCache, "e2e-new", "demo");
  await rm(dir, { recursive: true, force: true });
  const made = await cli(["new", dir, "--yes", "--name", "demo", "--mode", "command", "--command", "uname -r"]);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /Created demo in .*e2e-new\/demo/);

  const env = { ...process.env, ...recipeEnv };
  const install = await runCommand(["npm", "install", "--offline", "--no-audit", "--no-fund"], { cwd: dir, env, nothrow: true });
  assert.equal(install.code, 0, install.stderr);

  const tsx = join(dir, "node_modules", ".bin", "tsx");
  const run = await runCommand([tsx, "recipe.ts", "--yes"], { cwd: dir, env, nothrow: true, timeoutMs: 25 * 60_000 });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^6\.1\.\d+$/m, "the guest's uname -r");
  assert.match(run.stderr, /qemu-system-x86_64/, "the QEMU command is printed");
  assert.ok(JSON.parse(await readFile(join(dir, "microforge.lock.json"), "utf8")), "the versions are pinned beside the recipe");

  const failing = await runCommand([tsx, "recipe.ts", "--yes", "--", "sh", "-c", "echo to-stderr >&2; exit 3"], { cwd: dir, env, nothrow: true, timeoutMs: 120_000 });
  assert.equal(failing.code, 3, failing.stderr);
  assert.match(failing.stderr, /^to-stderr$/m);
});

/** A tmux server of our own (socket in our temp dir), so the test never touches the user's sessions. */
function tmux(socket: string) {
  return async (...args: string[]) => (await runCommand(["tmux", "-S", socket, "-f", "/dev/null", ...args], { nothrow: true })).stdout;
}

test("new in a terminal: Inquirer prompts, answered with keys, end up in the files", {
  skip: skip || (!(await findOnPath("tmux")) && "tmux is not installed (apt-get install tmux)"),
  timeout: 120_000,
}, async () => {
  const tmp = await tempDir("new-tty-");
  const dir = join(tmp, "tty-demo");
  const socket = join(tmp, "tmux.sock");
  const t = tmux(socket);
  const screen = () => t("capture-pane", "-p", "-t", "new");
  const waitFor = async (pattern: RegExp, timeoutMs = 30_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const text = await screen();
      if (pattern.test(text)) return text;
      if (Date.now() > end) assert.fail(`timed out waiting for ${pattern} on the screen:\n${text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const keys = (...k: string[]) => t("send-keys", "-t", "new", ...k);
  const type = (text: string) => t("send-keys", "-t", "new", "-l", text);
  // The server (and so the session) takes its environment from this first client.
  const env = { ...process.env, MICROFORGE_CACHE: testCache, MICROFORGE_KERNEL_SOURCE: "debian", CI: "" };
  // tmux does not always report a pane's exit status (#{pane_dead_status} is empty for
  // node here), so a fixed sh script prints it; the command itself is passed as "$@".
  const command = [process.execPath, "--import", "tsx", "lib/cli.ts", "new", dir];
  await runCommand(
    ["tmux", "-S", socket, "-f", "/dev/null", "new-session", "-d", "-s", "new", "-x", "200", "-y", "50", "-c", repoRoot, "sh", "-c", '"$@"; echo "exited with $?"; sleep 60', "sh", ...command],
    { env },
  );
  try {
    await waitFor(/Package name \(tty-demo\)/);
    await type("tty-vm");
    await keys("Enter");
    await waitFor(/Kernel \(channel or version\)[\s\S]*longterm/); // a list from Debian's packages (kernel.org is offline here)
    await keys("Enter");
    await waitFor(/Busybox version \(latest\)/);
    await keys("Enter");
    await waitFor(/Guest memory \(512M\)/);
    await type("2G");
    await keys("Enter");
    await waitFor(/exactly 2 GiB is refused/);
    await keys("BSpace", "BSpace");
    await type("1G");
    await keys("Enter");
    await waitFor(/Virtual CPUs \(1\)/);
    await type("2");
    await keys("Enter");
    await waitFor(/Devices[\s\S]*disk/);
    await keys("Space", "Down", "Down", "Space", "Enter"); // net and disk
    await waitFor(/What the recipe does[\s\S]*command: run a command/);
    await keys("Down", "Enter");
    await waitFor(/Command to run in the VM \(uname -a\)/);
    await keys("Enter");
    const done = await waitFor(/exited with \d+/);
    assert.match(done, /Created tty-vm in .*\n[\s\S]*npm install && npm start/);
    assert.match(done, /exited with 0$/m);
  } finally {
    await t("kill-server");
  }
  const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
  assert.equal(pkg.name, "tty-vm");
  const recipe = await readFile(join(dir, "recipe.ts"), "utf8");
  for (const dflt of ['default: "longterm"', 'default: "latest"', 'default: "1G"', "default: 2 }", 'default: ["net","disk"]', 'default: "uname -a"']) {
    assert.ok(recipe.includes(dflt), `recipe.ts has ${dflt}`);
  }
  assert.match(recipe, /\["sh", "-c", opts\.command\]/);
});
