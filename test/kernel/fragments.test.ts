import { test } from "node:test";
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { DEFAULT_FEATURES, expandFeatures, kernelConfigRequest, LOCAL_FRAGMENT, localFragment } from "../../lib/kernel/fragments.ts";
import { droppedSymbols } from "../../lib/kernel/config.ts";
import { ConfigFragmentError } from "../../lib/util/errors.ts";
import { tempDir } from "../helpers.ts";

test("features pull in what they need, in a fixed order", () => {
  assert.deepEqual(expandFeatures(["9p"]), ["virtio", "net", "9p"]);
  assert.deepEqual(expandFeatures(["acpi", "blk"]), ["virtio", "blk", "acpi"]);
  assert.deepEqual(expandFeatures(DEFAULT_FEATURES), ["virtio", "blk", "net", "9p", "console"]);
  assert.throws(() => expandFeatures(["nett"]), /Unknown kernel feature nett[\s\S]*did you mean net\?/);
});

test("the default request is the blog's base plus virtio, blk, net and 9p", () => {
  const r = kernelConfigRequest({ version: "6.1.192" });
  assert.deepEqual(r.layers.map((l) => l.name), ["base", "arch x86_64", "feature virtio", "feature blk", "feature net", "feature 9p", "feature console"]);
  for (const s of ["64BIT", "SERIAL_8250_CONSOLE", "DEVTMPFS", "TMPFS", "X86_MPPARSE", "HYPERVISOR_GUEST", "PVH", "VIRTIO_MENU", "VIRTIO_MMIO_CMDLINE_DEVICES", "VIRTIO_BLK", "VIRTIO_NET", "PACKET", "9P_FS", "OVERLAY_FS"]) {
    assert.equal(r.requested.get(s), "y", s);
  }
  assert.equal(r.requested.size, 34);
  assert.match(r.fragment, /^# microforge kernel config for 6\.1\.192: base → arch x86_64 → feature virtio/);
  assert.match(r.fragment, /^CONFIG_VIRTIO_NET=y$/m);
});

test("layers apply in order: base → features → files → command line, later wins", async () => {
  const dir = await tempDir("frag-");
  const file = join(dir, "mine.config");
  await writeFile(file, "CONFIG_PRINTK_TIME=n\nCONFIG_CMDLINE=\"quiet\"\n");
  const tpl = join(dir, "mine.config.ejs");
  await writeFile(tpl, "<% if (atLeast('6.2')) { %>CONFIG_NEW_THING=y<% } else { %>CONFIG_OLD_THING=y<% } %>\nCONFIG_HOSTNAME=\"<%= opts.name %>\"\n");
  const r = kernelConfigRequest({ version: "6.1.192", features: ["virtio"], fragments: [file, tpl], overrides: ["CONFIG_PRINTK_TIME=y", "TMPFS=n"], opts: { name: "vm" } });
  assert.deepEqual(r.layers.map((l) => l.name), ["base", "arch x86_64", "feature virtio", `file ${file}`, `file ${tpl}`, "command line"]);
  assert.equal(r.requested.get("PRINTK_TIME"), "y");
  assert.equal(r.requested.get("TMPFS"), "n");
  assert.equal(r.requested.get("CMDLINE"), '"quiet"');
  assert.equal(r.requested.get("OLD_THING"), "y");
  assert.equal(r.requested.get("NEW_THING"), undefined);
  assert.equal(r.requested.get("HOSTNAME"), '"vm"');
  assert.equal(kernelConfigRequest({ version: "6.12.117", fragments: [tpl], opts: { name: "x" } }).requested.get("NEW_THING"), "y");
  assert.match(r.fragment, /^# CONFIG_TMPFS is not set$/m);
});

test("the acpi feature adds PCI unless the recipe says pci: false", () => {
  assert.equal(kernelConfigRequest({ version: "6.1", features: ["acpi"] }).requested.get("PCI"), "y");
  assert.equal(kernelConfigRequest({ version: "6.1", features: ["acpi"], opts: { pci: false } }).requested.get("PCI"), undefined);
});

test("malformed overrides are refused", () => {
  assert.throws(() => kernelConfigRequest({ version: "6.1", overrides: ["CONFIG_X=maybe"] }), /CONFIG_X=maybe/);
});

test("verification finds symbols that did not end as requested", () => {
  const requested = new Map([["NET", "y"], ["VIRTIO_NET", "y"], ["TMPFS", "n"], ["CMDLINE", '"quiet"'], ["EXT4_FS", "m"]]);
  const actual = new Map([["NET", "y"], ["CMDLINE", '"quiet"'], ["EXT4_FS", "y"]]);
  assert.deepEqual(droppedSymbols(requested, actual), [{ symbol: "VIRTIO_NET", requested: "y", actual: "is not set", why: [] }]);
  assert.deepEqual(droppedSymbols(new Map([["HZ", "100"]]), new Map([["HZ", "250"]])), [{ symbol: "HZ", requested: "100", actual: "250", why: [] }]);
});

test("a missing, directory or FIFO fragment file is refused (exit 1) before anything reads it", async () => {
  const dir = await tempDir("frag-");
  execFileSync("mkfifo", [join(dir, "fifo.config")]);
  for (const [file, what] of [[join(dir, "gone.config"), "does not exist"], [dir, "is a directory, not a file"], [join(dir, "fifo.config"), "is a FIFO, not a file"]]) {
    assert.throws(() => kernelConfigRequest({ version: "6.1.192", fragments: [file] }), (err: unknown) => {
      assert.ok(err instanceof ConfigFragmentError, file);
      assert.equal(err.exitCode, 1);
      assert.equal(err.summary, `Config fragment ${file} ${what}`);
      assert.match(err.hint, /check the path given with --config/);
      return true;
    });
  }
});

test("an .ejs fragment with an unknown variable or a syntax error names the file and line", async () => {
  const dir = await tempDir("frag-");
  const unknown = join(dir, "u.config.ejs");
  await writeFile(unknown, "CONFIG_A=y\n\nCONFIG_NR_CPUS=<%= nr_cpus %>\n");
  assert.throws(() => kernelConfigRequest({ version: "6.1.192", fragments: [unknown] }), { name: "TemplateError", message: new RegExp(`^Template ${unknown}:3: nr_cpus is not defined`) });
  const syntax = join(dir, "s.config.ejs");
  await writeFile(syntax, "CONFIG_A=y\n<% if (atLeast('6.1') { %>\nCONFIG_B=y\n<% } %>\n");
  assert.throws(() => kernelConfigRequest({ version: "6.1.192", fragments: [syntax] }), { name: "TemplateError", message: new RegExp(`^Template ${syntax}:2: `) });
});

test("the local layer comes after the fragment files and before the command line, only when its file exists", async () => {
  const dir = await tempDir("frag-local-");
  const file = join(dir, "mine.config");
  await writeFile(file, "CONFIG_IKCONFIG=n\n");
  const local = join(dir, "templates", "kernel", "local.config");
  const none = kernelConfigRequest({ version: "6.1.192", features: ["virtio"], fragments: [file], local });
  assert.deepEqual(none.layers.map((l) => l.name), ["base", "arch x86_64", "feature virtio", `file ${file}`]);
  await mkdir(dirname(local), { recursive: true });
  await writeFile(local, "# from menuconfig\nCONFIG_IKCONFIG=y\nCONFIG_HZ_100=y\n");
  const r = kernelConfigRequest({ version: "6.1.192", features: ["virtio"], fragments: [file], local, overrides: ["HZ_100=n"] });
  assert.deepEqual(r.layers.map((l) => l.name), ["base", "arch x86_64", "feature virtio", `file ${file}`, "local", "command line"]);
  assert.equal(r.requested.get("IKCONFIG"), "y");
  assert.equal(r.requested.get("HZ_100"), "n");
  assert.match(r.fragment, /^# microforge kernel config for 6\.1\.192: base → arch x86_64 → feature virtio → file mine\.config → local → command line$/m);
  await writeFile(local, "# nothing yet\n");
  assert.doesNotMatch(kernelConfigRequest({ version: "6.1.192", local }).fragment.split("\n")[0], /local/, "a comment-only layer stays out of the cache key");
});

test("localFragment finds kernel/local.config in the template dirs first, then under ./templates", async () => {
  const dir = await tempDir("frag-find-");
  const [a, b, cwd] = ["a", "b", "cwd"].map((n) => join(dir, n));
  assert.equal(LOCAL_FRAGMENT, "kernel/local.config");
  assert.equal(localFragment([a, b], cwd), undefined);
  await mkdir(join(cwd, "templates", "kernel"), { recursive: true });
  await writeFile(join(cwd, "templates", LOCAL_FRAGMENT), "");
  assert.equal(localFragment([a, b], cwd), join(cwd, "templates", LOCAL_FRAGMENT));
  await mkdir(join(b, "kernel"), { recursive: true });
  await writeFile(join(b, LOCAL_FRAGMENT), "");
  assert.equal(localFragment([a, b], cwd), join(b, LOCAL_FRAGMENT));
});

test("each architecture has its own layer after the base: the console and boot path of its QEMU machine", () => {
  const arm = kernelConfigRequest({ version: "6.1.192", arch: "arm64" });
  assert.equal(arm.layers[1].name, "arch arm64");
  assert.equal(arm.requested.get("SERIAL_AMBA_PL011_CONSOLE"), "y");
  assert.equal(arm.requested.get("PVH"), undefined);
  const rv = (version: string) => kernelConfigRequest({ version, arch: "riscv64" }).requested;
  assert.equal(rv("6.1.192").get("SOC_VIRT"), "y");
  assert.equal(rv("6.12.57").get("ARCH_VIRT"), "y");
  assert.equal(rv("6.12.57").get("FPU"), "y");
  assert.equal(kernelConfigRequest({ version: "6.1.192" }).requested.get("PVH"), "y");
});
