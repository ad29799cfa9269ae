/**
 * Flags that describe a VM, shared by `run` and `emit`, and their mapping
 * to {@linkcode DefaultVmOptions}.
 */
import type { AccelChoice } from "../vm/accel.ts";
import { listFlag } from "./command.ts";
import { suggest } from "../util/suggest.ts";
import { type FlagSpec, type ParsedArgs } from "../util/flags.ts";
import { MicroforgeError, UsageError } from "../util/errors.ts";
import { checkFragmentFile, expandFeatures } from "../kernel/fragments.ts";
import { parseOverride } from "../kernel/dot-config.ts";
import { checkModuleName } from "../kernel/modules.ts";
import { checkModuleSource } from "../kernel/external-module.ts";
import { checkPackageName } from "../sources/debian-deps.ts";
import type { Disk, MachineProps } from "../vm/microvm.ts";
import { checkSpec } from "../sources/version-spec.ts";
import type { ShareOption } from "../vm/prepare.ts";
import type { DefaultVmOptions } from "../recipe/defaults.ts";
import { checkKernelArg, parseCpus, parseHostfwd, parseMemory } from "../vm/values.ts";
import { checkSourceFlag, kernelSourceFlag, lockFlags, lockOptions } from "./source-flags.ts";
import { archArg, archFlag } from "./arch-flag.ts";

/** `--accel`, shared with `rerun`. */
export const accelFlag: FlagSpec = { name: "accel", type: "string", default: "auto", env: "MICROFORGE_ACCEL", description: "auto (KVM when it really works, else TCG), kvm or tcg" };

/** The VM flags. */
export const vmFlags: FlagSpec[] = [
  archFlag,
  { name: "kernel", type: "string", description: "bzImage to boot (default: build the default kernel, cached)" },
  { name: "kernel-version", type: "string", env: "MICROFORGE_KERNEL_VERSION", description: "version spec for the default kernel (default longterm)" },
  kernelSourceFlag,
  { name: "features", type: "strings", description: "kernel features for the default kernel (default virtio,blk,net,9p,console)" },
  { name: "kernel-tree", type: "string", env: "MICROFORGE_KERNEL_TREE", description: "build the kernel from your own source tree (built out of tree, never written to)" },
  { name: "config", type: "strings", description: "a kernel fragment file of your own (.config or .ejs)" },
  { name: "set", type: "strings", description: "one kernel override, CONFIG_X=y|n|m (applied last)" },
  { name: "modules", type: "strings", description: "kernel modules /init loads with modprobe before the command: a,b (switches CONFIG_MODULES on)" },
  { name: "module", type: "strings", description: "an out-of-tree module source DIR (Kbuild or Makefile), built against the kernel and packed; modprobe NAME in the guest" },
  { name: "gdb", type: "string", optional: "1234", description: "QEMU's gdb stub on 127.0.0.1:PORT (default 1234), CPU paused until gdb continues; adds nokaslr" },
  { name: "initrd", type: "string", description: "initramfs to boot (default: microforge's busybox initramfs)" },
  { name: "memory", alias: "m", type: "string", default: "512M", description: "guest memory: 512, 512M, 1G (2G exactly is refused: microvm hangs)" },
  { name: "cpus", type: "string", default: "1", description: "virtual CPUs" },
  accelFlag,
  { name: "append", type: "strings", description: "extra kernel argument" },
  { name: "machine", type: "strings", description: "microvm property NAME=on|off (pit, pic, rtc, isa-serial, acpi, pcie)" },
  { name: "disk", type: "strings", description: "virtio-blk disk image PATH[:ro] (/dev/vda, /dev/vdb, ...)" },
  { name: "net", type: "boolean", description: "user-mode networking (DHCP in the guest; the host is 10.0.2.2)" },
  { name: "hostfwd", type: "strings", description: "forward a host port: HOSTPORT:GUESTPORT or tcp::8080-:80 (implies --net)" },
  { name: "share", type: "strings", description: "share a host directory over 9p: DIR[:GUESTDIR][:ro] (default /mnt/share)" },
  { name: "binary", type: "strings", description: "a host executable to copy into the image at its own path, with its ELF interpreter and shared libraries (strace, gdbserver, a test binary)" },
  { name: "package", type: "strings", description: "a Debian package to unpack into the image, with its dependencies, pinned by sha256 in the lock (maintainer scripts do not run)" },
  { name: "host-root", type: "boolean", description: "the host's / as the guest's root: read-only 9p under a tmpfs overlay (writes stay in the guest), commands run in the current directory; --share DIR is mounted over it read-write" },
  { name: "cwd", type: "string", description: "guest working directory (default: the first share)" },
  { name: "qemu-arg", type: "strings", description: "raw QEMU argument, appended last (write --qemu-arg=-s for words that start with -)" },
  ...lockFlags,
];

const MACHINE_PROPS = ["pit", "pic", "rtc", "isa-serial", "acpi", "pcie"];

function machine(list: string[]): MachineProps | undefined {
  if (!list.length) return undefined;
  const props: Record<string, boolean> = {};
  for (const item of list) {
    const m = /^([a-z-]+)=(on|off)$/.exec(item);
    if (!m || !MACHINE_PROPS.includes(m[1])) throw new UsageError(`Invalid --machine ${item}`, `use NAME=on|off with NAME one of ${MACHINE_PROPS.join(", ")}`);
    props[m[1]] = m[2] === "on";
  }
  return props as MachineProps;
}

function share(spec: string): ShareOption {
  const parts = spec.split(":");
  const readonly = parts[parts.length - 1] === "ro";
  if (readonly) parts.pop();
  const [path, mountpoint] = parts;
  // "a:b:c" or "a:" would otherwise drop a part silently.
  if (!path || parts.length > 2 || mountpoint === "") throw new UsageError(`Invalid --share ${spec}`, "use --share DIR[:GUESTDIR][:ro]");
  return { path, mountpoint, readonly };
}

function disk(spec: string): Disk {
  const readonly = spec.endsWith(":ro");
  const path = readonly ? spec.slice(0, -3) : spec;
  if (!path) throw new UsageError(`Invalid --disk ${JSON.stringify(spec)}`, "use --disk IMAGE[:ro]");
  return { path, readonly };
}

const ACCELS: readonly AccelChoice[] = ["auto", "kvm", "tcg"];

/** Check an `--accel` value. */
export function accelValue(value: string): AccelChoice {
  if ((ACCELS as readonly string[]).includes(value)) return value as AccelChoice;
  const close = suggest(value, ACCELS);
  throw new UsageError(`Unknown accelerator ${JSON.stringify(value)} (--accel)`, `${close ? `did you mean ${close}? Use` : "use"} auto, kvm or tcg`);
}

/** Run a value check on a flag's value; a refused value is a usage error (exit 2) naming the flag. */
function flagValue<T>(flag: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof MicroforgeError && !(err instanceof UsageError)) throw new UsageError(`${err.summary} (--${flag})`, err.hint, { cause: err });
    throw err;
  }
}

/** Where a host-root command starts: our working directory, unless the kernel command line cannot carry it (a space in it): then /. */
function hostCwd(): string | undefined {
  const cwd = process.cwd();
  try {
    checkKernelArg(`microforge.cwd=${cwd}`);
    return cwd;
  } catch {
    return undefined;
  }
}

/** The VM options the flags ask for. */
export function vmOptions(args: ParsedArgs): DefaultVmOptions {
  const hostfwd = args.hostfwd as string[];
  const features = listFlag(args, "features");
  const kernelVersion = args["kernel-version"] as string | undefined;
  // Every value is checked here, before anything slow (a kernel build, a download, the KVM probe) starts.
  if (kernelVersion !== undefined) flagValue("kernel-version", () => checkSpec(kernelVersion, { what: "kernel" }));
  if (features.length) flagValue("features", () => expandFeatures(features));
  if (args.kernel === undefined && args["kernel-tree"] === undefined) checkSourceFlag(args, "kernel-source");
  (args.set as string[]).forEach((s) => flagValue("set", () => parseOverride(s)));
  (args.config as string[]).forEach((f) => flagValue("config", () => checkFragmentFile(f)));
  const modules = listFlag(args, "modules").map(checkModuleName);
  (args.module as string[]).forEach((d) => flagValue("module", () => checkModuleSource(d)));
  const gdb = args.gdb === undefined ? undefined : String(args.gdb);
  if (gdb !== undefined && !(/^\d+$/.test(gdb) && Number(gdb) > 0 && Number(gdb) < 65536)) throw new UsageError(`Invalid --gdb ${JSON.stringify(gdb)}`, "pass a TCP port from 1 to 65535, or --gdb alone for 1234");
  flagValue("memory", () => parseMemory(args.memory as string));
  hostfwd.forEach((f) => flagValue("hostfwd", () => parseHostfwd(f)));
  return {
    arch: archArg(args),
    kernel: args.kernel as string | undefined,
    kernelVersion,
    kernelSource: args["kernel-source"] as string,
    kernelTree: args["kernel-tree"] as string | undefined,
    fragments: args.config as string[],
    overrides: args.set as string[],
    features: features.length ? features : undefined,
    modules,
    moduleDirs: args.module as string[],
    initrd: args.initrd as string | undefined,
    memory: args.memory as string,
    cpus: flagValue("cpus", () => parseCpus(args.cpus as string)),
    accel: accelValue(args.accel as string),
    append: [...(args.append as string[]).map((a) => flagValue("append", () => checkKernelArg(a))), ...(gdb ? ["nokaslr"] : [])],
    machine: machine(args.machine as string[]),
    disks: (args.disk as string[]).map(disk),
    net: hostfwd.length ? { hostfwd } : (args.net as boolean),
    shares: (args.share as string[]).map(share),
    binaries: args.binary as string[],
    packages: listFlag(args, "package").map((p) => flagValue("package", () => checkPackageName(p))),
    hostRoot: args["host-root"] as boolean,
    cwd: (args.cwd as string | undefined) ?? (args["host-root"] && !(args.share as string[]).length ? hostCwd() : undefined),
    extraArgs: [...(gdb ? ["-gdb", `tcp:127.0.0.1:${gdb}`, "-S"] : []), ...(args["qemu-arg"] as string[])],
    lock: lockOptions(args),
  };
}
