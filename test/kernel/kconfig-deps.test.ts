import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { kconfigReasons, NOT_DEFINED } from "../../lib/kernel/kconfig-deps.ts";
import { MicroforgeError } from "../../lib/util/errors.ts";
import { tempDir } from "../helpers.ts";

/** A small tree that uses each construct kconfigReasons reads. */
const files: Record<string, string> = {
  "Kconfig": `mainmenu "Test $(ARCH)"
source "init/Kconfig"
menu "Drivers"
	depends on HAS_IOMEM
	visible if EXPERT
if BUS
source "drivers/Kconfig"
endif # BUS
endmenu
source "arch/$(SRCARCH)/Kconfig"
`,
  "init/Kconfig": `config BUS
	bool "Bus support"
	help
	  Help text is not parsed, even lines that look like Kconfig:
	  if BOGUS
	  config FAKE_FROM_HELP

	    depends on NOTHING
config HAS_IOMEM
	def_bool y

config EXPERT
	bool "Expert"

choice
	prompt "Timer frequency"
	depends on BUS
config HZ_100
	bool "100 HZ"
config HZ_250
	bool "250 HZ"
endchoice

comment "A comment with a condition"
	depends on COMMENT_DEP
`,
  "drivers/Kconfig": `menuconfig VMENU
	bool "Virtual drivers"

if VMENU
config VIRT
	tristate
	select ANCHOR

config VIRT_MMIO
	tristate "MMIO # not a comment" if EXPERT # a comment with a "quote
	depends on HAS_IOMEM && \\
		BUS
	select VIRT
	---help---
	  depends on BOGUS
endif # VMENU

config VIRT_NET
	tristate "Virtual network"
	depends on VIRT

config ANCHOR
	bool

config LONELY
	bool
`,
  "arch/x86/Kconfig": `config X86
	def_bool y
	select VIRT if BUS
`,
  "arch/arm64/Kconfig": `config ARM_ONLY
	bool "Only on arm64"
`,
};

async function syntheticTree(): Promise<string> {
  const dir = await tempDir("kconfig-");
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

const outer = ["inside if BUS", 'in menu "Drivers" which depends on HAS_IOMEM and is visible if EXPERT'];

test("depends, prompt condition and enclosing if/menu blocks, including those around the source line", async () => {
  const r = await kconfigReasons(await syntheticTree(), ["VIRT_MMIO", "CONFIG_VIRT_NET", "VMENU"]);
  assert.deepEqual([...r.keys()], ["VIRT_MMIO", "CONFIG_VIRT_NET", "VMENU"]);
  assert.deepEqual(r.get("VIRT_MMIO"), ["depends on HAS_IOMEM && BUS", "its prompt is only shown if EXPERT", "inside if VMENU", ...outer]);
  assert.deepEqual(r.get("CONFIG_VIRT_NET"), ["depends on VIRT", ...outer, "VIRT has no prompt: it is selected by VIRT_MMIO, X86 (if BUS)"]);
  assert.deepEqual(r.get("VMENU"), outer);
});

test("a symbol without a prompt says so and lists what selects it", async () => {
  const tree = await syntheticTree();
  const r = await kconfigReasons(tree, ["VIRT", "ANCHOR", "LONELY", "HAS_IOMEM"]);
  assert.deepEqual(r.get("VIRT"), [
    "has no prompt: it can only be selected by another option",
    "selected by VIRT_MMIO, X86 (if BUS)",
    "inside if VMENU",
    ...outer,
  ]);
  assert.deepEqual(r.get("ANCHOR"), ["has no prompt: it can only be selected by another option", "selected by VIRT", ...outer]);
  assert.deepEqual(r.get("LONELY"), ["has no prompt and nothing selects it: its value comes from no default (always n)", ...outer]);
  assert.deepEqual(r.get("HAS_IOMEM"), ["has no prompt and nothing selects it: its value comes from def_bool y"]);
  const few = await kconfigReasons(tree, ["VIRT"], { maxSelectors: 1 });
  assert.equal(few.get("VIRT")![1], "selected by VIRT_MMIO and 1 more");
});

test("a choice member names its choice and the choice's condition", async () => {
  const r = await kconfigReasons(await syntheticTree(), ["HZ_100"]);
  assert.deepEqual(r.get("HZ_100"), ['one option of the choice "Timer frequency" (only one option can be y), which depends on BUS']);
});

test("unknown symbols, help-text look-alikes and other architectures' symbols are not defined", async () => {
  const tree = await syntheticTree();
  const r = await kconfigReasons(tree, ["VIRT_MMMIO", "FAKE_FROM_HELP", "ARM_ONLY", "BUS", "COMMENT_DEP"]);
  assert.deepEqual(r.get("VIRT_MMMIO"), ["not defined in this kernel's Kconfig files (misspelled, or renamed in this version?)"]);
  assert.deepEqual(r.get("FAKE_FROM_HELP"), [NOT_DEFINED]);
  assert.deepEqual(r.get("ARM_ONLY"), [NOT_DEFINED]);
  assert.deepEqual(r.get("BUS"), [], "help text and the comment's depends add nothing");
  assert.deepEqual(r.get("COMMENT_DEP"), [NOT_DEFINED]);
  const arm = await kconfigReasons(tree, ["ARM_ONLY", "X86", "VIRT"], { arch: "arm64" });
  assert.deepEqual(arm.get("ARM_ONLY"), []);
  assert.deepEqual(arm.get("X86"), [NOT_DEFINED]);
  assert.equal(arm.get("VIRT")![1], "selected by VIRT_MMIO");
});

test("a directory without a top-level Kconfig is an error that says so", async () => {
  const dir = await tempDir("kconfig-");
  await assert.rejects(kconfigReasons(dir, ["NET"]), (err: Error) => {
    assert.ok(err instanceof MicroforgeError);
    assert.match(err.message, /Cannot read .*Kconfig/);
    assert.match(err.message, /extracted kernel source tree/);
    return true;
  });
});

const realTree = process.env.MICROFORGE_TEST_KERNEL_TREE;
const noRealTree = !realTree
  ? "set MICROFORGE_TEST_KERNEL_TREE to an extracted Linux 6.1 tree"
  : !existsSync(join(realTree, "Kconfig")) && `no Kconfig in MICROFORGE_TEST_KERNEL_TREE=${realTree}`;

test("the real 6.1 tree explains the virtio, 9p and x86 facts in FACTS.md, in under 2 s", { skip: noRealTree }, async () => {
  const start = performance.now();
  const r = await kconfigReasons(realTree!, ["VIRTIO_NET", "VIRTIO_MMIO", "VIRTIO_MMIO_CMDLINE_DEVICES", "VIRTIO_BLK", "VIRTIO", "9P_FS", "NET_9P", "INET", "NETDEVICES", "X86_MPPARSE", "HZ_100", "VIRTIO_NETT", "ARM64_VA_BITS_48"]);
  const ms = performance.now() - start;
  assert.ok(ms < 2000, `scan took ${ms.toFixed(0)} ms`);
  const has = (sym: string, ...lines: string[]) => {
    for (const l of lines) assert.ok(r.get(sym)!.includes(l), `${sym}: expected ${JSON.stringify(l)} in ${JSON.stringify(r.get(sym))}`);
  };
  // VIRTIO_NET and VIRTIO_BLK are not inside `if VIRTIO_MENU` themselves: they depend on VIRTIO, which only VIRTIO_MMIO & co. (inside it) select.
  has("VIRTIO_NET", "depends on VIRTIO", "inside if NET_CORE", "inside if NETDEVICES");
  assert.match(r.get("VIRTIO_NET")!.at(-1)!, /^VIRTIO has no prompt: it is selected by .*VIRTIO_MMIO/);
  has("VIRTIO_MMIO", "depends on HAS_IOMEM && HAS_DMA", "inside if VIRTIO_MENU");
  has("VIRTIO_MMIO_CMDLINE_DEVICES", "depends on VIRTIO_MMIO", "inside if VIRTIO_MENU");
  has("VIRTIO_BLK", "depends on VIRTIO", "inside if BLK_DEV");
  has("VIRTIO", "has no prompt: it can only be selected by another option");
  has("9P_FS", "depends on INET && NET_9P", "inside if NETWORK_FILESYSTEMS");
  has("NET_9P", "inside if NET");
  has("INET", "inside if NET");
  has("NETDEVICES", "depends on NET");
  has("X86_MPPARSE", "its prompt is only shown if ACPI");
  has("HZ_100", 'one option of the choice "Timer frequency" (only one option can be y)');
  assert.deepEqual(r.get("VIRTIO_NETT"), [NOT_DEFINED]);
  assert.deepEqual(r.get("ARM64_VA_BITS_48"), [NOT_DEFINED], "arch/arm64 is skipped on x86");
});
