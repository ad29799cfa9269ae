/**
 * Busybox from busybox.net's prebuilt binaries. They have no checksum files,
 * so a binary no lock file pins needs the user's explicit opt-in
 * (`--allow-unverified`, `MICROFORGE_ALLOW_UNVERIFIED=1`): its sha256 is then
 * trusted on first use, recorded, enforced on later downloads of that URL and
 * pinned in the lock file.
 */
import { BUSYBOX_INDEX_URL, binaryUrl, parseBusyboxIndex, type BusyboxBuild } from "../sources/busybox-index.ts";
import { mirrorHttp } from "./http.ts";
import { type Busybox, type BusyboxDeps, inspectBusybox } from "../sources/busybox-inspect.ts";
import { download } from "./download.ts";
import { fetchText } from "./text.ts";
import { cacheRoot } from "../util/cache-dir.ts";
import { BusyboxError, UnverifiedError } from "../util/errors.ts";
import { unverifiedAllowed } from "../sources/policy.ts";
import { stderrLogger } from "../util/log.ts";
import { resolveSpec } from "../sources/version-spec.ts";

/** {@linkcode BusyboxDeps} plus the opt-in to a binary nobody publishes a checksum for. */
export interface BusyboxNetDeps extends BusyboxDeps {
  /** Use a binary no lock file pins, trusting it on first use (also `MICROFORGE_ALLOW_UNVERIFIED=1`). */
  allowUnverified?: boolean;
}

/** The index URL: `MICROFORGE_BUSYBOX_URL` or busybox.net's. */
export function busyboxIndexUrl(env: Record<string, string | undefined> = process.env): string {
  const url = env.MICROFORGE_BUSYBOX_URL || BUSYBOX_INDEX_URL;
  return url.endsWith("/") ? url : `${url}/`;
}

/** The builds busybox.net offers. */
export async function busyboxNetBuilds(deps: BusyboxDeps = {}): Promise<BusyboxBuild[]> {
  const env = deps.env ?? process.env;
  const url = busyboxIndexUrl(env);
  const html = await fetchText(url, { fetch: deps.fetch, allowHttp: mirrorHttp("MICROFORGE_BUSYBOX_URL", env), connectTimeoutMs: 5000 });
  return parseBusyboxIndex(html, url);
}

/** Resolve `deps.version` on busybox.net and download it (or the pinned `deps.url`). */
export async function busyboxNet(deps: BusyboxNetDeps = {}): Promise<Busybox> {
  const env = deps.env ?? process.env;
  // Without a pinned sha256 there is nothing to check the bytes against: refuse before any request, unless the user opted in.
  if (!deps.expectSha256 && !unverifiedAllowed(deps.allowUnverified, env)) {
    throw new UnverifiedError(
      `Busybox binaries from ${busyboxIndexUrl(env)} have no published checksum, so they cannot be verified`,
      "pass --allow-unverified (or set MICROFORGE_ALLOW_UNVERIFIED=1) to trust one on first use (its sha256 is then pinned in the lock file), or use --busybox-source debian (checked by apt)",
    );
  }
  const allowHttp = mirrorHttp("MICROFORGE_BUSYBOX_URL", env);
  let url = deps.url;
  if (!url) {
    const build = resolveSpec(deps.version ?? "latest", await busyboxNetBuilds(deps), { what: "busybox", from: "busybox.net" });
    const listing = await fetchText(build.dir, { fetch: deps.fetch, allowHttp });
    url = binaryUrl(build, listing);
    if (!url) throw new BusyboxError(`${build.dir} has no x86_64 busybox binary`, "pick another version");
  }
  const log = deps.log ?? stderrLogger({ quiet: deps.quiet });
  const got = await download({ url, sha256: deps.expectSha256, name: `busybox (${url.split("/").slice(-2).join("/")})`, fetch: deps.fetch, log, quiet: deps.quiet, allowHttp, cacheDir: cacheRoot(env) });
  return { ...(await inspectBusybox(got.path, "busybox.net", undefined, env)), url };
}
