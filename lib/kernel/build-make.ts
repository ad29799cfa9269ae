/**
 * Running make in a kernel's kept O= directory: the build itself (with
 * progress and a full log), `modules_install` into a cache entry, and
 * stopping a make that a killed build left running there.
 */
import { createWriteStream } from "node:fs";
import { readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { estimateSteps, recordBuildSteps } from "./build-estimate.ts";
import { makeProgress } from "./make-progress.ts";
import type { Runner } from "../util/process.ts";
import { groupMembers, groupRunning } from "../util/reaper.ts";

/** Where a running make is recorded: a build killed with SIGKILL leaves its make running, and the next build stops it. */
const MAKE_RECORD = ".microforge-make.json";

/** Stop a make that a killed build left running in `buildDir`; returns its pid when there was one. */
export async function stopOrphanMake(buildDir: string): Promise<number | undefined> {
  const record = await readFile(join(buildDir, MAKE_RECORD), "utf8").then(JSON.parse, () => undefined);
  const pid = record?.pid;
  if (typeof pid !== "number") return undefined;
  // Only a group still working in this directory (the pid may have been reused). Its
  // leader may be a zombie already: make dies of SIGPIPE once its output pipe is gone.
  const members = await Promise.all(groupMembers(pid).map(async (p) => {
    const cmdline = await readFile(`/proc/${p}/cmdline`, "utf8").catch(() => "");
    const cwd = await readlink(`/proc/${p}/cwd`).catch(() => "");
    return cmdline.includes(buildDir) || cwd === buildDir || cwd.startsWith(`${buildDir}/`);
  }));
  if (!members.includes(true)) return undefined;
  for (const [signal, waitMs] of [["SIGTERM", 10_000], ["SIGKILL", 5000]] as const) {
    try {
      process.kill(-pid, signal);
    } catch { /* gone */ }
    for (const end = Date.now() + waitMs; groupRunning(pid) && Date.now() < end;) await new Promise((r) => setTimeout(r, 100));
    if (!groupRunning(pid)) break;
  }
  return pid;
}

/** What {@linkcode runMake} needs: the tree, where to build, what to make, and what the progress line estimates from. */
export interface MakeJob {
  tree: string;
  buildDir: string;
  makeVars: readonly string[];
  /** Make targets: `bzImage`, and `modules` when the config has CONFIG_MODULES=y. */
  targets: readonly string[];
  version: string;
  configHash: string;
  yes: number;
  root: string;
  run: Runner;
  env: Record<string, string | undefined>;
  jobs?: number;
  quiet?: boolean;
}

/** Run make for `job.targets` in the build directory with progress and a full log; resolves to the number of steps. */
export async function runMake(job: MakeJob): Promise<number> {
  const jobs = job.jobs ?? availableParallelism();
  const logFile = join(job.buildDir, "build.log");
  // A log from an earlier make means this one is incremental: fewer steps than any full build, so no percentage and no record.
  const incremental = await stat(logFile).then(() => true, () => false);
  const expected = incremental ? undefined : await estimateSteps(job.root, { version: job.version, configHash: job.configHash, yes: job.yes }).catch(() => undefined);
  const progress = makeProgress({ label: `building linux ${job.version} (${jobs} jobs)`, expected, quiet: job.quiet });
  const logStream = createWriteStream(logFile);
  const makeStarted = Date.now();
  let made = false;
  try {
    await job.run(["make", "-C", job.tree, `O=${job.buildDir}`, `-j${jobs}`, ...job.makeVars, ...job.targets], {
      env: job.env,
      hint: `the full log is ${logFile}`,
      onSpawn: (pid) => void writeFile(join(job.buildDir, MAKE_RECORD), JSON.stringify({ pid })).catch(() => undefined),
      onOutput: (chunk, stream) => {
        if (stream === "stdout") progress.feed(chunk);
        logStream.write(chunk);
      },
    });
    made = true;
  } finally {
    progress.done(made);
    await new Promise((done) => logStream.end(done));
    await rm(join(job.buildDir, MAKE_RECORD), { force: true });
  }
  if (!incremental) {
    const seconds = Math.round((Date.now() - makeStarted) / 1000);
    // Only for the next build's percentage: not worth failing this one over.
    await recordBuildSteps(job.root, { version: job.version, configHash: job.configHash, steps: progress.steps, compiled: progress.compiled, yes: job.yes, seconds }).catch(() => undefined);
  }
  return progress.steps;
}

/**
 * `make modules_install`, stripped, with `root` as INSTALL_MOD_PATH. depmod
 * is skipped (DEPMOD=true): the initramfs writes its own modules.dep over
 * the in-tree and out-of-tree modules it packs, so the host needs no kmod.
 */
export async function installModules(job: Pick<MakeJob, "tree" | "buildDir" | "makeVars" | "run" | "env">, root: string, extra: readonly string[] = []): Promise<void> {
  await job.run(["make", "-C", job.tree, `O=${job.buildDir}`, ...job.makeVars, ...extra, `INSTALL_MOD_PATH=${root}`, "INSTALL_MOD_STRIP=1", "DEPMOD=true", "modules_install"], {
    env: job.env,
    hint: "installing the kernel's modules failed; the output above says why",
  });
}
