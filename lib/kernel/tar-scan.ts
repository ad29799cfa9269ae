/**
 * A streaming check of a tar archive, run on the bytes before GNU tar sees
 * them: every header is parsed (ustar, GNU long names, pax) and a member is
 * refused when it could write or point outside the tree (an absolute name, a
 * ".." component, a path through a symlink, a symlink or hard link leaving
 * the tree) or is a device node or FIFO. Anything this scan cannot follow
 * exactly as GNU tar would (a bad header checksum, an unknown member type,
 * data on a member that has none) is refused too: GNU tar skips ahead to the
 * next valid-looking header after such a block, which could be a member this
 * scan never saw.
 */
import { ArchiveFormatError, UnsafeArchiveError } from "../util/errors.ts";

/** Options of {@linkcode TarScanner}. */
export interface TarScanOptions {
  /** The archive's name for messages. */
  archive: string;
  /** Leading components tar will strip (`--strip-components`); members with no more are skipped, as tar does. */
  stripComponents?: number;
}

const BLOCK = 512;
/** Extended headers (long names, pax records) are small; a huge one is an attack on memory. */
const MAX_META = 1 << 20;
const utf8 = new TextDecoder();

/** The C string in `bytes` (up to the first NUL). */
function cstr(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return utf8.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/**
 * Feed a decompressed tar stream chunk by chunk; `push` throws before a
 * chunk holding a refused header is passed on, and returns how many bytes of
 * the chunk belong to the archive (less than all after the end marker).
 */
export class TarScanner {
  /** Members seen (extended headers not counted). */
  members = 0;
  /** True once the end-of-archive block was read. */
  done = false;
  readonly #archive: string;
  readonly #strip: number;
  readonly #header = new Uint8Array(BLOCK);
  #have = 0;
  #skip = 0;
  /** Bytes scanned so far, and where the last header started (for messages). */
  #offset = 0;
  #headerAt = 0;
  #meta?: { type: string; data: Uint8Array; have: number; pad: number };
  #pending: { longName?: string; longLink?: string; pax?: Map<string, string> } = {};
  /** Symlinks extracted so far: path in the tree → name in the archive. */
  readonly #symlinks = new Map<string, string>();

  constructor(options: TarScanOptions) {
    this.#archive = options.archive;
    this.#strip = options.stripComponents ?? 0;
  }

  /** The symlinks seen: path in the extracted tree and name in the archive, for a check after extraction. */
  get symlinks(): { path: string; member: string }[] {
    return [...this.#symlinks].map(([path, member]) => ({ path, member }));
  }

  /** Scan `chunk`; returns the number of its bytes that are part of the archive. */
  push(chunk: Uint8Array): number {
    let at = 0;
    while (at < chunk.length && !this.done) {
      const left = chunk.length - at;
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, left);
        this.#skip -= n;
        at += n;
        this.#offset += n;
      } else if (this.#meta) {
        const m = this.#meta;
        const n = Math.min(m.data.length - m.have, left);
        m.data.set(chunk.subarray(at, at + n), m.have);
        m.have += n;
        at += n;
        this.#offset += n;
        if (m.have === m.data.length) this.#metaDone();
      } else {
        const n = Math.min(BLOCK - this.#have, left);
        this.#header.set(chunk.subarray(at, at + n), this.#have);
        this.#have += n;
        at += n;
        this.#offset += n;
        if (this.#have === BLOCK) {
          this.#have = 0;
          this.#headerAt = this.#offset - BLOCK;
          this.#readHeader(this.#header);
        }
      }
    }
    return at;
  }

  /** The input ended: refuse a stream cut inside a header or member. */
  end(): void {
    if (this.done) return;
    if (this.#have || this.#skip || this.#meta || this.#pending.longName !== undefined || this.#pending.longLink !== undefined || this.#pending.pax) {
      throw new ArchiveFormatError(this.#archive, `truncated at byte ${this.#offset}`);
    }
  }

  #format(detail: string): ArchiveFormatError {
    return new ArchiveFormatError(this.#archive, `${detail} in the header at byte ${this.#headerAt}`);
  }

  #number(block: Uint8Array, at: number, length: number, what: string): number {
    const field = block.subarray(at, at + length);
    if (field[0] & 0x80) {
      // GNU base-256: big-endian, the top bit marks it; 0xff starts a negative number.
      if (field[0] === 0xff) throw this.#format(`negative ${what}`);
      let value = field[0] & 0x7f;
      for (const b of field.subarray(1)) value = value * 256 + b;
      if (!Number.isSafeInteger(value)) throw this.#format(`${what} too large`);
      return value;
    }
    let i = 0;
    while (i < length && field[i] === 0x20) i++;
    if (i === length) throw this.#format(`blank ${what}`);
    let value = 0;
    for (; i < length && field[i] >= 0x30 && field[i] <= 0x37; i++) value = value * 8 + field[i] - 0x30;
    if (i < length && field[i] !== 0 && field[i] !== 0x20) throw this.#format(`invalid ${what}`);
    return value;
  }

  #readHeader(block: Uint8Array): void {
    if (block.every((b) => b === 0)) {
      if (this.#pending.longName !== undefined || this.#pending.longLink !== undefined || this.#pending.pax) throw this.#format("an extended header with no member after it");
      this.done = true;
      return;
    }
    let unsigned = 0;
    let signed = 0;
    for (let i = 0; i < BLOCK; i++) {
      const b = i >= 148 && i < 156 ? 0x20 : block[i];
      unsigned += b;
      signed += b > 127 ? b - 256 : b;
    }
    const recorded = this.#number(block, 148, 8, "checksum");
    if (recorded !== unsigned && recorded !== signed) throw this.#format("header checksum mismatch");
    const type = String.fromCharCode(block[156]);
    const size = this.#number(block, 124, 12, "size");
    if (type === "x" || type === "g" || type === "L" || type === "K") {
      if (size > MAX_META) throw this.#format(`extended header of ${size} bytes`);
      const twice = (type === "x" && this.#pending.pax) || (type === "L" && this.#pending.longName !== undefined) || (type === "K" && this.#pending.longLink !== undefined);
      if (twice) throw this.#format(`two "${type}" extended headers for one member`);
      this.#meta = { type, data: new Uint8Array(size), have: 0, pad: (BLOCK - (size % BLOCK)) % BLOCK };
      if (size === 0) this.#metaDone();
      return;
    }
    this.#member(block, type, size);
  }

  #metaDone(): void {
    const { type, data, pad } = this.#meta!;
    this.#meta = undefined;
    this.#skip = pad;
    if (type === "L") this.#pending.longName = cstr(data);
    else if (type === "K") this.#pending.longLink = cstr(data);
    else {
      const records = this.#pax(data);
      if (type === "x") this.#pending.pax = records;
      else {
        // A global header applies to every member after it; GNU tar would rename them all.
        const key = [...records.keys()].find((k) => k === "path" || k === "linkpath" || k === "size" || k.startsWith("GNU.sparse."));
        if (key) throw new UnsafeArchiveError(this.#archive, "pax global header", `sets "${key}" for every member, which is not supported`);
      }
    }
  }

  /** pax records: "LENGTH KEY=VALUE\n", LENGTH counting the whole record. */
  #pax(data: Uint8Array): Map<string, string> {
    const out = new Map<string, string>();
    for (let at = 0; at < data.length;) {
      const space = data.indexOf(0x20, at);
      const length = space > at ? Number(utf8.decode(data.subarray(at, space))) : NaN;
      if (!Number.isInteger(length) || length <= space - at + 1 || at + length > data.length || data[at + length - 1] !== 0x0a) {
        throw this.#format("malformed pax record");
      }
      const record = utf8.decode(data.subarray(space + 1, at + length - 1));
      const eq = record.indexOf("=");
      if (eq <= 0) throw this.#format("malformed pax record");
      out.set(record.slice(0, eq), record.slice(eq + 1));
      at += length;
    }
    return out;
  }

  #member(block: Uint8Array, type: string, headerSize: number): void {
    const { longName, longLink, pax } = this.#pending;
    this.#pending = {};
    this.members++;
    let headerName = cstr(block.subarray(0, 100));
    // POSIX ustar ("ustar\0"): a prefix field; old GNU ("ustar  \0") keeps other data there.
    const posix = block[257] === 0x75 && cstr(block.subarray(257, 263)) === "ustar" && block[262] === 0;
    const prefix = posix ? cstr(block.subarray(345, 500)) : "";
    if (prefix) headerName = `${prefix}/${headerName}`;
    // GNU tar's precedence: a pax path, else a GNU long name, else the header's.
    const name = pax?.get("path") ?? longName ?? headerName;
    const link = pax?.get("linkpath") ?? longLink ?? cstr(block.subarray(157, 257));
    const refuse = (reason: string) => new UnsafeArchiveError(this.#archive, name, reason);
    for (const candidate of [headerName, longName, pax?.get("path")]) {
      if (candidate === undefined) continue;
      if (candidate.startsWith("/")) throw new UnsafeArchiveError(this.#archive, candidate, "has an absolute path");
      if (candidate.split("/").includes("..")) throw new UnsafeArchiveError(this.#archive, candidate, `has a ".." component in its path`);
    }
    if (!name) throw refuse("has an empty name");
    const sparse = [...(pax?.keys() ?? [])].find((k) => k.startsWith("GNU.sparse."));
    if (sparse) throw refuse(`is a sparse file (${sparse}), which is not supported`);
    const paxSize = pax?.get("size");
    if (paxSize !== undefined && !/^\d+$/.test(paxSize)) throw this.#format(`invalid pax size ${JSON.stringify(paxSize)}`);
    const size = paxSize !== undefined ? Number(paxSize) : headerSize;
    const kind = ({ "0": "file", "\0": "file", "7": "file", "1": "hardlink", "2": "symlink", "5": "dir", "3": "char", "4": "block", "6": "fifo" } as const)[type];
    if (kind === "char" || kind === "block") throw refuse(`is a ${kind === "char" ? "character" : "block"} device node`);
    if (kind === "fifo") throw refuse("is a FIFO");
    if (!kind) throw refuse(`has the member type ${JSON.stringify(type)}, which is not supported`);
    if (size > 0 && (kind !== "file" || name.endsWith("/"))) {
      // GNU tar reads no data for these (a file named "x/" becomes a directory), so it would take that data for headers.
      throw refuse(`is a ${kind === "file" ? "file named like a directory" : kind} with ${size} bytes of data`);
    }
    this.#skip = Math.ceil(size / BLOCK) * BLOCK;

    const parts = this.#inTree(name);
    if (!parts) return; // tar skips members that --strip-components leaves empty
    const path = parts.join("/");
    if (!path && kind !== "dir") throw refuse("names the top of the tree itself");
    this.#throughSymlink(parts, (via) => refuse(`has a path that goes through the symlink ${JSON.stringify(via)}`));
    if (kind === "symlink") {
      if (!link) throw refuse("is a symlink with an empty target");
      if (link.startsWith("/")) throw refuse(`is a symlink to the absolute path ${JSON.stringify(link)}`);
      const stack = parts.slice(0, -1);
      for (const c of link.split("/")) {
        if (c === "" || c === ".") continue;
        if (c !== "..") stack.push(c);
        else if (!stack.length) throw refuse(`is a symlink to ${JSON.stringify(link)}, which points outside the tree`);
        else if (this.#symlinks.has(stack.join("/"))) throw refuse(`is a symlink to ${JSON.stringify(link)}, which goes through the symlink ${JSON.stringify(this.#symlinks.get(stack.join("/")))} and then up`);
        else stack.pop();
      }
      this.#symlinks.set(path, name);
    } else if (kind === "hardlink") {
      if (!link || link.startsWith("/") || link.split("/").includes("..")) throw refuse(`is a hard link to ${JSON.stringify(link)}, outside the tree`);
      const target = this.#inTree(link);
      if (!target?.length) throw refuse(`is a hard link to ${JSON.stringify(link)}, outside the tree`);
      this.#throughSymlink(target, (via) => refuse(`is a hard link to ${JSON.stringify(link)}, through the symlink ${JSON.stringify(via)}`));
    }
  }

  /** The path inside the extracted tree (components, "." dropped), or undefined when tar skips it. */
  #inTree(name: string): string[] | undefined {
    // GNU tar's stripped_prefix_len: runs of "/" are one separator, "." counts as a component.
    const all = name.split("/").filter((c) => c !== "");
    if (this.#strip && all.length <= this.#strip) return undefined;
    return all.slice(this.#strip).filter((c) => c !== ".");
  }

  #throughSymlink(parts: string[], error: (via: string) => Error): void {
    if (!this.#symlinks.size) return;
    for (let i = 1; i < parts.length; i++) {
      const via = this.#symlinks.get(parts.slice(0, i).join("/"));
      if (via !== undefined) throw error(via);
    }
  }
}

/** The command that decompresses a file starting with `head` to stdout, or undefined for a plain tar. */
export function decompressor(head: Uint8Array): string[] | undefined {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return ["xz", "-dc"];
  if (starts(0x1f, 0x8b)) return ["gzip", "-dc"];
  if (starts(0x42, 0x5a, 0x68)) return ["bzip2", "-dc"];
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return ["zstd", "-dcq"];
  return undefined;
}
