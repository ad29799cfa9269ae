/**
 * `microforge cache ls|clean`: what the cache holds and removing old entries.
 * Layout (under the cache root): blobs/sha256/<hex> (downloads, by content),
 * urls/ (which URL gave which blob), src/<sha256>/ (extracted source trees),
 * kernels/<key>/ (built kernels), build/<key>/ (their kept O= directories, for
 * incremental rebuilds), debian/ (files from Debian packages), initramfs/,
 * gzip-members/, host/, memo/ (answers kept until a file changes), plans/
 * (the warm start's argv per command line), snapshots/ (the saved VMs of
 * `run --snapshot`), tmp/. Temp files of killed
 * processes go on every clean.
 */
import { readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "./command.ts";
import type { ParsedArgs } from "../util/flags.ts";
import { cacheRoot, isOrphanTemp, tempPathFor } from "../util/cache-dir.ts";
import { UsageError } from "../util/errors.ts";
import { runProcess } from "../util/process.ts";

/** One cache entry. */
interface Entry {
  area: string;
  name: string;
  path: string;
  bytes: number;
  mtimeMs: number;
}

const AREAS = ["blobs/sha256", "src", "kernels", "build", "debian", "initramfs", "gzip-members", "busybox", "host", "memo", "plans", "snapshots", "tmp"];

/** Parse "30d", "12h", "45m" into milliseconds. */
export function parseAge(text: string): number {
  const m = /^(\d+)([dhm])$/.exec(text);
  if (!m) throw new UsageError(`Invalid age ${text}`, "use a number and a unit: 30d, 12h or 45m");
  return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as "d" | "h" | "m"];
}

async function diskUsage(path: string): Promise<number> {
  const r = await runProcess(["du", "-sb", path], { nothrow: true });
  return Number(r.stdout.split("\t")[0]) || 0;
}

async function urlNames(root: string): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const f of await readdir(join(root, "urls")).catch(() => [] as string[])) {
    const rec = await readFile(join(root, "urls", f), "utf8").then(JSON.parse, () => undefined);
    if (rec?.sha256 && rec.url) names.set(rec.sha256, rec.url);
  }
  return names;
}

/** Every entry of the cache at `root`. */
export async function cacheEntries(root: string): Promise<Entry[]> {
  const names = await urlNames(root);
  const entries: Entry[] = [];
  for (const area of AREAS) {
    for (const name of await readdir(join(root, area)).catch(() => [] as string[])) {
      const path = join(root, area, name);
      const st = await stat(path).catch(() => undefined);
      if (!st) continue; // removed while we listed
      const label = area === "blobs/sha256" && names.has(name) ? `${name.slice(0, 12)}… ${names.get(name)}` : name;
      entries.push({ area: area.split("/")[0], name: label, path, bytes: st.isDirectory() ? await diskUsage(path) : st.size, mtimeMs: st.mtimeMs });
    }
  }
  return entries;
}

/** Remove an entry so that it is never seen half-deleted: renamed to a temp name first (one step), then removed. */
async function removeEntry(path: string): Promise<void> {
  const aside = tempPathFor(path);
  const moved = await rename(path, aside).then(() => true, () => false);
  await rm(moved ? aside : path, { recursive: true, force: true });
}

function human(bytes: number): string {
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (bytes >= 1000 && i < units.length - 1) [bytes, i] = [bytes / 1000, i + 1];
  return `${bytes.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** The `cache` subcommand. */
export const cacheCommand: Command = {
  name: "cache",
  summary: "List the cache (ls) or remove entries (clean --older-than AGE | --all)",
  usage: "ls|clean [--older-than 30d] [--all] [--json]",
  flags: [
    { name: "older-than", type: "string", description: "clean: entries last written more than AGE ago (30d, 12h, 45m)" },
    { name: "all", type: "boolean", description: "clean: everything" },
    { name: "dry-run", alias: "n", type: "boolean", description: "clean: only say what would go" },
    { name: "json", type: "boolean", description: "ls: print JSON" },
  ],
  async run(args: ParsedArgs): Promise<number> {
    const root = cacheRoot();
    const action = args._[0];
    if (action === "ls") {
      const entries = await cacheEntries(root);
      if (args.json) {
        process.stdout.write(JSON.stringify({ root, entries }, null, 2) + "\n");
        return 0;
      }
      process.stdout.write(`${root}\n`);
      for (const e of entries) {
        const age = Math.round((Date.now() - e.mtimeMs) / 86_400_000);
        process.stdout.write(`  ${e.area.padEnd(13)} ${human(e.bytes).padStart(9)}  ${String(age).padStart(3)}d  ${e.name}\n`);
      }
      process.stdout.write(`  total ${human(entries.reduce((s, e) => s + e.bytes, 0))}\n`);
      return 0;
    }
    if (action === "clean") {
      if (!args.all && !args["older-than"]) throw new UsageError("cache clean needs --older-than AGE or --all", "e.g. `microforge cache clean --older-than 30d`");
      const cutoff = args.all ? Infinity : Date.now() - parseAge(args["older-than"] as string);
      // Leftovers of killed processes go whatever their age.
      const gone = (await cacheEntries(root)).filter((e) => args.all || e.mtimeMs < cutoff || isOrphanTemp(e.path));
      for (const e of gone) {
        if (!args["dry-run"]) await removeEntry(e.path);
        process.stdout.write(`${args["dry-run"] ? "would remove" : "removed"} ${e.area}/${e.name} (${human(e.bytes)})\n`);
      }
      process.stdout.write(`${gone.length} entries, ${human(gone.reduce((s, e) => s + e.bytes, 0))}\n`);
      return 0;
    }
    throw new UsageError(`microforge cache needs ls or clean${action ? `, not ${JSON.stringify(action)}` : ""}`, "see `microforge cache --help`");
  },
};
