/**
 * What the user allows beyond the verified defaults: bytes nobody publishes
 * a checksum for (busybox.net binaries, mainline snapshots).
 */

/** The user's opt-in to bytes nobody publishes a checksum for: the option, or `MICROFORGE_ALLOW_UNVERIFIED=1`. */
export function unverifiedAllowed(option: boolean | undefined, env: Record<string, string | undefined> = process.env): boolean {
  return option === true || /^(1|true|yes)$/i.test(env.MICROFORGE_ALLOW_UNVERIFIED ?? "");
}
