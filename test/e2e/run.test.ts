/**
 * Scripted and emitted microVM runs under TCG with the kernel microforge
 * builds (default features, from Debian's linux-source-6.1): exit codes,
 * stdout/stderr, stdin, 9p, networking, disks, timeouts, no orphans.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { cli, onDeno, tempDir } from "../helpers.ts";
import { runProcess } from "../../lib/util/process.ts";
import { vmWithDefaults } from "../../lib/recipe/defaults.ts";
import { closeLaunched, launchVm } from "../../lib/run/vm-process.ts";
import { Qmp } from "../../lib/vm/qmp.ts";

const skip = onDeno ? "boots VMs from the CLI; runs under Node (Deno has its own smoke boot)" : false;
let kernel: string;
let kernelVersion: string;
let initrd: string;
let base: string[];

/** Live (not zombie) processes whose command line contains `needle`, from /proc. */
async function liveWith(needle: string): Promise<number[]> {
  const { readdir } = await import("node:fs/promises");
  const pids: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      if ((await readFile(`/proc/${name}/cmdline`, "utf8")).includes(needle)) pids.push(Number(name));
    } catch { /* gone */ }
  }
  return pids;
}

/** Poll until `check` holds or `ms` pass; resolves to whether it held. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (await check()) return true;
  return await check();
}

/** Run shell text (an emitted QEMU command), type `keys` at the guest's first shell prompt, wait for QEMU to exit. */
function typeAtPrompt(script: string, keys: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", script], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    let typed = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      output += d;
      if (!typed && /\/ # /.test(output)) {
        typed = true;
        child.stdin.write(keys);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

before(async () => {
  if (skip) return;
  const k = await cli(["kernel", "build", "--kernel-source", "debian", "--version", "6.1", "--json", "--quiet"]);
  assert.equal(k.code, 0, k.stderr);
  kernel = JSON.parse(k.stdout).boot;
  kernelVersion = JSON.parse(k.stdout).version;
  const rd = await cli(["initramfs", "--busybox", "host", "--json", "--quiet"]);
  assert.equal(rd.code, 0, rd.stderr);
  initrd = JSON.parse(rd.stdout).path;
  base = ["run", "--quiet", "--kernel", kernel, "--initrd", initrd, "--accel", "tcg"];
}, { timeout: 30 * 60_000 });

test("run -- CMD: stdout, stderr and the exit code come back apart", { skip, timeout: 120_000 }, async () => {
  const r = await cli([...base, "--", "sh", "-c", "echo out; echo err >&2; exit 7"]);
  assert.equal(r.stdout, "out\n");
  assert.match(r.stderr, /^err$/m);
  assert.doesNotMatch(r.stdout, /Linux version|Run \/init/);
  assert.equal(r.code, 7);
  assert.equal((await cli([...base, "--", "true"])).code, 0);
  assert.equal((await cli([...base, "--", "false"])).code, 1);
});

test("a port the guest's driver adds late (hot-plugged after the kernel starts /init) is waited for: the command still gets its status back", { skip, timeout: 120_000 }, async () => {
  // The VM a scripted run boots, less its status port, which QMP adds once the kernel has started /init:
  // /init must wait for the fifth port the command line names, or the status would go nowhere.
  const vm = await vmWithDefaults({ kernel, initrd, accel: "tcg", quiet: true, log: { step() {}, warn() {} } });
  const qmpPath = join(await tempDir("late-port-"), "qmp");
  const launched = await launchVm((ports) => {
    const argv = vm.with({ ports, serial: "stdio", quiet: false, qmp: qmpPath }).toArgv();
    const at = argv.indexOf("socket,id=port4,path=" + ports[4].socket) - 1;
    assert.ok(at > 0, argv.join(" "));
    assert.match(argv[argv.indexOf("-append") + 1], / microforge\.ports=5$/);
    return [...argv.slice(0, at), ...argv.slice(at + 4)];
  });
  let console = "";
  let qmp: Qmp | undefined;
  try {
    const started = new Promise<void>((res) => launched.qemu.child.stdout!.setEncoding("utf8").on("data", (d: string) => (console += d, /Run \/init as init process/.test(console) && res())));
    void (await launched.sockets.cmd).end("sh -c 'exit 7'\n");
    const status = launched.sockets.status.then((s) => new Promise<string>((res) => {
      let text = "";
      s.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => res(text));
    }));
    qmp = await Qmp.connect(qmpPath);
    await started;
    await new Promise((r) => setTimeout(r, 300));
    assert.doesNotMatch(console, /microforge: \/init started/, "the banner came before the last port: /init did not wait");
    await qmp.execute("chardev-add", { id: "port4", backend: { type: "socket", data: { addr: { type: "unix", data: { path: launched.ports[4].socket } }, server: false } } });
    await qmp.execute("device_add", { driver: "virtserialport", chardev: "port4", name: "microforge.status" });
    assert.equal((await status).trim(), "7");
    await launched.qemu.exited;
    assert.match(console, /microforge: \/init started/);
  } finally {
    qmp?.close();
    launched.qemu.kill();
    await launched.qemu.exited.catch(() => undefined);
    await closeLaunched(launched);
  }
});

test("a warm start: the second run of a command line boots its VM before microforge loads, with the same exit code and streams; a rebuilt initramfs is not started early", { skip, timeout: 180_000 }, async () => {
  // A command line of this test's own (its initramfs copy), so no other test's plan is used.
  const own = join(await tempDir("warm-"), "initrd.cpio");
  await copyFile(initrd, own);
  const args = ["run", "--quiet", "--kernel", kernel, "--initrd", own, "--accel", "tcg", "--timings", "--", "sh", "-c", "echo out; echo err >&2; exit 5"];
  const first = await cli(args);
  assert.equal(first.code, 5, first.stderr);
  assert.doesNotMatch(first.stderr, /warm start/);
  const second = await cli(args);
  assert.equal(second.code, 5, second.stderr);
  assert.equal(second.stdout, "out\n");
  assert.match(second.stderr, /^err$/m);
  assert.match(second.stderr, /warm start: QEMU started before microforge loaded/);
  // The initramfs changes (a write): the remembered VM is not started; the run boots the new bytes.
  await writeFile(own, await readFile(initrd));
  const third = await cli(args);
  assert.equal(third.code, 5, third.stderr);
  assert.doesNotMatch(third.stderr, /warm start/);
  assert.ok(await eventually(async () => (await liveWith(own)).length === 0, 3000), "a QEMU survived the runs");
});

test("the host's stdin reaches the command: echo hello | run -- cat", { skip, timeout: 60_000 }, async () => {
  const r = await cli([...base, "--", "cat"], { input: "hello\n" });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "hello\n");
});

test("a 9p share: the guest reads a host file; read-write, its file lands on the host", { skip, timeout: 60_000 }, async () => {
  const dir = await tempDir("share-");
  await writeFile(join(dir, "from-host.txt"), "written by the host\n");
  const r = await cli([...base, "--share", dir, "--", "sh", "-c", "pwd; cat from-host.txt; echo from-guest > from-guest.txt"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "/mnt/share\nwritten by the host\n");
  assert.equal(await readFile(join(dir, "from-guest.txt"), "utf8"), "from-guest\n");
  const ro = await cli([...base, "--share", `${dir}:/data:ro`, "--", "sh", "-c", "cat /data/from-host.txt && echo x > /data/nope"]);
  assert.notEqual(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
});

test("user networking: DHCP in the guest, and the host's HTTP server through 10.0.2.2", { skip, timeout: 60_000 }, async () => {
  const server: Server = createServer((_req, res) => res.end("hello from the host server\n"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  try {
    const r = await cli([...base, "--net", "--", "sh", "-c", `ip -4 addr show eth0 | grep -o 'inet [0-9.]*'; wget -q -O - http://10.0.2.2:${port}/`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "inet 10.0.2.15\nhello from the host server\n");
  } finally {
    server.close();
  }
});

test("a virtio-blk disk is /dev/vda with the right size", { skip, timeout: 60_000 }, async () => {
  const img = join(await tempDir("disk-"), "disk.img");
  await runProcess(["truncate", "-s", "8M", img]);
  const r = await cli([...base, "--disk", img, "--", "cat", "/sys/block/vda/size"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), String((8 * 1024 * 1024) / 512));
});

test("emit's command, pasted into sh, boots the same VM, also with a space in the kernel path", { skip, timeout: 120_000 }, async () => {
  const dir = join(await tempDir("emit-"), "dir with space");
  await mkdir(dir);
  await copyFile(kernel, join(dir, "bzImage"));
  for (const k of [kernel, join(dir, "bzImage")]) {
    const emitted = await cli(["emit", "--quiet", "--kernel", k, "--initrd", initrd, "--accel", "tcg"]);
    assert.equal(emitted.code, 0, emitted.stderr);
    assert.match(emitted.stdout, /^ {2}-M microvm,x-option-roms=off,acpi=off,accel=tcg \\$/m);
    const r = await typeAtPrompt(emitted.stdout, "echo typed-$((6*7))\nexit\n");
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /microforge: \/init started/);
    assert.match(r.output, /typed-42/);
  }
  const oneLine = await cli(["emit", "--quiet", "--one-line", "--kernel", join(dir, "bzImage"), "--initrd", initrd, "--accel", "tcg"]);
  assert.match(oneLine.stdout, /'\/[^']*dir with space\/bzImage'/);
});

test("a guest that hangs hits the timeout: exit 124, the console tail, and no QEMU left", { skip, timeout: 60_000 }, async () => {
  const marker = join(await tempDir("hang-"), "initrd.cpio.gz");
  await copyFile(initrd, marker);
  const r = await cli(["run", "--quiet", "--kernel", kernel, "--initrd", marker, "--accel", "tcg", "--timeout", "8", "--", "sleep", "1000"]);
  assert.equal(r.code, 124, r.stderr);
  assert.match(r.stderr, /did not finish within 8 s[\s\S]*last console lines/);
  const left = await runProcess(["pgrep", "-f", `qemu-system.*${marker}`], { nothrow: true });
  assert.equal(left.stdout.trim(), "", "a QEMU process survived");
});

test("a kernel panic is exit 255 with the kernel's last lines", { skip, timeout: 60_000 }, async () => {
  // /init is not found (rdinit), and neither is init=: the kernel panics, and with panic=-1 QEMU exits.
  const r = await cli([...base, "--append", "rdinit=/nonexistent", "--append", "init=/nonexistent", "--", "true"]);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /kernel panicked[\s\S]*Kernel panic - not syncing/i);
});

test("SIGTERM to microforge while a VM runs leaves no QEMU behind", { skip, timeout: 60_000 }, async () => {
  const marker = join(await tempDir("term-"), "initrd.cpio.gz");
  await copyFile(initrd, marker);
  const { tsRunner, repoRoot } = await import("../helpers.ts");
  const [cmd, ...pre] = tsRunner("node");
  const child = spawn(cmd, [...pre, join(repoRoot, "lib", "cli.ts"), "run", "--quiet", "--kernel", kernel, "--initrd", marker, "--accel", "tcg", "--", "sleep", "1000"], { stdio: "ignore" });
  // Wait until QEMU is up, then stop microforge.
  for (let i = 0; i < 100; i++) {
    if ((await runProcess(["pgrep", "-f", `qemu-system.*${marker}`], { nothrow: true })).stdout.trim()) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok((await runProcess(["pgrep", "-f", `qemu-system.*${marker}`], { nothrow: true })).stdout.trim(), "QEMU never started");
  child.kill("SIGTERM");
  const code = await new Promise((r) => child.once("close", (c, s) => r(c ?? s)));
  assert.equal(code, 143);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await runProcess(["pgrep", "-f", `qemu-system.*${marker}`], { nothrow: true })).stdout.trim(), "", "a QEMU process survived");
});

test("a stdin pipe that never ends does not keep microforge alive after the guest exits", { skip, timeout: 90_000 }, async () => {
  const { tsRunner, repoRoot } = await import("../helpers.ts");
  const [cmd, ...pre] = tsRunner("node");
  const child = spawn(cmd, [...pre, join(repoRoot, "lib", "cli.ts"), ...base, "--", "true"], { stdio: ["pipe", "ignore", "ignore"] });
  child.stdin.write("some input the command never reads\n"); // and never closed
  const code = await new Promise((r) => child.once("close", (c) => r(c)));
  assert.equal(code, 0);
});

test("--timings prints the boot phases and --timeline writes them as SVG", { skip, timeout: 60_000 }, async () => {
  const svg = join(await tempDir("timeline-"), "boot.svg");
  const r = await cli([...base, "--timings", "--timeline", svg, "--", "true"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^QEMU start \+ firmware\s+0 ms\s+\d+ ms/m);
  assert.match(r.stderr, /^kernel boot\s+\d+ ms/m);
  assert.match(r.stderr, /^total\s+\d+ ms\s+100\.0%$/m);
  const text = await readFile(svg, "utf8");
  assert.match(text, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(text, /kernel boot/);
  assert.match(text, /<\/svg>\s*$/);
});

for (const runtime of ["node", "deno"] as const) {
  test(`run on ${runtime} with stdin piped: the guest shell reads it, EOF ends the VM with the shell's status`, { skip, timeout: 180_000 }, async () => {
    const piped = await cli(base, { runtime, input: "uname -r\n" });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, `${kernelVersion}\n`, "uname -r is the version the build reported");
    const status = await cli(base, { runtime, input: "echo typed-ahead-$((6*7))\nexit 3\n" });
    assert.equal(status.code, 3, status.stderr);
    assert.equal(status.stdout, "typed-ahead-42\n", "input written before the shell was up is not lost");
    // cli() without input gives the child /dev/null as stdin: it boots, the shell sees EOF at once.
    const closed = await cli(base, { runtime });
    assert.equal(closed.code, 0, closed.stderr);
    assert.equal(closed.stdout, "");
  });

  test(`SIGKILL of microforge on ${runtime} during run -- sleep 300: no QEMU within 2 s`, { skip, timeout: 120_000 }, async () => {
    const marker = join(await tempDir("kill9-"), "initrd.cpio");
    await copyFile(initrd, marker);
    const { tsRunner, repoRoot } = await import("../helpers.ts");
    const [cmd, ...pre] = tsRunner(runtime);
    const child = spawn(cmd, [...pre, join(repoRoot, "lib", "cli.ts"), "run", "--quiet", "--kernel", kernel, "--initrd", marker, "--accel", "tcg", "--", "sleep", "300"], { stdio: "ignore" });
    assert.ok(await eventually(async () => (await liveWith(marker)).some((p) => p !== child.pid), 60_000), "QEMU never started");
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));
    const gone = await eventually(async () => (await liveWith(marker)).length === 0, 2000);
    assert.ok(gone, `QEMU outlived microforge: pids ${(await liveWith(marker)).join(", ")}`);
  });
}

test("emit -- CMD: the printed command boots, runs CMD on the console, prints its status and powers off; --script exits with it", { skip, timeout: 240_000 }, async () => {
  const cmd = ["sh", "-c", "echo from-emitted-$((6*7)); exit 5"];
  const emitted = await cli(["emit", "--quiet", "--kernel", kernel, "--accel", "tcg", "--", ...cmd]);
  assert.equal(emitted.code, 0, emitted.stderr);
  assert.match(emitted.stdout, /^# \/init runs sh -c /m);
  // Pasted into a shell with nothing of ours around: it ends by itself.
  const pasted = await runProcess(["sh", "-c", emitted.stdout], { nothrow: true, timeoutMs: 90_000 });
  assert.equal(pasted.signal, null, `the VM did not power off:\n${pasted.stdout.slice(-1500)}`);
  assert.equal(pasted.code, 0, pasted.stderr);
  assert.match(pasted.stdout, /^from-emitted-42\r?$/m);
  assert.match(pasted.stdout, /^microforge-exit-status:5\r?$/m);
  const script = await cli(["emit", "--quiet", "--script", "--kernel", kernel, "--accel", "tcg", "--", ...cmd]);
  assert.equal(script.code, 0, script.stderr);
  const file = join(await tempDir("emit-script-"), "vm.sh");
  await writeFile(file, script.stdout);
  const ran = await runProcess(["sh", file], { nothrow: true, timeoutMs: 90_000 });
  assert.equal(ran.code, 5, `${ran.stdout.slice(-1500)}\n${ran.stderr}`);
  assert.match(ran.stdout, /from-emitted-42/);
  // Its own initramfs is the one place the command can live: another image is refused, not ignored.
  const other = await cli(["emit", "--quiet", "--kernel", kernel, "--initrd", initrd, "--accel", "tcg", "--", "true"]);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /A command to bake into \/init needs microforge's own initramfs[\s\S]*leave out --initrd/);
});

test("--set with a value the template cannot use names the variable and its type, before any work", { skip, timeout: 60_000 }, async () => {
  const r = await cli(["initramfs", "--busybox", "/nonexistent/busybox", "--set", "command=true"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^microforge: Template variable command must be a list of words \(or null\), not true\n {2}→ for example --set 'command=\["uname","-a"\]'/);
  assert.doesNotMatch(r.stderr, /busybox|map is not a function/, "refused before busybox was looked at");
  const wrong = await cli(["initramfs", "--busybox", "/nonexistent/busybox", "--set", "interactiveShell=maybe"]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /Template variable interactiveShell must be true or false, not "maybe"/);
});
