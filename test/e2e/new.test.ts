/**
 * `microforge new`: a generated project installs offline from what `npm ci`
 * of microforge put in npm's cache, asking the registry nothing, and its
 * recipe boots the cached Debian 6.1 kernel under TCG: in shell mode (the
 * default) with stdin piped or closed, and in command mode; and an
 * interactive session in a real terminal (tmux) whose answers end up in the
 * files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { copyFile, mkdir, readdir, readFile, realpath, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { runProcess } from "../../lib/util/process.ts";
import { findOnPath } from "../../lib/util/find-on-path.ts";
import { terminal } from "../tmux.ts";
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

/** An HTTP proxy that records and refuses every request, so npm pointed at it cannot reach a registry unseen. */
async function refusingProxy(): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(502).end();
  });
  server.on("connect", (req, socket) => {
    requests.push(`CONNECT ${req.url}`);
    socket.destroy();
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise((done) => server.close(() => done())) };
}

/** A fresh npm cache holding only what `npm ci` of microforge's package.json and package-lock.json puts there (from the registry, as on a user's machine). */
async function microforgeNpmCache(): Promise<string> {
  const tmp = await tempDir("new-npm-");
  const copy = join(tmp, "microforge");
  await mkdir(copy);
  for (const file of ["package.json", "package-lock.json"]) await copyFile(join(repoRoot, file), join(copy, file));
  const cache = join(tmp, "npm-cache");
  const ci = await runProcess(["npm", "ci", "--no-audit", "--no-fund"], { cwd: copy, env: { ...process.env, npm_config_cache: cache }, nothrow: true, timeoutMs: 10 * 60_000 });
  assert.equal(ci.code, 0, `npm ci of microforge (this fills the npm cache from the registry): ${ci.stderr}`);
  await rm(copy, { recursive: true });
  return cache;
}

/** The kernel version the recipe's build resolved to, as pinned in its microforge.lock.json. */
async function pinnedKernel(dir: string): Promise<string> {
  const lock = JSON.parse(await readFile(join(dir, "microforge.lock.json"), "utf8")) as { artifacts: Record<string, { version: string }> };
  const kernel = Object.entries(lock.artifacts).find(([key]) => key.startsWith("kernel"));
  assert.ok(kernel, `microforge.lock.json pins a kernel: ${JSON.stringify(lock)}`);
  return kernel[1].version;
}

const lines = (text: string) => text.split("\n").map((l) => l.trim());

test("new --yes: the project installs offline from microforge's npm cache, its shell reads piped stdin, command mode exits with the command's status", { skip, timeout: 30 * 60_000 }, async (t) => {
  const npmCache = await microforgeNpmCache();
  t.after(() => rm(dirname(npmCache), { recursive: true, force: true })); // about 80 MB
  // A fixed directory: the kernel build is keyed by the recipe's fragment file
  // path too, so a fresh temp dir would build a new kernel on every run.
  const dir = join(testCache, "e2e-new", "demo");
  await rm(dir, { recursive: true, force: true });
  const made = await cli(["new", dir, "--yes", "--name", "demo"]);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /Created demo in .*e2e-new\/demo: a shell/);

  await t.test("npm install --offline, and npm install as the README says, ask the registry nothing", async () => {
    const before = await readdir(join(repoRoot, "node_modules"));
    const proxy = await refusingProxy();
    const npmEnv = {
      ...process.env,
      npm_config_cache: npmCache,
      npm_config_proxy: proxy.url,
      npm_config_https_proxy: proxy.url,
      npm_config_noproxy: "",
      NO_PROXY: "",
      no_proxy: "",
      npm_config_fetch_retries: "0",
    };
    try {
      for (const argv of [["npm", "install", "--offline"], ["npm", "install", "--no-audit"]]) {
        await rm(join(dir, "node_modules"), { recursive: true, force: true });
        const started = performance.now();
        const install = await runProcess(argv, { cwd: dir, env: npmEnv, nothrow: true, timeoutMs: 5 * 60_000 });
        t.diagnostic(`${argv.join(" ")}: ${Math.round(performance.now() - started)} ms`);
        assert.equal(install.code, 0, `${argv.join(" ")}: ${install.stderr}`);
        assert.doesNotMatch(install.stderr, /allowScripts/, "no warning about install scripts");
      }
    } finally {
      await proxy.close();
    }
    assert.deepEqual(proxy.requests, [], "no request left npm");
    assert.equal(await realpath(join(dir, "node_modules", "microforge")), await realpath(repoRoot), "microforge is linked, not copied");
    assert.ok((await stat(join(dir, "node_modules", ".bin", "tsx"))).isFile());
    assert.deepEqual(await readdir(join(repoRoot, "node_modules")), before, "microforge's own node_modules are left alone");
  });

  const env = { ...process.env, ...recipeEnv };
  const tsx = join(dir, "node_modules", ".bin", "tsx");
  const recipe = (args: string[], input?: string) => runProcess([tsx, "recipe.ts", "--yes", ...args], { cwd: dir, env, nothrow: true, input, timeoutMs: 25 * 60_000 });

  await t.test("shell mode, stdin piped: the guest's shell runs it, and its status is the recipe's", async () => {
    const run = await recipe([], "uname -r\n");
    assert.equal(run.code, 0, run.stderr);
    assert.ok(lines(run.stdout).includes(await pinnedKernel(dir)), `the guest's uname -r is the kernel that was built:\n${run.stdout}`);
    assert.match(run.stderr, /qemu-system-x86_64/, "the QEMU command is printed");
    const failing = await recipe([], "echo to-stderr >&2\nexit 7\n");
    assert.equal(failing.code, 7, failing.stderr);
    assert.ok(lines(failing.stderr).includes("to-stderr"), failing.stderr);
  });

  await t.test("shell mode, stdin closed: it boots, the shell reads EOF and the recipe exits 0", async () => {
    const run = await recipe([]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /qemu-system-x86_64/);
  });

  await t.test("shell mode, `-- CMD`: CMD's output and status", async () => {
    const run = await recipe(["--", "sh", "-c", "echo to-stderr >&2; exit 3"]);
    assert.equal(run.code, 3, run.stderr);
    assert.ok(lines(run.stderr).includes("to-stderr"), run.stderr);
  });

  await t.test("command mode: runs its command and exits with its status", async () => {
    // The same directory and fragment, so the same kernel.
    const remade = await cli(["new", dir, "--yes", "--force", "--name", "demo", "--mode", "command", "--command", "uname -r"]);
    assert.equal(remade.code, 0, remade.stderr);
    const run = await recipe([]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(lines(run.stdout).includes(await pinnedKernel(dir)), `the guest's uname -r:\n${run.stdout}`);
    const piped = await recipe(["--", "sh", "-c", "read line; echo \"got $line\"; exit 4"], "hello\n");
    assert.equal(piped.code, 4, piped.stderr);
    assert.ok(lines(piped.stdout).includes("got hello"), `the command read our stdin:\n${piped.stdout}`);
  });
});

test("new in a terminal: Inquirer prompts, answered with keys, end up in the files", {
  skip: skip || (!(await findOnPath("tmux")) && "tmux is not installed (apt-get install tmux)"),
  timeout: 120_000,
}, async () => {
  const tmp = await tempDir("new-tty-");
  const dir = join(tmp, "tty-demo");
  const socket = join(tmp, "tmux.sock");
  // The server (and so the session) takes its environment from this first client.
  const env = { ...process.env, MICROFORGE_CACHE: testCache, MICROFORGE_KERNEL_SOURCE: "debian", CI: "" };
  const command = [process.execPath, "--import", "tsx", "lib/cli.ts", "new", dir];
  const term = await terminal({ socket, cwd: repoRoot, env, command });
  const { waitFor, keys, type } = term;
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
    await term.close();
  }
  const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
  assert.equal(pkg.name, "tty-vm");
  const recipe = await readFile(join(dir, "recipe.ts"), "utf8");
  for (const dflt of ['default: "longterm"', 'default: "latest"', 'default: "1G"', "default: 2 }", 'default: ["net","disk"]', 'default: "uname -a"']) {
    assert.ok(recipe.includes(dflt), `recipe.ts has ${dflt}`);
  }
  assert.match(recipe, /\["sh", "-c", opts\.command\]/);
});
