/**
 * What the host needs to build and boot a guest of another architecture:
 * the cross compiler, QEMU's system emulator for it, its firmware, and a
 * busybox for it from Debian (multiarch; riscv64 comes from Debian 13 when
 * the host's release has none, see sources/apt-root.ts). `doctor --arch`
 * adds these checks, and `--fix` installs or enables what is missing.
 */
import { type Arch, archInfo, foreignSuite, isCross } from "../util/arch.ts";
import { type CheckContext, type HostCheck, tool } from "./checks.ts";
import { qemuDataDirs } from "./qemu.ts";

/** QEMU's default firmware for riscv64's virt machine (`-bios default`), which qemu-system-data ships. */
export const OPENSBI = "opensbi-riscv64-generic-fw_dynamic.bin";

const opensbiCheck: HostCheck = {
  id: "opensbi", label: "OpenSBI firmware (riscv64)", required: true, what: "QEMU's OpenSBI firmware for riscv64", packages: { debian: ["qemu-system-data"] },
  async check(ctx) {
    const qemu = await ctx.find(archInfo("riscv64").qemu);
    const dirs = await qemuDataDirs(qemu, { run: ctx.run, fileExists: ctx.fileExists, env: ctx.env });
    for (const dir of dirs) if (await ctx.fileExists(`${dir}/${OPENSBI}`)) return { status: "ok", detail: `${dir}/${OPENSBI}` };
    return { status: "missing", detail: `${OPENSBI} is in none of ${dirs.join(", ")}` };
  },
};

/** Debian's busybox-static for `arch`: apt must know the architecture (dpkg --add-architecture), or reach Debian 13 for riscv64. */
function busyboxCheck(arch: Arch): HostCheck {
  const debian = archInfo(arch).debian;
  return {
    id: `busybox-${arch}`, label: `busybox-static:${debian}`, required: true, what: `Debian's busybox-static for ${arch}`, packages: {},
    async check(ctx: CheckContext) {
      const suite = foreignSuite(arch, ctx.osRelease ?? "");
      if (suite) return { status: "ok", detail: `from Debian ${suite} (this release has no ${debian}), through microforge's own apt configuration in its cache` };
      const foreign = await ctx.run(["dpkg", "--print-foreign-architectures"], { nothrow: true });
      if (!foreign.stdout.split("\n").includes(debian)) {
        return { status: "missing", detail: `dpkg does not know the architecture ${debian}`, hint: `dpkg --add-architecture ${debian} && apt-get update (as root)`, architecture: debian };
      }
      const known = await ctx.run(["apt-cache", "show", "--no-all-versions", `busybox-static:${debian}`], { nothrow: true, env: { ...ctx.env, LC_ALL: "C" } });
      if (!/^Version: /m.test(known.stdout)) return { status: "missing", detail: `apt's lists have no busybox-static:${debian}`, hint: "apt-get update (as root)", architecture: debian };
      return { status: "ok", detail: `busybox-static:${debian} ${/^Version: (.+)$/m.exec(known.stdout)![1]}` };
    },
  };
}

/** The checks for guests of `arch` on this host (none beyond the usual for the host's own). */
export function archChecks(arch: Arch): HostCheck[] {
  if (!isCross(arch)) return [];
  const a = archInfo(arch);
  return [
    tool(`${a.crossCompile}gcc`, `the ${arch} cross compiler`, { debian: [a.crossPackage] }),
    tool(a.qemu, `QEMU for ${arch}`, { debian: [a.qemuPackage] }),
    ...(arch === "riscv64" ? [opensbiCheck] : []),
    busyboxCheck(arch),
  ];
}
