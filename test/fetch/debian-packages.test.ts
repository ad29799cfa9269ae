import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fetchPackages, lockedClosure, packageRootDir } from "../../lib/fetch/debian-packages.ts";
import { blobPath } from "../../lib/fetch/blob-store.ts";
import { packageContent } from "../../lib/initramfs/package-content.ts";
import type { ExtraContent } from "../../lib/initramfs/rootfs.ts";
import { emptyLock, readLock, writeLock } from "../../lib/sources/lock-file.ts";
import { ChecksumError, LockFileError, PackageError } from "../../lib/util/errors.ts";
import { sha256Hex } from "../../lib/util/hash.ts";
import { memoryLogger } from "../../lib/util/log.ts";
import type { Runner } from "../../lib/util/process.ts";
import { tempDir } from "../helpers.ts";

/** A fake apt: `app` 1.0 depends on `libx` 2.0; each ".deb" holds its name, and dpkg-deb "unpacks" it to usr/bin/NAME. */
function fakeApt(o: { tamper?: string; failDownload?: boolean } = {}) {
  const debs: Record<string, { version: string; bytes: string }> = { app: { version: "1.0", bytes: "app deb" }, libx: { version: "2.0", bytes: "libx deb" } };
  const calls: string[][] = [];
  const run: Runner = async (argv, options) => {
    calls.push([...argv]);
    const ok = (stdout = "") => ({ code: 0, signal: null, stdout, stderr: "" });
    if (argv[0] === "apt-cache" && argv[1] === "depends") return ok("app\n  Depends: libx\nlibx\n");
    if (argv[0] === "apt-cache" && argv[1] === "show") {
      return ok(Object.entries(debs).map(([n, d]) => `Package: ${n}\nVersion: ${d.version}\nSize: ${d.bytes.length}\nSHA256: ${sha256Hex(d.bytes)}\n`).join("\n"));
    }
    if (argv[0] === "apt-get" && argv[1] === "download") {
      if (o.failDownload) return { code: 100, signal: null, stdout: "", stderr: "E: Version '1.0' for 'app' was not found\n" };
      for (const spec of argv.slice(2)) {
        const [name, version] = spec.split("=");
        await writeFile(join(options!.cwd!, `${name}_${version}_amd64.deb`), name === o.tamper ? "evil" : debs[name].bytes);
      }
      return ok();
    }
    if (argv[0] === "dpkg-deb" && argv[1] === "-x") {
      const name = (await readFile(argv[2], "utf8")).split(" ")[0];
      await mkdir(join(argv[3], "usr", "bin"), { recursive: true });
      await writeFile(join(argv[3], "usr", "bin", name), `#!/bin/sh\necho ${name}\n`, { mode: 0o755 });
      return ok();
    }
    throw new Error(`unexpected command ${argv.join(" ")}`);
  };
  return { run, calls, sha: (n: string) => sha256Hex(debs[n].bytes) };
}

async function setup() {
  const dir = await tempDir("debs-");
  return { dir, env: { ...process.env, MICROFORGE_CACHE: join(dir, "cache") }, lockPath: join(dir, "microforge.lock.json") };
}

const commands = (calls: string[][]) => calls.map((c) => c.slice(0, 2).join(" "));

test("fetchPackages unpacks a package and its dependency, pins each by sha256 in the lock, and keeps the .debs", async () => {
  const { env, lockPath } = await setup();
  const apt = fakeApt();
  const got = await fetchPackages(["app"], { run: apt.run, env, log: memoryLogger(), lock: { path: lockPath, mode: "reuse" } });
  assert.deepEqual(got.map((p) => [p.name, p.version, p.sha256]), [["app", "1.0", apt.sha("app")], ["libx", "2.0", apt.sha("libx")]]);
  assert.equal(got[0].root, packageRootDir(env.MICROFORGE_CACHE, apt.sha("app")));
  assert.equal(await readFile(join(got[0].root, "usr/bin/app"), "utf8"), "#!/bin/sh\necho app\n");
  assert.ok((await stat(blobPath(env.MICROFORGE_CACHE, apt.sha("libx")))).isFile());
  assert.deepEqual(apt.calls.find((c) => c[1] === "download"), ["apt-get", "download", "app=1.0", "libx=2.0"]);
  const lock = await readLock(lockPath);
  assert.deepEqual(lock.artifacts["deb:app"], { spec: "app", version: "1.0", source: "debian", url: "debian:app=1.0", sha256: apt.sha("app"), depends: ["libx"] });
  assert.deepEqual(lock.artifacts["deb:libx"].depends, []);
});

test("a second fetch uses the unpacked packages: no download, no unpacking", async () => {
  const { env } = await setup();
  await fetchPackages(["app"], { run: fakeApt().run, env, log: memoryLogger() });
  const apt = fakeApt();
  const got = await fetchPackages(["app"], { run: apt.run, env, log: memoryLogger() });
  assert.equal(got.length, 2);
  assert.deepEqual(commands(apt.calls), ["apt-cache depends", "apt-cache show"]);
});

test("with --locked the closure comes from the lock alone, and the pinned versions are fetched again into an empty cache", async () => {
  const { env, lockPath } = await setup();
  await fetchPackages(["app"], { run: fakeApt().run, env, log: memoryLogger(), lock: { path: lockPath, mode: "reuse" } });
  await rm(env.MICROFORGE_CACHE, { recursive: true });
  const apt = fakeApt();
  const got = await fetchPackages(["app"], { run: apt.run, env, log: memoryLogger(), lock: { path: lockPath, mode: "locked" } });
  assert.deepEqual(got.map((p) => p.sha256), [apt.sha("app"), apt.sha("libx")]);
  assert.deepEqual(commands(apt.calls), ["apt-get download", "dpkg-deb -x", "dpkg-deb -x"]);
});

test("with --locked a package the lock does not name is refused", async () => {
  const { env, lockPath } = await setup();
  await writeLock(lockPath, emptyLock());
  await assert.rejects(fetchPackages(["app"], { run: fakeApt().run, env, lock: { path: lockPath, mode: "locked" } }), (err: unknown) => {
    assert.ok(err instanceof LockFileError);
    assert.match(err.message, /--locked: .* would change: it has no usable entry for deb:app/);
    return true;
  });
});

test("a .deb whose sha256 differs from apt's index is refused and not kept", async () => {
  const { env } = await setup();
  const apt = fakeApt({ tamper: "libx" });
  await assert.rejects(fetchPackages(["app"], { run: apt.run, env, log: memoryLogger() }), (err: unknown) => {
    assert.ok(err instanceof ChecksumError);
    assert.match(err.message, new RegExp(`Checksum mismatch for debian:libx=2.0: expected sha256 ${apt.sha("libx")}, got ${sha256Hex("evil")}`));
    return true;
  });
  await assert.rejects(stat(blobPath(env.MICROFORGE_CACHE, sha256Hex("evil"))));
  await assert.rejects(stat(packageRootDir(env.MICROFORGE_CACHE, apt.sha("libx"))));
});

test("a .deb that differs from the lock names the lock in the error", async () => {
  const { env, lockPath } = await setup();
  await fetchPackages(["app"], { run: fakeApt().run, env, log: memoryLogger(), lock: { path: lockPath, mode: "reuse" } });
  await rm(env.MICROFORGE_CACHE, { recursive: true });
  await assert.rejects(
    fetchPackages(["app"], { run: fakeApt({ tamper: "app" }).run, env, log: memoryLogger(), lock: { path: lockPath, mode: "locked" } }),
    new RegExp(`debian:app=1.0: expected sha256 [0-9a-f]{64} \\(pinned by ${lockPath}\\)`),
  );
});

test("a failing apt-get download is a PackageError with the command, exit code and apt's message", async () => {
  const { env } = await setup();
  await assert.rejects(fetchPackages(["app"], { run: fakeApt({ failDownload: true }).run, env, log: memoryLogger() }), (err: unknown) => {
    assert.ok(err instanceof PackageError);
    assert.equal(err.command?.code, 100);
    assert.match(err.message, /apt-get download app=1.0 libx=2.0 exited with code 100\n--- last lines of output ---\nE: Version '1.0' for 'app' was not found/);
    return true;
  });
});

test("lockedClosure walks the entries' depends and names what is missing", () => {
  const lock = emptyLock();
  lock.artifacts["deb:app"] = { spec: "app", version: "1.0", source: "debian", url: "debian:app=1.0", sha256: "a".repeat(64), depends: ["libx", "liby"] };
  lock.artifacts["deb:libx"] = { spec: "libx", version: "2.0", source: "debian", url: "debian:libx=2.0", sha256: "b".repeat(64), depends: [] };
  const { plan, missing } = lockedClosure(lock, ["app"]);
  assert.deepEqual(plan.map((p) => `${p.name}=${p.version}`), ["app=1.0", "libx=2.0"]);
  assert.deepEqual(missing, ["liby"]);
});

// packageContent (lib/initramfs/package-content.ts): what the fetched roots become in the image.

async function tree(root: string, files: Record<string, string | { link: string }>): Promise<string> {
  for (const [path, what] of Object.entries(files)) {
    await mkdir(join(root, path, ".."), { recursive: true });
    if (typeof what === "string") await writeFile(join(root, path), what, { mode: path.includes("bin/") ? 0o755 : 0o644 });
    else await symlink(what.link, join(root, path));
  }
  return root;
}

const byDest = (items: ExtraContent[]) => new Map(items.map((i) => [i.dest, i]));

test("package files, links and directories become extra content, /etc kept, programs where the package put them", async () => {
  const base = await tempDir("pc-");
  const jq = await tree(join(base, "jq"), { "usr/bin/jq": "elf", "usr/share/doc/jq/copyright": "c", "etc/jq.conf": "x" });
  const libc = await tree(join(base, "libc6"), { "lib/x86_64-linux-gnu/libc.so.6": "so", "lib64/ld-linux-x86-64.so.2": { link: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" } });
  const items = byDest(await packageContent([jq, libc]));
  assert.deepEqual(items.get("usr/bin/jq"), { dest: "usr/bin/jq", source: join(jq, "usr/bin/jq"), mode: 0o755 });
  // /init's PATH has /usr/bin: no link of ours in /bin.
  assert.ok(!items.has("bin/jq"));
  assert.deepEqual(items.get("lib64/ld-linux-x86-64.so.2"), { dest: "lib64/ld-linux-x86-64.so.2", symlink: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" });
  assert.ok(items.has("etc/jq.conf") && items.has("usr/share/doc/jq") && items.has("lib/x86_64-linux-gnu/libc.so.6"));
  // The image's own top-level directories are not redefined (their modes, e.g. /tmp's 1777, stay).
  assert.ok(!items.has("lib") && !items.has("etc") && !items.has("bin"));
});

test("a package never replaces busybox, /bin/sh or /init, but its /bin/NAME replaces the applet", async () => {
  const dash = await tree(join(await tempDir("pc-"), "dash"), { "bin/dash": "elf", "bin/sh": { link: "dash" }, "bin/busybox": "x", init: "x", "usr/bin/awk": "elf" });
  const items = byDest(await packageContent([dash]));
  assert.ok(!items.has("bin/sh") && !items.has("bin/busybox") && !items.has("init"));
  assert.ok(items.has("bin/dash"));
  assert.ok(!items.has("bin/awk") && items.has("usr/bin/awk"));
});

test("a /usr-merge link over /bin is expanded into one link per program, never over the directory", async () => {
  const base = await tempDir("pc-");
  const files = await tree(join(base, "base-files"), { bin: { link: "usr/bin" }, "usr/bin/bash": "elf", "usr/bin/sh": { link: "bash" } });
  const items = byDest(await packageContent([files]));
  assert.ok(!items.has("bin"));
  assert.deepEqual(items.get("bin/bash"), { dest: "bin/bash", symlink: "/usr/bin/bash" });
  assert.ok(!items.has("bin/sh"));
});

test("a later package's file wins over an earlier one's", async () => {
  const base = await tempDir("pc-");
  const a = await tree(join(base, "a"), { "etc/x.conf": "a" });
  const b = await tree(join(base, "b"), { "etc/x.conf": "b" });
  assert.deepEqual(byDest(await packageContent([a, b])).get("etc/x.conf"), { dest: "etc/x.conf", source: join(b, "etc/x.conf"), mode: 0o644 });
});

test("Debian 13's /usr-merged loader gets the /lib link binaries ask for, and nothing else of /usr/lib is linked", async () => {
  const base = await tempDir("pc-merged-");
  const libc = await tree(join(base, "libc6"), {
    "usr/lib/riscv64-linux-gnu/ld-linux-riscv64-lp64d.so.1": "so",
    "usr/lib/ld-linux-riscv64-lp64d.so.1": { link: "riscv64-linux-gnu/ld-linux-riscv64-lp64d.so.1" },
    "usr/lib/os-release": "x",
  });
  const items = byDest(await packageContent([libc]));
  assert.deepEqual(items.get("lib/ld-linux-riscv64-lp64d.so.1"), { dest: "lib/ld-linux-riscv64-lp64d.so.1", symlink: "/usr/lib/ld-linux-riscv64-lp64d.so.1" });
  assert.ok(!items.has("lib/os-release"));
  // A package that ships /lib/NAME itself keeps its own.
  const own = await tree(join(base, "own"), { "lib/ld-linux-riscv64-lp64d.so.1": "real" });
  assert.deepEqual(byDest(await packageContent([libc, own])).get("lib/ld-linux-riscv64-lp64d.so.1"), { dest: "lib/ld-linux-riscv64-lp64d.so.1", source: join(own, "lib/ld-linux-riscv64-lp64d.so.1"), mode: 0o644 });
});
