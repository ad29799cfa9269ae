/**
 * Kernel version strings are not semver: "6.6" is a first release, "6.7-rc2"
 * a mainline prerelease. They are coerced consistently ("6.6" → "6.6.0",
 * "6.7-rc2" → "6.7.0-rc2") for comparison, and the original string is what
 * users see.
 */
import semver from "semver";

/** The semver form of a kernel or busybox version, or undefined when it has none ("next-20231122"). */
export function toSemver(version: string): string | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:-(rc\d+))?$/.exec(version);
  if (!m) return undefined;
  const v = `${m[1]}.${m[2]}.${m[3] ?? 0}${m[4] ? `-${m[4]}` : ""}`;
  return semver.valid(v) ?? undefined;
}
