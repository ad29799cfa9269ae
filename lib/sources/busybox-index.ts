/**
 * busybox.net's prebuilt binaries: an HTML directory index whose links are
 * version directories ("1.35.0-x86_64-linux-musl/", "1.31.0-defconfig-multiarch-musl/",
 * "1.21.1/"). Only `<a href>` links are read. There are no checksum files,
 * so downloads are trusted on first use and pinned in the lock file.
 */
import { toSemver } from "./kernel-version.ts";

/** Default index; `MICROFORGE_BUSYBOX_URL` overrides it. */
export const BUSYBOX_INDEX_URL = "https://busybox.net/downloads/binaries/";

/** One version directory that can hold an x86_64 static busybox. */
export interface BusyboxBuild {
  version: string;
  semver: string;
  /** Absolute URL of the directory (ends with "/"). */
  dir: string;
  /** "x86_64-linux-musl", "defconfig-multiarch-musl" or "" for bare version directories. */
  variant: string;
}

/** Variants in order of preference; each holds an x86_64 static binary. */
const VARIANTS = ["x86_64-linux-musl", "defconfig-multiarch-musl", ""];

/** The `href` targets of every `<a>` in an HTML page, entity-decoded. */
export function links(html: string): string[] {
  return [...html.matchAll(/<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)]
    .map((m) => (m[1] ?? m[2] ?? m[3]).replaceAll("&amp;", "&"));
}

/** Parse the binaries index at `baseUrl`: one build per version, the preferred variant. */
export function parseBusyboxIndex(html: string, baseUrl: string): BusyboxBuild[] {
  const best = new Map<string, BusyboxBuild>();
  for (const href of links(html)) {
    const m = /^(?:\.\/)?(\d+\.\d+\.\d+)(?:-([A-Za-z0-9_.-]+))?\/$/.exec(href);
    if (!m) continue;
    const variant = m[2] ?? "";
    const rank = VARIANTS.indexOf(variant);
    const sv = toSemver(m[1]);
    if (rank < 0 || !sv) continue;
    const current = best.get(m[1]);
    if (current && VARIANTS.indexOf(current.variant) <= rank) continue;
    best.set(m[1], { version: m[1], semver: sv, dir: new URL(href, baseUrl).href, variant });
  }
  return [...best.values()];
}

/** In a version directory's listing, the x86_64 binary's URL: `busybox` in x86_64 builds, else `busybox-x86_64`. */
export function binaryUrl(build: BusyboxBuild, dirHtml: string): string | undefined {
  const names = links(dirHtml).map((h) => h.replace(/^\.\//, ""));
  const wanted = build.variant === "x86_64-linux-musl" ? ["busybox", "busybox-x86_64"] : ["busybox-x86_64"];
  const name = wanted.find((w) => names.includes(w));
  return name ? new URL(name, build.dir).href : undefined;
}
