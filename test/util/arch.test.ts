import { test } from "node:test";
import assert from "node:assert/strict";
import { ARCHES, archInfo, foreignSuite, hostArch, isCross, parseArch } from "../../lib/util/arch.ts";
import { UsageError } from "../../lib/util/errors.ts";

test("--arch takes the three names and their aliases, and refuses the rest with the list", () => {
  assert.equal(parseArch("aarch64"), "arm64");
  assert.equal(parseArch("AMD64"), "x86_64");
  assert.equal(parseArch("riscv"), "riscv64");
  assert.throws(() => parseArch("mips"), (e: unknown) => e instanceof UsageError && /Unknown architecture "mips"/.test(e.message) && /x86_64, arm64, riscv64/.test(e.hint));
});

test("each architecture is data: ARCH, the cross compiler, the boot image, QEMU, uname -m, Debian's name", () => {
  assert.deepEqual([archInfo("arm64").kernelArch, archInfo("arm64").crossCompile, archInfo("arm64").imagePath], ["arm64", "aarch64-linux-gnu-", "arch/arm64/boot/Image"]);
  assert.deepEqual([archInfo("riscv64").kernelArch, archInfo("riscv64").qemu, archInfo("riscv64").machine], ["riscv", "qemu-system-riscv64", "riscv64"]);
  assert.equal(archInfo("x86_64").imagePath, "arch/x86/boot/bzImage");
  assert.equal(new Set(Object.values(ARCHES).map((a) => a.elfMachine)).size, 3);
  assert.equal(isCross(hostArch()), false);
});

test("riscv64 packages come from Debian 13 on releases without that port; arm64 from the host's own", () => {
  const bookworm = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n';
  assert.equal(foreignSuite("riscv64", bookworm), "trixie");
  assert.equal(foreignSuite("riscv64", "VERSION_CODENAME=trixie\n"), undefined);
  assert.equal(foreignSuite("arm64", bookworm), undefined);
  assert.equal(foreignSuite("riscv64", ""), undefined);
});
