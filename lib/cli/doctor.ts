/**
 * `microforge doctor`: check the host for QEMU, qboot, KVM, the kernel build
 * toolchain and a static busybox; `--fix` installs what is missing.
 */
import type { Command } from "./command.ts";
import type { ParsedArgs } from "../util/flags.ts";
import { doctorJson, formatReport } from "../host/report.ts";
import type { HostDeps } from "../host/checks.ts";
import { hostChecks, hostReady, loadHostDeps, runHostChecks } from "../host/checks.ts";
import { archChecks } from "../host/arch-checks.ts";
import type { Arch } from "../util/arch.ts";
import { archList } from "./arch-flag.ts";
import { applyFix, aptNeedsUpdate, planFix } from "../host/fix.ts";
import { runProcess } from "../util/process.ts";
import { detectDistro } from "../host/packages.ts";
import type { Logger } from "../util/log.ts";
import { stderrLogger } from "../util/log.ts";

/** Flags of `microforge doctor`. */
export interface DoctorOptions {
  /** Guest architectures to check for besides the host's own (cross compilers, emulators, firmware, busybox). */
  arches?: readonly Arch[];
  json?: boolean;
  fix?: boolean;
  yes?: boolean;
  quiet?: boolean;
}

/** Side effects of {@linkcode runDoctor}; tests pass fakes. */
export interface DoctorDeps {
  host: HostDeps;
  stdout(text: string): void;
  stderr(text: string): void;
  logger: Logger;
  /** A person can answer a prompt: stdin is a TTY and CI is not set. */
  interactive: boolean;
  confirm(message: string): Promise<boolean>;
  aptNeedsUpdate(packages: readonly string[]): Promise<string | undefined>;
}

/** Check the host, optionally install what is missing, print the report; resolves to the exit code. */
export async function runDoctor(options: DoctorOptions, deps: DoctorDeps): Promise<number> {
  const distro = detectDistro(deps.host.osRelease);
  // Installing packages does not change KVM, so the re-check reuses the probe (seconds when KVM is broken).
  const probes = new Map<string, ReturnType<HostDeps["probeKvm"]>>();
  const probeKvm = (qemu: string) => probes.get(qemu) ?? probes.set(qemu, deps.host.probeKvm(qemu)).get(qemu)!;
  const host: HostDeps = { ...deps.host, probeKvm };
  const checks = [...hostChecks, ...[...new Set(options.arches ?? [])].flatMap(archChecks)];
  let items = await runHostChecks(host, checks);
  if (options.fix) {
    const plan = planFix(items, distro);
    if (plan.packages.length && !options.json) deps.stdout(formatReport(items, { quiet: true, summary: false }) + "\n");
    const outcome = await applyFix(plan, { yes: options.yes }, {
      run: deps.host.run,
      env: deps.host.env,
      isRoot: deps.host.isRoot,
      interactive: deps.interactive,
      confirm: deps.confirm,
      aptNeedsUpdate: deps.aptNeedsUpdate,
      logger: deps.logger,
      echo: options.json ? deps.stderr : undefined,
    });
    if (outcome === "installed") {
      deps.logger.step("Checking again");
      items = await runHostChecks(host, checks);
    }
  }
  if (options.json) deps.stdout(JSON.stringify(doctorJson(items, distro), null, 2) + "\n");
  else deps.stdout(formatReport(items, { quiet: options.quiet }));
  return hostReady(items) ? 0 : 1;
}

/** The real host, terminal and prompt. */
export async function defaultDoctorDeps(options: DoctorOptions = {}): Promise<DoctorDeps> {
  return {
    host: await loadHostDeps(),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    logger: stderrLogger({ quiet: options.quiet }),
    interactive: Boolean(process.stdin.isTTY) && process.env.CI !== "true",
    // Loaded on first use: Inquirer.js costs ~90 ms of start-up (issue #7).
    confirm: async (message) => (await import("@inquirer/prompts")).confirm({ message, default: true }),
    aptNeedsUpdate: (packages) => aptNeedsUpdate(runProcess, packages),
  };
}

/** `microforge doctor [--json] [--fix [--yes]] [--quiet]`. */
export const doctorCommand: Command = {
  name: "doctor",
  summary: "Check the host for QEMU, qboot, KVM, the kernel toolchain and a static busybox",
  usage: "[--arch A,B] [--json] [--fix [--yes]] [--quiet]",
  flags: [
    { name: "arch", type: "strings", description: "also check what guests of these architectures need: arm64, riscv64 (cross compiler, QEMU, firmware, Debian's busybox-static for it)" },
    { name: "json", type: "boolean", description: "print { ok, items } as JSON for scripts" },
    { name: "fix", type: "boolean", description: "install what is missing (apt-get on Debian/Ubuntu, else print the command)" },
    { name: "yes", alias: "y", type: "boolean", description: "with --fix, install without asking" },
    { name: "quiet", alias: "q", type: "boolean", description: "print only problems" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    const options: DoctorOptions = {
      arches: archList(args),
      json: Boolean(args.json),
      fix: Boolean(args.fix),
      yes: Boolean(args.yes),
      quiet: Boolean(args.quiet),
    };
    return runDoctor(options, await defaultDoctorDeps(options));
  },
};
