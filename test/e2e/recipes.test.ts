/**
 * Every recipe in its scripted form (Node; quickstart and run-command also
 * on Deno), and `npm start` in a real pty (tmux): the quickstart's shell
 * takes typed input and `exit` ends QEMU.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { onDeno, repoRoot, tempDir, testCache, tsRunner } from "../helpers.ts";
import { runProcess } from "../../lib/util/process.ts";

const skip = onDeno ? "spawns recipes on both runtimes; runs under Node" : false;
// Offline and deterministic: Debian's 6.1 sources, the cache the other e2e tests fill, TCG
// (the printed command is TCG's), and a lock file of the test's own, never recipes/microforge.lock.json.
const env = {
  ...process.env,
  MICROFORGE_CACHE: testCache,
  MICROFORGE_KERNEL_SOURCE: "debian",
  MICROFORGE_KERNEL: "6.1",
  MICROFORGE_ACCEL: "tcg",
  MICROFORGE_LOCK_FILE: join(await tempDir("recipes-lock-"), "microforge.lock.json"),
  CI: "true",
};

function recipe(name: string, args: string[], runtime: "node" | "deno" = "node", input?: string) {
  return runProcess([...tsRunner(runtime), join(repoRoot, "recipes", `${name}.ts`), ...args], { env, nothrow: true, cwd: repoRoot, input, timeoutMs: 20 * 60_000 });
}

for (const runtime of ["node", "deno"] as const) {
  test(`run-command on ${runtime}: the guest command's output and exit code`, { skip, timeout: 20 * 60_000 }, async () => {
    const r = await recipe("run-command", ["--", "sh", "-c", "echo from-guest; exit 3"], runtime);
    assert.equal(r.stdout, "from-guest\n", r.stderr);
    assert.equal(r.code, 3);
    const piped = await recipe("run-command", ["--", "cat"], runtime, "piped-in\n");
    assert.equal(piped.stdout, "piped-in\n", piped.stderr);
  });

  test(`quickstart on ${runtime}, scripted: prints the blog's command, then runs the command`, { skip, timeout: 20 * 60_000 }, async () => {
    const r = await recipe("quickstart", ["--yes", "--", "uname", "-r"], runtime);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /qemu-system-x86_64 \\\n {2}-M microvm,x-option-roms=off/);
    assert.match(r.stdout, /-append 'console=ttyS0 acpi=off reboot=t panic=-1 init=\/init no_timer_check noapictimer'/);
    assert.match(r.stdout, /^6\.1\.\d+$/m);
  });

  test(`quickstart on ${runtime} with stdin piped: vm.run()'s shell reads it, EOF ends the VM`, { skip, timeout: 20 * 60_000 }, async () => {
    const r = await recipe("quickstart", ["--yes"], runtime, "uname -r\nexit 4\n");
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stdout, /^6\.1\.\d+$/m);
  });
}

test("npm start with stdin from /dev/null boots and exits 0 instead of waiting forever", { skip, timeout: 20 * 60_000 }, async () => {
  // runProcess gives the child /dev/null as stdin when there is no input.
  const r = await runProcess(["npm", "start", "--silent"], { env, cwd: repoRoot, nothrow: true, timeoutMs: 15 * 60_000 });
  assert.equal(r.signal, null, `npm start hung:\n${r.stderr.slice(-1500)}`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /qemu-system-x86_64 \\\n {2}-M microvm/);
});

test("share-folder: the guest works in the shared directory", { skip, timeout: 10 * 60_000 }, async () => {
  const dir = await tempDir("recipe-share-");
  await writeFile(join(dir, "notes.txt"), "shared\n");
  const r = await recipe("share-folder", ["--dir", dir, "--yes", "--", "sh", "-c", "cat notes.txt; echo back > reply.txt"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "shared\n");
  assert.equal(await readFile(join(dir, "reply.txt"), "utf8"), "back\n");
});

test("network: the host fetches the guest's page through the port forward", { skip, timeout: 10 * 60_000 }, async () => {
  const r = await recipe("network", ["--yes", "--port", "18080"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "host got from the guest: hello from the microVM\n");
});

test("custom-kernel: the recipe's own fragment is in the booted kernel", { skip, timeout: 30 * 60_000 }, async () => {
  const r = await recipe("custom-kernel", ["--yes", "--hz", "250", "--", "sh", "-c", "zcat /proc/config.gz | grep -E '^CONFIG_(IKCONFIG_PROC|HZ_250)='"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^CONFIG_IKCONFIG_PROC=y$/m);
  assert.match(r.stdout, /^CONFIG_HZ_250=y$/m);
});

async function pane(session: string): Promise<string> {
  return (await runProcess(["tmux", "capture-pane", "-p", "-S", "-200", "-t", session], { nothrow: true })).stdout;
}

async function waitFor(session: string, re: RegExp, ms: number): Promise<string> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const text = await pane(session);
    if (re.test(text)) return text;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${re} in:\n${await pane(session)}`);
}

test("npm start in a terminal: the quickstart shell takes input, and exit ends the VM", { skip, timeout: 20 * 60_000 }, async () => {
  const session = `mf-${process.pid}`;
  const dir = await tempDir("tmux-");
  await mkdir(dir, { recursive: true });
  const script = join(dir, "start.sh");
  const exports = Object.entries({ MICROFORGE_CACHE: testCache, MICROFORGE_KERNEL_SOURCE: "debian", MICROFORGE_KERNEL: "6.1", MICROFORGE_ACCEL: "tcg", MICROFORGE_LOCK_FILE: env.MICROFORGE_LOCK_FILE, CI: "true" }).map(([k, v]) => `export ${k}='${v}'`).join("\n");
  await writeFile(script, `${exports}\ncd '${repoRoot}'\nnpm start\necho "NPM-START-EXIT=$?"\nsleep 600\n`);
  await runProcess(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", "sh", script]);
  try {
    await waitFor(session, /^\/ #\s*$/m, 15 * 60_000);
    await runProcess(["tmux", "send-keys", "-t", session, "echo ok-from-$((6*7))-guest; exit", "Enter"]);
    const text = await waitFor(session, /NPM-START-EXIT=\d+/, 60_000);
    assert.match(text, /^ok-from-42-guest$/m);
    assert.match(text, /NPM-START-EXIT=0/);
  } finally {
    await runProcess(["tmux", "kill-session", "-t", session], { nothrow: true });
  }
});
