/**
 * Boot to /init, measured from the host: microforge's default VM (minimal
 * kernel) against Debian's cloud kernel with the same initramfs (its /init
 * runs `true` and reboots) and the same QEMU argv, but machine ACPI on,
 * which that kernel needs. Boots alternate; a boot that does not end within
 * the timeout is a hang. Variants (extra kernel arguments, machine props, an
 * argv rewrite) are data, so an ablation is a list of extra rows.
 *
 *   npm run bench:boot [-- --boots 20 --timeout 15 --quick]
 *   npm run bench:boot -- --ablation [--only nr_uarts,tsc] [--no-distro]
 *
 * `--only` keeps the ablation rows whose names contain one of the words;
 * `--no-distro` leaves out Debian's kernel (ablation rows need only ours).
 */
import { minimist } from "zx";
import { buildInitramfs } from "../lib/initramfs/build.ts";
import { aptPackages, debianFile } from "../lib/sources/debian.ts";
import { MicroforgeError } from "../lib/util/errors.ts";
import { runProcess } from "../lib/util/process.ts";
import type { Logger } from "../lib/util/log.ts";
import type { MachineProps, MicroVM } from "../lib/vm/microvm.ts";
import { defaultInitVars } from "../lib/initramfs/rootfs.ts";
import { isMainModule } from "../lib/util/runtime.ts";
import { defaultKernel } from "../lib/recipe/defaults.ts";
import { prepareVm } from "../lib/vm/prepare.ts";
import { type BenchOptions, ttyProgress, useBenchCache } from "./lib/env.ts";
import { type BootOutcome, bootOnce } from "./lib/boot-once.ts";
import { type BenchResult, formatMs, renderResult, type Row } from "./lib/report.ts";
import { alternate, ratio, summarize } from "./lib/stats.ts";

/** One way to boot: a kernel plus changes to the VM and its argv. */
export interface BootVariant {
  name: string;
  /** "ours": the default microforge kernel; "distro": Debian's cloud kernel (ACPI on). */
  kernel: "ours" | "distro";
  /** Extra kernel arguments. */
  append?: readonly string[];
  /** Kernel arguments to drop: "rtc=off" drops exactly that, "acpi" drops acpi=anything. */
  removeArgs?: readonly string[];
  /** microvm machine properties to set. */
  machine?: MachineProps;
  /** microforge's TCG boot tweaks (lib/fast-boot.ts); default: as prepareVm sets them. */
  fastBoot?: boolean;
  /** A last rewrite of the QEMU argv; `vm` is the variant's VM (for host facts such as `spec.tscKhz`). */
  argv?: (argv: string[], vm: MicroVM) => string[];
  /** An ablation row that adds something to the default (ratio > 1: it helps) rather than removes a default (ratio < 1: keep it). */
  adds?: boolean;
  /** Boot the gzip-compressed initramfs instead of the plain cpio. */
  gzipInitrd?: boolean;
  /** Name of the variant to compare with: this one is "ours" in that row, the other "theirs". */
  compareTo?: string;
}

/**
 * The issue's comparison: our default VM against Debian's cloud kernel as a
 * person would boot it by hand, i.e. without our TCG boot tweaks.
 */
export const DEFAULT_BOOT_VARIANTS: readonly BootVariant[] = [
  // As a scripted run boots it: PVH vmlinux, TCG tweaks, quiet, plain cpio.
  { name: "minimal kernel (ours)", kernel: "ours", append: ["quiet"], compareTo: "debian cloud kernel" },
  { name: "debian cloud kernel", kernel: "distro", fastBoot: false },
];

/** `-kernel .../vmlinux` → the bzImage beside it. */
const bzImage = (argv: string[]) => argv.map((a, i) => (argv[i - 1] === "-kernel" ? a.replace(/vmlinux$/, "bzImage") : a));

/** `argv` without option `name` and its value. */
const dropOption = (argv: string[], name: string) => argv.filter((_, i) => argv[i] !== name && argv[i - 1] !== name);

/** `argv` with the value of option `name` replaced. */
const setOption = (argv: string[], name: string, value: string) => argv.map((a, i) => (argv[i - 1] === name ? value : a));

/** `argv` with `args` added to its kernel command line. */
const appendKernelArgs = (argv: string[], args: readonly string[]) => setOption(argv, "-append", [argv[argv.indexOf("-append") + 1], ...args].join(" "));

/**
 * The fast defaults one at a time: each "without" row is our default VM
 * against the same VM without that one default (ratio < 1: the default
 * helps, keep it); each "adds" row is the default plus one candidate change
 * (ratio > 1: the change helps). `npm run bench -- --only boot`.
 *
 * Tried and left out because they do not boot under TCG (issue 18):
 * `-no-hpet` (microvm has no HPET; QEMU refuses the option), `pit=off`
 * (with noapictimer: "IO-APIC + timer doesn't work" panic; with the APIC
 * timer, even with tsc_early_khz and no_timer_check, its verification fails,
 * there is no tick and `reboot -f` hangs) and `pic=off` (no legacy timer
 * interrupt: hangs in TSC calibration, or at `reboot -f`).
 */
export const ABLATION_VARIANTS: readonly BootVariant[] = ([
  { name: "without PVH (bzImage)", kernel: "ours", append: ["quiet"], argv: bzImage },
  { name: "without noapictimer", kernel: "ours", append: ["quiet"], removeArgs: ["noapictimer"] },
  { name: "without quiet", kernel: "ours" },
  { name: "gzip initramfs", kernel: "ours", append: ["quiet"], gzipInitrd: true },
  // check_timer() waits 4 jiffies (16 ms at HZ=250) to see the PIT tick through the IO-APIC; no_timer_check (machines.ts) skips it.
  { name: "without no_timer_check", kernel: "ours", append: ["quiet"], removeArgs: ["no_timer_check"] },
  { name: "none of them (before)", kernel: "ours", fastBoot: false, gzipInitrd: true, removeArgs: ["no_timer_check"], argv: bzImage },
  // QEMU's own microvm firmware (bios-microvm.bin; Debian links it to the same qboot.rom).
  { name: "adds no -bios (QEMU's microvm firmware)", kernel: "ours", append: ["quiet"], adds: true, argv: (a) => dropOption(a, "-bios") },
  // The 8250 driver registers 4 ports by default; microvm has one.
  { name: "adds 8250.nr_uarts=1", kernel: "ours", append: ["quiet", "8250.nr_uarts=1"], adds: true },
  // The host TSC rate: skips the failing PIT calibration and the delay-loop calibration.
  { name: "adds tsc_early_khz=<host>", kernel: "ours", append: ["quiet"], adds: true, argv: (a, vm) => (vm.spec.tscKhz ? appendKernelArgs(a, [`tsc_early_khz=${vm.spec.tscKhz}`]) : a) },
  // No W^X marking of the kernel image after init (about 1.5 ms in the initcall_debug log).
  { name: "adds rodata=off", kernel: "ours", append: ["quiet", "rodata=off"], adds: true },
  // Less guest memory: fewer struct pages to initialise (the default is 512 MiB).
  { name: "adds -m 128", kernel: "ours", append: ["quiet"], adds: true, argv: (a) => setOption(a, "-m", "128") },
  // No serial output at all from the kernel before /init (quiet still prints warnings).
  { name: "adds loglevel=1", kernel: "ours", append: ["quiet", "loglevel=1"], adds: true },
] as BootVariant[]).map((v) => ({ ...v, name: `ablation: ${v.name}` }));

/** Options of the boot benchmark. */
export interface BootBenchOptions extends BenchOptions {
  /** Boots per variant (default 20; 5 with --quick). */
  boots?: number;
  /** A boot that has not ended after this long is a hang (default 15 s). */
  timeoutMs?: number;
  /** What to boot (default {@linkcode DEFAULT_BOOT_VARIANTS}). */
  variants?: readonly BootVariant[];
  /** Variants added after `variants` (ablation rows). */
  extraVariants?: readonly BootVariant[];
}

const silent: Logger = { step: () => undefined, warn: () => undefined };

/** Debian's cloud kernel (the package `linux-image-cloud-amd64` depends on), downloaded and unpacked once into the cache. */
export async function debianCloudKernel(env: Record<string, string | undefined> = process.env): Promise<{ path: string; name: string; version: string }> {
  const meta = "linux-image-cloud-amd64";
  const deps = await runProcess(["apt-cache", "depends", meta], { env: { ...env, LC_ALL: "C" } });
  const name = /Depends: (linux-image-\S+-cloud-amd64)/.exec(deps.stdout)?.[1];
  if (!name) throw new MicroforgeError(`Cannot find the kernel package ${meta} depends on`, "check `apt-cache depends linux-image-cloud-amd64`; `apt-get update` may help");
  const [pkg] = await aptPackages([name], { env });
  if (!pkg) throw new MicroforgeError(`apt knows no package ${name}`, "run `apt-get update`");
  const path = await debianFile(pkg, `boot/vmlinuz-${name.replace(/^linux-image-/, "")}`, { env, log: silent });
  return { path, name, version: pkg.version };
}

/** Drop the kernel arguments `remove` names from the `-append` value of `argv`. */
export function removeKernelArgs(argv: readonly string[], remove: readonly string[]): string[] {
  const i = argv.indexOf("-append");
  if (i < 0 || !remove.length) return [...argv];
  const drop = (arg: string) => remove.some((r) => arg === r || (!r.includes("=") && arg.startsWith(`${r}=`)));
  const out = [...argv];
  out[i + 1] = argv[i + 1].split(" ").filter((a) => a && !drop(a)).join(" ");
  return out;
}

function variantArgv(base: MicroVM, v: BootVariant): string[] {
  const vm = base.with({
    append: [...(base.spec.append ?? []), ...(v.append ?? [])],
    machine: v.machine ? { ...base.spec.machine, ...v.machine } : base.spec.machine,
    fastBoot: v.fastBoot ?? base.spec.fastBoot,
  });
  const argv = removeKernelArgs(vm.toArgv(), v.removeArgs ?? []);
  return v.argv ? v.argv(argv, vm) : argv;
}

const cmdline = (argv: readonly string[]) => argv[argv.indexOf("-append") + 1] ?? "";

const count = (outcomes: readonly BootOutcome[], f: (o: BootOutcome) => boolean) => outcomes.filter(f).length;

/** Boot every variant `boots` times, alternating, and compare. */
export async function run(opts: BootBenchOptions = {}): Promise<BenchResult> {
  const env = process.env;
  useBenchCache(env);
  const boots = opts.boots ?? opts.rounds ?? (opts.quick ? 5 : 20);
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const progress = opts.progress ?? (() => undefined);
  const variants = [...(opts.variants ?? DEFAULT_BOOT_VARIANTS), ...(opts.extraVariants ?? [])];
  const { banner } = defaultInitVars();
  // Our default VM boots a plain cpio; the gzip one is for the ablation row.
  const initrd = await buildInitramfs({ init: { vars: { command: ["true"] } }, gzip: false, log: silent, env });
  const gzInitrd = variants.some((v) => v.gzipInitrd) ? await buildInitramfs({ init: { vars: { command: ["true"] } }, log: silent, env }) : undefined;
  const kernels: { ours?: MicroVM; distro?: MicroVM } = {};
  let distro: Awaited<ReturnType<typeof debianCloudKernel>> | undefined;
  if (variants.some((v) => v.kernel === "ours")) {
    kernels.ours = await prepareVm({ kernel: await defaultKernel({ log: silent, quiet: true, env }), initrd: initrd.path, log: silent, quiet: true, env });
  }
  if (variants.some((v) => v.kernel === "distro")) {
    progress("boot: fetching Debian's cloud kernel (cached after the first run)");
    distro = await debianCloudKernel(env);
    kernels.distro = await prepareVm({ kernel: distro.path, kernelAcpi: true, memory: 512, initrd: initrd.path, log: silent, quiet: true, env });
  }
  const argvs = Object.fromEntries(variants.map((v) => [v.name, variantArgv(v.gzipInitrd ? kernels[v.kernel]!.with({ initrd: gzInitrd!.path }) : kernels[v.kernel]!, v)]));
  const sides = Object.fromEntries(variants.map((v) => [v.name, () => bootOnce(argvs[v.name], { banner, timeoutMs })]));
  const samples = await alternate(sides, {
    rounds: boots,
    warmup: 1,
    onSample: (name, i, { value: o }) => progress(`boot ${name} ${i + 1}/${boots}: ${o.hung ? "hang" : `/init ${o.initMs?.toFixed(0) ?? "never"} ms, exit ${o.exitMs?.toFixed(0)} ms`}`),
  });
  const stats = Object.fromEntries(variants.map((v) => {
    const outcomes = samples[v.name].map((s) => s.value);
    return [v.name, {
      boots: outcomes.length,
      hangs: count(outcomes, (o) => o.hung),
      noInit: count(outcomes, (o) => o.initMs === undefined),
      badExit: count(outcomes, (o) => !o.hung && o.exitCode !== 0),
      toInit: summarize(outcomes.flatMap((o) => (o.initMs === undefined ? [] : [o.initMs]))),
      wall: summarize(outcomes.flatMap((o) => (o.exitMs === undefined ? [] : [o.exitMs]))),
      guestInitS: summarize(outcomes.flatMap((o) => (o.guestInitS === undefined ? [] : [o.guestInitS]))),
      argv: argvs[v.name],
      lastFailure: outcomes.filter((o) => o.hung || o.exitCode !== 0 || o.initMs === undefined).at(-1)?.tail.split("\n").slice(-5).join("\n"),
    }];
  }));
  const ablation: Row[] = variants.filter((v) => v.name.startsWith("ablation: ") && stats[variants[0].name]).map((v) => {
    const [ours, other] = [stats[variants[0].name], stats[v.name]];
    const r = ratio(ours.toInit.median, other.toInit.median);
    const target = v.adds ? "≥ 1.05× (adopt it)" : "< 1× (keep it)";
    return { benchmark: `boot to /init, default vs ${v.name.slice("ablation: ".length)}`, ours: formatMs(ours.toInit), theirs: formatMs(other.toInit), ratio: r, target, met: v.adds ? r >= 1.05 : r < 1 };
  });
  const rows: Row[] = [...variants.filter((v) => v.compareTo && stats[v.compareTo]).flatMap((v) => {
    const [a, b] = [stats[v.name], stats[v.compareTo!]];
    const label = v === variants[0] && v.compareTo === variants[1]?.name ? "" : `: ${v.name} vs ${v.compareTo}`;
    return [
      { benchmark: `boot to /init${label}`, ours: formatMs(a.toInit), theirs: formatMs(b.toInit), ratio: ratio(a.toInit.median, b.toInit.median), target: "" },
      { benchmark: `boot, wall to QEMU exit${label}`, ours: formatMs(a.wall), theirs: formatMs(b.wall), ratio: ratio(a.wall.median, b.wall.median), target: "" },
      { benchmark: `boot hangs (> ${timeoutMs / 1000} s)${label}`, ours: `${a.hangs}/${a.boots}`, theirs: `${b.hangs}/${b.boots}`, target: "0 (ours)", met: a.hangs === 0 },
    ];
  }), ...ablation];
  const accel = kernels.ours?.spec.accel ?? kernels.distro?.spec.accel;
  const guest = variants.map((v) => `${v.name} ${stats[v.name].guestInitS.n ? `${stats[v.name].guestInitS.median.toFixed(2)} s` : "n/a"}`).join(", ");
  const notes = [
    `${boots} boots per variant, alternating after a warm-up, ${accel?.toUpperCase()}; host time from QEMU spawn to the /init banner and to QEMU's exit (hung boots excluded from times); guest uptime at "Run /init" (median): ${guest}.`,
    ...(distro ? [`Debian kernel: ${distro.name} ${distro.version}, machine ACPI on, -m 512, same initramfs and QEMU argv.`] : []),
    ...variants.map((v) => `${v.name}: kernel arguments \`${cmdline(argvs[v.name])}\`.`),
    ...variants.filter((v) => stats[v.name].hangs).map((v) => `${v.name}: the last hung boot's last console line was \`${stats[v.name].lastFailure?.split("\n").at(-1)?.trim()}\`.`),
    ...variants.filter((v) => stats[v.name].noInit > stats[v.name].hangs || stats[v.name].badExit).map((v) => `${v.name}: ${stats[v.name].noInit} boots never reached /init, ${stats[v.name].badExit} ended with a non-zero QEMU status.`),
  ];
  return {
    name: "boot",
    title: `Boot to /init (${boots} boots each, timeout ${timeoutMs / 1000} s, ${accel?.toUpperCase()})`,
    timestamp: new Date().toISOString(),
    quick: !!opts.quick,
    rows,
    notes,
    data: { boots, timeoutMs, accel, initrd: initrd.path, variants: stats },
  };
}

if (isMainModule(import.meta)) {
  const args = minimist(process.argv.slice(2), { string: ["boots", "timeout", "only"], boolean: ["quick", "ablation", "distro"], default: { distro: true } });
  const only = args.only ? String(args.only).split(",").filter(Boolean) : [];
  const result = await run({
    quick: args.quick,
    boots: args.boots ? Number(args.boots) : undefined,
    variants: args.distro ? undefined : DEFAULT_BOOT_VARIANTS.filter((v) => v.kernel === "ours"),
    extraVariants: args.ablation ? ABLATION_VARIANTS.filter((v) => !only.length || only.some((w) => v.name.includes(w))) : undefined,
    timeoutMs: args.timeout ? Number(args.timeout) * 1000 : undefined,
    progress: ttyProgress(),
  });
  process.stdout.write(renderResult(result));
}
