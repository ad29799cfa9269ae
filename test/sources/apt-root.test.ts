import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { debianMirror, foreignAptRoot } from "../../lib/sources/apt-root.ts";
import type { Runner } from "../../lib/util/process.ts";
import { tempDir } from "../helpers.ts";

test("the mirror is the host's Debian one, from deb822 or one-line sources, else deb.debian.org", () => {
  assert.equal(debianMirror("Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"), "http://mirror.example/debian");
  assert.equal(debianMirror("deb [signed-by=/k.gpg] https://m.example/debian bookworm main\n"), "https://m.example/debian");
  assert.equal(debianMirror("URIs: http://deb.debian.org/debian-security\n"), "https://deb.debian.org/debian");
});

test("a private apt root for riscv64 on Debian 12: its own sources list and lists in the cache, updated once a day, never the system's", async () => {
  const cache = await tempDir("apt-root-");
  const calls: string[][] = [];
  const run: Runner = (argv) => {
    calls.push([...argv]);
    return Promise.resolve({ argv: [...argv], code: 0, signal: null, stdout: "", stderr: "" });
  };
  const deps = { env: { MICROFORGE_CACHE: cache }, run, osRelease: "VERSION_CODENAME=bookworm\n", sources: "URIs: http://mirror.example/debian\n" };
  const root = await foreignAptRoot("riscv64", deps);
  assert.ok(root);
  const dir = join(cache, "apt", "trixie-riscv64");
  assert.equal(await readFile(join(dir, "sources.list"), "utf8"), "deb [arch=riscv64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian trixie main\n");
  assert.ok(root.options.includes(`Dir::State::Lists=${join(dir, "lists")}`));
  assert.ok(root.options.includes("Dir::Etc::SourceParts=/dev/null"));
  assert.deepEqual(calls.map((c) => c.at(-1)), ["update"]);
  await foreignAptRoot("riscv64", deps);
  assert.equal(calls.length, 1, "fresh lists are not fetched again");
  assert.equal(await foreignAptRoot("arm64", deps), undefined);
});

test("apt lists that cannot be read are an error naming the mirror", async () => {
  const cache = await tempDir("apt-root-bad-");
  const run: Runner = (argv) => Promise.resolve({ argv: [...argv], code: 100, signal: null, stdout: "", stderr: "E: Failed to fetch http://mirror.example/debian/dists/trixie/InRelease" });
  await assert.rejects(foreignAptRoot("riscv64", { env: { MICROFORGE_CACHE: cache }, run, osRelease: "VERSION_CODENAME=bookworm\n", sources: "URIs: http://mirror.example/debian\n" }), /could not read Debian trixie's riscv64 package lists[\s\S]*mirror\.example/);
});
