/**
 * Busybox from busybox.net's prebuilt binaries. They have no checksum files:
 * the sha256 is trusted on first use and pinned in the lock file.
 */
import { BUSYBOX_INDEX_URL, binaryUrl, parseBusyboxIndex, type BusyboxBuild } from "./busybox-index.ts";
import { type Busybox, type BusyboxDeps, inspectBusybox } from "./busybox-inspect.ts";
import { download } from "./download.ts";
import { fetchText } from "./fetch-text.ts";
import { cacheRoot } from "./cache-dir.ts";
import { MicroforgeError } from "./errors.ts";
import { stderrLogger } from "./log.ts";
import { resolveSpec } from "./version-spec.ts";

/** The index URL: `MICROFORGE_BUSYBOX_URL` or busybox.net's. */
export function busyboxIndexUrl(env: Record<string, string | undefined> = process.env): string {
  const url = env.MICROFORGE_BUSYBOX_URL || BUSYBOX_INDEX_URL;
  return url.endsWith("/") ? url : `${url}/`;
}

/** The builds busybox.net offers. */
export async function busyboxNetBuilds(deps: BusyboxDeps = {}): Promise<BusyboxBuild[]> {
  const env = deps.env ?? process.env;
  const url = busyboxIndexUrl(env);
  const html = await fetchText(url, { fetch: deps.fetch, allowHttp: url.startsWith("http://") && !!env.MICROFORGE_BUSYBOX_URL, connectTimeoutMs: 5000 });
  return parseBusyboxIndex(html, url);
}

/** Resolve `deps.version` on busybox.net and download it (or the pinned `deps.url`). */
export async function busyboxNet(deps: BusyboxDeps = {}): Promise<Busybox> {
  const env = deps.env ?? process.env;
  const allowHttp = !!env.MICROFORGE_BUSYBOX_URL && busyboxIndexUrl(env).startsWith("http://");
  let url = deps.url;
  if (!url) {
    const build = resolveSpec(deps.version ?? "latest", await busyboxNetBuilds(deps), { what: "busybox", from: "busybox.net" });
    const listing = await fetchText(build.dir, { fetch: deps.fetch, allowHttp });
    url = binaryUrl(build, listing);
    if (!url) throw new MicroforgeError(`${build.dir} has no x86_64 busybox binary`, "pick another version");
  }
  const log = deps.log ?? stderrLogger({ quiet: deps.quiet });
  const got = await download({ url, sha256: deps.expectSha256, name: `busybox (${url.split("/").slice(-2).join("/")})`, fetch: deps.fetch, log, quiet: deps.quiet, allowHttp, cacheDir: cacheRoot(env) });
  return { ...(await inspectBusybox(got.path, "busybox.net")), url };
}
