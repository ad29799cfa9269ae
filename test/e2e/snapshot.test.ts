/**
 * `run --snapshot` under TCG with the kernel microforge builds: the first
 * run saves the VM and goes on in it, later runs restore it; exit codes,
 * stdout/stderr, stdin, the timeout and the guest clock hold, and a damaged
 * snapshot falls back to a cold boot.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, readdir, readFile, rm, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import { cli, onDeno, tempDir } from "../helpers.ts";

const skip = onDeno ? "boots VMs from the CLI; runs under Node (Deno has its own smoke boot)" : false;
let initrd: string;
let base: string[];
let file: string;

/** Live (not zombie) processes whose command line contains `needle`, from /proc. */
async function liveWith(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const st = await readFile(`/proc/${name}/stat`, "utf8");
      if (st.slice(st.lastIndexOf(")") + 2).startsWith("Z")) continue;
      if ((await readFile(`/proc/${name}/cmdline`, "utf8")).includes(needle)) pids.push(Number(name));
    } catch { /* gone */ }
  }
  return pids;
}

/** The snapshot file a --timings line names, and how it was used. */
function snapshotOf(stderr: string): { how: string; file: string } | undefined {
  const m = /^snapshot: (saved to|restored from) (\S+\.state)/m.exec(stderr);
  return m ? { how: m[1] === "saved to" ? "saved" : "restored", file: m[2].replace(/;$/, "") } : undefined;
}

before(async () => {
  if (skip) return;
  const k = await cli(["kernel", "build", "--kernel-source", "debian", "--version", "6.1", "--json", "--quiet"]);
  assert.equal(k.code, 0, k.stderr);
  const rd = await cli(["initramfs", "--busybox", "host", "--json", "--quiet"]);
  assert.equal(rd.code, 0, rd.stderr);
  // An initramfs of this test's own: its path is part of the snapshot's key, so the snapshot is new and ours.
  initrd = join(await tempDir("snapshot-"), "initramfs.cpio.gz");
  await copyFile(JSON.parse(rd.stdout).path, initrd);
  base = ["run", "--quiet", "--kernel", JSON.parse(k.stdout).boot, "--initrd", initrd, "--accel", "tcg", "--snapshot"];
}, { timeout: 30 * 60_000 });

// Each run of this file has a snapshot of its own (~50 MB): not kept.
after(async () => void (file && (await rm(file, { force: true }))));

test("run --snapshot: the first run saves the VM and runs the command in it, streams apart", { skip, timeout: 120_000 }, async () => {
  const r = await cli([...base, "--timings", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, "out\n");
  assert.match(r.stderr, /^err$/m);
  const s = snapshotOf(r.stderr);
  assert.equal(s?.how, "saved", r.stderr);
  file = s!.file;
  assert.ok((await stat(file)).size > 1e6, "the snapshot file is there");
});

test("run --snapshot: the next run restores it, with the exit code and stdout/stderr apart", { skip, timeout: 120_000 }, async () => {
  const r = await cli([...base, "--timings", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, "out\n");
  assert.match(r.stderr, /^err$/m);
  assert.deepEqual(snapshotOf(r.stderr), { how: "restored", file });
  const ok = await cli([...base, "--", "true"]);
  assert.equal(ok.code, 0, ok.stderr);
});

test("run --snapshot: stdin reaches a restored command", { skip, timeout: 120_000 }, async () => {
  const r = await cli([...base, "--timings", "--", "cat"], { input: "hello\nworld\n" });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "hello\nworld\n");
  assert.equal(snapshotOf(r.stderr)?.how, "restored");
});

test("run --snapshot: a restored command that sleeps times out with 124 and leaves no QEMU", { skip, timeout: 120_000 }, async () => {
  const t = Date.now();
  const r = await cli([...base, "--timeout", "3", "--", "sleep", "30"]);
  assert.equal(r.code, 124, r.stderr);
  assert.ok(Date.now() - t < 10_000, `took ${Date.now() - t} ms`);
  assert.deepEqual(await liveWith(initrd), []);
});

test("run --snapshot: a restored guest's clock is the host's, however old the snapshot", { skip, timeout: 120_000 }, async () => {
  // The saved guest's clock stopped at the save: wait until that is 10 s ago.
  const age = Date.now() - (await stat(file)).mtimeMs;
  if (age < 10_000) await new Promise((r) => setTimeout(r, 10_000 - age));
  const r = await cli([...base, "--timings", "--", "date", "+%s"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(snapshotOf(r.stderr)?.how, "restored");
  const skew = Number(r.stdout) - Date.now() / 1000;
  assert.ok(Math.abs(skew) <= 3, `the guest clock is ${skew.toFixed(1)} s off the host's`);
});

test("run --snapshot: a damaged snapshot falls back to a cold boot with a warning, stdin intact, and is saved again", { skip, timeout: 120_000 }, async () => {
  await truncate(file, Math.floor((await stat(file)).size / 2));
  // Piped stdin the failed restore may have taken already reaches the cold run.
  const r = await cli([...base, "--timings", "--", "sh", "-c", "cat; echo out; echo err >&2; exit 3"], { input: "piped\n" });
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, "piped\nout\n");
  assert.match(r.stderr, /^err$/m);
  assert.match(r.stderr, /cannot restore the snapshot .*\.state \(.*load of migration failed.*\); removed it, booting cold/);
  assert.equal(snapshotOf(r.stderr)?.how, "saved");
  const again = await cli([...base, "--timings", "--", "true"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(snapshotOf(again.stderr)?.how, "restored");
});

test("run --snapshot with a 9p share boots cold and says why", { skip, timeout: 120_000 }, async () => {
  const dir = await tempDir("snapshot-share-");
  const r = await cli([...base, "--share", dir, "--", "sh", "-c", "exit 5"]);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /--snapshot ignored: QEMU cannot save a VM with a 9p share mounted/);
});
