/**
 * Configuring a kernel tree: `make allnoconfig KCONFIG_ALLCONFIG=<fragment>`
 * out of tree (O=), then checking that every requested symbol ended as
 * requested. `merge_config.sh` only warns about dropped symbols; we fail.
 * (allnoconfig + fragment gives 471 `=y` on 6.1 where merge_config.sh +
 * olddefconfig gives 586: the minimal-kernel route.)
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseDotConfig } from "./dot-config.ts";
import { type DroppedSymbol, KconfigError } from "../util/errors.ts";
import { type Runner, runProcess } from "../util/process.ts";
import { kconfigReasons } from "./kconfig-deps.ts";
import type { ConfigRequest } from "./fragments.ts";

/** The result of configuring. */
export interface ConfigureResult {
  /** The final `.config` text. */
  config: string;
  /** Requested symbols that did not stick (empty unless `allowDropped`). */
  dropped: DroppedSymbol[];
  /** How many symbols are `=y`. */
  yes: number;
}

/** Options of {@linkcode configureKernel}. */
export interface ConfigureOptions {
  run?: Runner;
  env?: Record<string, string | undefined>;
  /** Keep going when symbols were dropped (they are still reported). */
  allowDropped?: boolean;
}

function unquote(v: string): string {
  return v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/** Requested symbols whose final value differs (an absent symbol counts as "n"). */
export function droppedSymbols(requested: ReadonlyMap<string, string>, actual: ReadonlyMap<string, string>): DroppedSymbol[] {
  const out: DroppedSymbol[] = [];
  for (const [symbol, want] of requested) {
    const got = actual.get(symbol) ?? "n";
    if (unquote(got) === unquote(want)) continue;
    // A module request in a kernel without module support is built in: that is what was meant.
    if (want === "m" && got === "y" && actual.get("MODULES") !== "y") continue;
    out.push({ symbol, requested: want, actual: got === "n" ? "is not set" : got, why: [] });
  }
  return out;
}

/** Run allnoconfig with the request's fragment into `buildDir` and verify the result. */
export async function configureKernel(tree: string, buildDir: string, request: ConfigRequest, options: ConfigureOptions = {}): Promise<ConfigureResult> {
  await mkdir(buildDir, { recursive: true });
  const fragment = join(buildDir, "microforge.fragment");
  await writeFile(fragment, request.fragment);
  await (options.run ?? runProcess)(["make", "-C", tree, `O=${buildDir}`, `KCONFIG_ALLCONFIG=${fragment}`, "allnoconfig"], {
    env: options.env,
    hint: "the kernel's configuration step failed; check the fragment's syntax",
  });
  const config = await readFile(join(buildDir, ".config"), "utf8");
  const actual = parseDotConfig(config);
  const dropped = droppedSymbols(request.requested, actual);
  if (dropped.length) {
    // The explanation is a courtesy: if the Kconfig files cannot be read, still report what was dropped.
    const reasons = await kconfigReasons(tree, dropped.map((d) => d.symbol)).catch(() => new Map<string, string[]>());
    for (const d of dropped) d.why = reasons.get(d.symbol) ?? [];
    if (!options.allowDropped) throw new KconfigError(dropped);
  }
  const yes = [...actual.values()].filter((v) => v === "y").length;
  return { config, dropped, yes };
}
