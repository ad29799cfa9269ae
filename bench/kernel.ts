/**
 * Kernel build overhead: a cold `buildKernel` (configure + verify + make +
 * copy) against the same `make allnoconfig` + `make -jN bzImage` run by hand
 * on the same extracted tree, in one run; then a cache hit; with --repro a
 * second clean build to compare bzImage sha256 (reproducibility).
 * Target: overhead < 5%, cache hit < 1 s.
 *
 *   npm run bench:kernel [-- --version 6.1 --kernel-source debian --repro]
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { minimist } from "zx";
import { cacheRoot } from "../lib/cache-dir.ts";
import { runCommand } from "../lib/exec.ts";
import { buildKernel, reproducibleEnv } from "../lib/kernel-build.ts";
import { kernelConfigRequest } from "../lib/kernel-fragments.ts";
import { fetchKernel, resolveKernel, sha256File } from "../lib/kernel-source.ts";
import { sourceTree } from "../lib/source-tree.ts";

const args = minimist(process.argv.slice(2), { string: ["version", "kernel-source"], boolean: ["repro"], default: { version: "6.1", "kernel-source": "debian" } });
const env = { ...process.env, MICROFORGE_CACHE: await mkdtemp(join(cacheRoot(), "..", "bench-kernel-")) };
const quiet = { quiet: true, env };
const tarball = await fetchKernel(await resolveKernel(args.version, { source: args["kernel-source"], ...quiet }), quiet);
const tree = await sourceTree(tarball, { env });
const jobs = availableParallelism();
const time = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t = performance.now();
  const r = await fn();
  return [r, (performance.now() - t) / 1000];
};
try {
  const [ours, oursS] = await time(() => buildKernel({ tarball, ...quiet }));
  const handDir = join(env.MICROFORGE_CACHE, "by-hand");
  await mkdir(handDir, { recursive: true });
  const frag = join(handDir, "fragment");
  await writeFile(frag, kernelConfigRequest({ version: tarball.version }).fragment);
  const benv = reproducibleEnv(env);
  const [, handS] = await time(async () => {
    await runCommand(["make", "-C", tree, `O=${handDir}`, `KCONFIG_ALLCONFIG=${frag}`, "allnoconfig"], { env: benv });
    await runCommand(["make", "-C", tree, `O=${handDir}`, `-j${jobs}`, "bzImage"], { env: benv });
  });
  const [, hitS] = await time(() => buildKernel({ tarball, ...quiet }));
  const handSha = await sha256File(join(handDir, "arch/x86/boot/bzImage"));
  console.log(`kernel build, linux ${tarball.version}, ${jobs} jobs`);
  console.log(`  microforge cold   ${oursS.toFixed(1)} s (bzImage ${ours.bzImageSha256.slice(0, 16)})`);
  console.log(`  by hand           ${handS.toFixed(1)} s (bzImage ${handSha.slice(0, 16)})`);
  console.log(`  overhead          ${(((oursS - handS) / handS) * 100).toFixed(1)}% (target < 5%)`);
  console.log(`  cache hit         ${(hitS * 1000).toFixed(0)} ms (target < 1000 ms)`);
  console.log(`  same bytes as by hand: ${handSha === ours.bzImageSha256 ? "yes" : "no (build path differs)"}`);
  if (args.repro) {
    await rm(ours.dir, { recursive: true, force: true });
    const again = await buildKernel({ tarball, ...quiet });
    console.log(`  reproducible: second clean build ${again.bzImageSha256 === ours.bzImageSha256 ? "has the same" : "DIFFERS in"} bzImage sha256 (${again.bzImageSha256.slice(0, 16)})`);
  }
} finally {
  await rm(env.MICROFORGE_CACHE, { recursive: true, force: true });
}
