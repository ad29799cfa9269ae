/**
 * A streaming cpio "newc" (SVR4, magic 070701) writer, the format the Linux
 * kernel unpacks as an initramfs (Documentation/driver-api/early-userspace/
 * buffer-format.rst). Device nodes are records, so no root is needed.
 * Entries are sorted by path and inodes numbered in that order, so the same
 * entries always give the same bytes.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { RootfsError } from "../util/errors.ts";

/** Fields every entry has; `path` is relative to the archive root ("bin/sh"). */
interface EntryBase {
  path: string;
  /** Permission bits (e.g. 0o755); the type bits come from `type`. */
  mode?: number;
  uid?: number;
  gid?: number;
}

/** One archive member. A file's bytes come from `data` or from the host file `source`. */
export type CpioEntry =
  | (EntryBase & { type: "dir" })
  | (EntryBase & { type: "file"; data: Uint8Array })
  | (EntryBase & { type: "file"; source: string })
  | (EntryBase & { type: "symlink"; target: string })
  | (EntryBase & { type: "hardlink"; target: string })
  | (EntryBase & { type: "char" | "block"; major: number; minor: number });

/** Archive-wide settings that make the bytes reproducible. */
export interface CpioOptions {
  /** mtime of every entry, seconds since the epoch (default 0). */
  mtime?: number;
  /** Default owner for entries that do not set one (default 0). */
  uid?: number;
  gid?: number;
}

const TYPE_BITS = { dir: 0o040000, file: 0o100000, hardlink: 0o100000, symlink: 0o120000, char: 0o020000, block: 0o060000 };
const DEFAULT_PERM = { dir: 0o755, file: 0o644, hardlink: 0o644, symlink: 0o777, char: 0o600, block: 0o600 };
const encoder = new TextEncoder();

/** Normalize an archive path: strip leading "/" and "./", refuse "..", empty and NUL. */
export function archivePath(path: string): string {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0 || parts.includes("..") || path.includes("\0")) {
    throw new RootfsError(`Invalid path in initramfs: ${JSON.stringify(path)}`, "use a path inside the root, like /etc/motd");
  }
  return parts.join("/");
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RootfsError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** One newc header plus the NUL-terminated, padded name. */
export function newcHeader(
  name: string,
  f: { ino: number; mode: number; uid: number; gid: number; nlink: number; mtime: number; size: number; rmajor?: number; rminor?: number },
): Uint8Array {
  const nameBytes = encoder.encode(name);
  const namesize = nameBytes.length + 1;
  const fields = [f.ino, f.mode, f.uid, f.gid, f.nlink, f.mtime, f.size, 0, 0, f.rmajor ?? 0, f.rminor ?? 0, namesize, 0];
  const head = encoder.encode("070701" + fields.map(hex8).join(""));
  const out = new Uint8Array(head.length + namesize + pad4(head.length + namesize));
  out.set(head, 0);
  out.set(nameBytes, head.length);
  return out;
}

/** Sort entries by path, last one wins for duplicates, and check hard link targets. */
export function normalizeEntries(entries: readonly CpioEntry[]): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) byPath.set(archivePath(e.path), { ...e, path: archivePath(e.path) });
  for (const e of byPath.values()) {
    if (e.type !== "hardlink") continue;
    const target = byPath.get(archivePath(e.target));
    if (!target || target.type !== "file") {
      throw new RootfsError(`Hard link ${e.path} points to ${e.target}, which is not a regular file in the archive`);
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function* fileBytes(source: string, expected: number): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of createReadStream(source)) {
    seen += (chunk as Uint8Array).length;
    yield chunk as Uint8Array;
  }
  if (seen !== expected) throw new RootfsError(`${source} changed size while it was being packed`, "build again");
}

/** One archive record: its header (with name), its body, and the padding after the body. */
export interface CpioRecord {
  path: string;
  header: Uint8Array;
  /** Bytes in memory, or a host file read when the record is written. */
  body?: Uint8Array | { source: string; size: number };
  size: number;
}

/**
 * The records of an archive of `entries`, sorted, trailer last.
 * Hard-linked files share one inode; their data goes with the last name, as GNU cpio writes it.
 */
export async function* cpioRecords(entries: readonly CpioEntry[], options: CpioOptions = {}): AsyncGenerator<CpioRecord> {
  const sorted = normalizeEntries(entries);
  const mtime = options.mtime ?? 0;
  // Group hard links with their target: one inode, nlink = group size.
  const groups = new Map<string, string[]>();
  for (const e of sorted) {
    const key = e.type === "hardlink" ? archivePath(e.target) : e.path;
    if (e.type === "file" || e.type === "hardlink") groups.set(key, [...(groups.get(key) ?? []), e.path]);
  }
  const byPath = new Map(sorted.map((e) => [e.path, e]));
  const inodes = new Map<string, number>();
  let nextIno = 1;
  for (const e of sorted) {
    const key = e.type === "hardlink" ? archivePath(e.target) : e.path;
    if (!inodes.has(key)) inodes.set(key, nextIno++);
    const ino = inodes.get(key)!;
    const group = groups.get(key);
    const nlink = e.type === "dir" ? 2 : group?.length ?? 1;
    // A hard link is another name for its target: same inode, mode and owner.
    const file = e.type === "hardlink" ? byPath.get(key)! : e;
    const owner = { uid: file.uid ?? options.uid ?? 0, gid: file.gid ?? options.gid ?? 0 };
    const mode = TYPE_BITS[file.type] | ((file.mode ?? DEFAULT_PERM[file.type]) & 0o7777);
    const carriesData = !group || group[group.length - 1] === e.path;
    let body: CpioRecord["body"];
    let size = 0;
    if (carriesData && file.type === "file") {
      if ("data" in file) [body, size] = [file.data, file.data.length];
      else {
        size = (await statFile(file.source)).size;
        body = { source: file.source, size };
      }
    } else if (e.type === "symlink") {
      body = encoder.encode(e.target);
      size = body.length;
    }
    const dev = e.type === "char" || e.type === "block" ? { rmajor: e.major, rminor: e.minor } : {};
    yield { path: e.path, header: newcHeader(e.path, { ino, mode, ...owner, nlink, mtime, size, ...dev }), body, size };
  }
  const trailer = newcHeader("TRAILER!!!", { ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, size: 0 });
  yield { path: "TRAILER!!!", header: trailer, size: 0 };
}

/** The bytes of `records`: header, body, padding, in order. */
export async function* recordBytes(records: Iterable<CpioRecord> | AsyncIterable<CpioRecord>): AsyncGenerator<Uint8Array> {
  for await (const r of records) {
    yield r.header;
    if (r.body instanceof Uint8Array) {
      if (r.body.length) yield r.body;
    } else if (r.body) yield* fileBytes(r.body.source, r.body.size);
    if (pad4(r.size)) yield new Uint8Array(pad4(r.size));
  }
}

/** Stream a cpio newc archive of `entries` (sorted, trailer included). */
export function cpioArchive(entries: readonly CpioEntry[], options: CpioOptions = {}): AsyncGenerator<Uint8Array> {
  return recordBytes(cpioRecords(entries, options));
}

async function statFile(source: string) {
  try {
    const st = await stat(source);
    if (!st.isFile()) throw new RootfsError(`${source} is not a regular file`, "pass a file, not a directory or device");
    return st;
  } catch (err) {
    if (err instanceof RootfsError) throw err;
    throw new RootfsError(`Cannot read ${source}: ${(err as Error).message}`, "check the path and its permissions", { cause: err });
  }
}
