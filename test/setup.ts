/**
 * The test suite's host set-up, run by `npm test` before any test: what
 * `microforge doctor --fix` installs, plus what only the tests need (Debian's
 * kernel sources, tmux for the terminal tests, Chromium for the timeline
 * render, cpio and gpg for the format checks). On Debian and Ubuntu it
 * installs the missing ones with apt-get (through sudo when not root),
 * refreshing apt's lists first when they are missing, older than a day, or
 * lack one of the packages. Elsewhere it prints what to install and goes on:
 * the tests that need a missing piece then fail and say so.
 */
import { runDoctor, defaultDoctorDeps } from "../lib/cli/doctor.ts";
import { runProcess } from "../lib/util/process.ts";
import { applyFix, aptNeedsUpdate } from "../lib/host/fix.ts";
import { detectDistro } from "../lib/host/packages.ts";
import { stderrLogger } from "../lib/util/log.ts";

/** Debian packages only the tests need (the doctor's list covers running microforge). */
export const TEST_PACKAGES: readonly string[] = [
  "linux-source-6.1",
  "linux-source-6.12",
  "tmux",
  "libncurses-dev",
  "chromium",
  "cpio",
  "gzip",
  "xz-utils",
  "tar",
  "gnupg",
  "gpgv",
  // Host tools the guest runs: --binary strace, --host-root python3 (node is the one running us).
  "strace",
  "python3",
];

/** The packages of `names` dpkg does not have installed. */
async function notInstalled(names: readonly string[]): Promise<string[]> {
  const r = await runProcess(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n", ...names], { nothrow: true });
  const ok = new Set(r.stdout.split("\n").filter((l) => l.endsWith(" installed")).map((l) => l.split(" ")[0]));
  return names.filter((n) => !ok.has(n));
}

async function main(): Promise<number> {
  // --quiet keeps the doctor's report to problems; what is installed, and why apt-get update runs, is always said.
  const deps = await defaultDoctorDeps();
  const log = stderrLogger();
  // Nothing here may wait for a person: the suite runs in CI with no stdin.
  deps.interactive = false;
  // The arm64 and riscv64 e2e tests cross-build and boot: their compilers, emulators and Debian's arm64 packages too.
  const code = await runDoctor({ fix: true, yes: true, arches: ["arm64", "riscv64"], quiet: process.argv.includes("--quiet") }, deps);
  if (detectDistro(deps.host.osRelease) !== "debian") {
    log.warn(`not Debian or Ubuntu: install these yourself for the full suite: ${TEST_PACKAGES.join(" ")}`);
    return code;
  }
  const packages = await notInstalled(TEST_PACKAGES);
  if (packages.length) {
    log.step(`the tests need ${packages.join(", ")}`);
    await applyFix({ distro: "debian", packages, manual: [] }, { yes: true }, {
      run: runProcess,
      env: process.env,
      isRoot: deps.host.isRoot,
      interactive: false,
      confirm: () => Promise.resolve(true),
      aptNeedsUpdate: (p) => aptNeedsUpdate(runProcess, p),
      logger: log,
    });
  }
  return code;
}

process.exitCode = await main();
