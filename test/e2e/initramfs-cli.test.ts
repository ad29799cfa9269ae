/**
 * `microforge initramfs` end to end: the real CLI on Node and on Deno, the
 * host's static busybox and Debian's busybox-static package.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { cli, onDeno, tempDir } from "../helpers.ts";
import { runProcess } from "../../lib/util/process.ts";

const nodeOnly = onDeno ? "spawns Node and Deno; runs under Node" : false;

test("Node and Deno build byte-identical initramfs images", { skip: nodeOnly }, async () => {
  const dir = await tempDir("e2e-");
  const args = ["--busybox", "/bin/busybox", "--set", "hostname=same", "--json", "--quiet"];
  const [n, d] = await Promise.all([
    cli(["initramfs", "-o", join(dir, "node.cpio.gz"), ...args], { runtime: "node" }),
    cli(["initramfs", "-o", join(dir, "deno.cpio.gz"), ...args], { runtime: "deno" }),
  ]);
  assert.equal(n.code, 0, n.stderr);
  assert.equal(d.code, 0, d.stderr);
  const [a, b] = [JSON.parse(n.stdout), JSON.parse(d.stdout)];
  assert.match(a.sha256, /^[0-9a-f]{64}$/);
  assert.equal(a.sha256, b.sha256);
  assert.deepEqual(await readFile(a.path), await readFile(b.path));
});

test("the image holds busybox, /init and the device nodes, as cpio lists them", { skip: nodeOnly }, async () => {
  const dir = await tempDir("e2e-");
  const out = join(dir, "rd.cpio.gz");
  const r = await cli(["initramfs", "-o", out, "--busybox", "/bin/busybox", "--file", `${dir}:/x`]);
  // a directory is not a file: refused with the path named
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Cannot add .* as \/x/);
  const ok = await cli(["initramfs", "-o", out, "--busybox", "/bin/busybox"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /sha256\s+[0-9a-f]{64}/);
  const { stdout } = await runProcess(["sh", "-c", 'gzip -dc "$1" | cpio -itv --quiet', "sh", out], { env: { ...process.env, LC_ALL: "C" } });
  assert.match(stdout, /^-rwxr-xr-x\s+1 root\s+root\s+\d{6,} .* bin\/busybox$/m);
  assert.match(stdout, /^-rwxr-xr-x .* init$/m);
  assert.match(stdout, /^crw------- .* 5,\s+1 .* dev\/console$/m);
  assert.match(stdout, /^crw-rw-rw- .* 1,\s+3 .* dev\/null$/m);
});

test("a dynamic busybox is refused by the CLI with the binary named", { skip: nodeOnly }, async () => {
  const r = await cli(["initramfs", "-o", join(await tempDir("e2e-"), "x.cpio.gz"), "--busybox", "/bin/ls"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\/bin\/ls is dynamically linked/);
});

test("Debian's busybox-static is fetched once into the cache, then reused", { skip: nodeOnly }, async () => {
  const first = await cli(["initramfs", "-o", join(await tempDir("e2e-"), "deb.cpio.gz"), "--busybox", "debian", "--json"]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout).busybox.origin, "debian");
  const again = await cli(["initramfs", "-o", join(await tempDir("e2e-"), "deb2.cpio.gz"), "--busybox", "debian", "--json"]);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /fetching Debian busybox-static/);
  assert.equal(JSON.parse(again.stdout).sha256, JSON.parse(first.stdout).sha256);
});

test("every command has --help, and unknown flags are usage errors with a suggestion", { skip: nodeOnly }, async () => {
  for (const cmd of ["doctor", "initramfs"]) {
    const r = await cli([cmd, "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: microforge ${cmd} `));
  }
  const bad = await cli(["initramfs", "--outptu", "x"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Unknown option --outptu.*\n.*did you mean --output\?/);
  const unknown = await cli(["initramfz"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /did you mean `microforge initramfs`/);
});
