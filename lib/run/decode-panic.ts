/**
 * Turning a guest kernel's panic or oops trace into file:line. With the
 * kernel's source tree we use its own `scripts/decode_stacktrace.sh`; without
 * it, `nm` finds each `func+0xoff/0xsize` frame's function and `addr2line`
 * (with inlined callers) its line. Both need binutils and a vmlinux with
 * debug info (CONFIG_DEBUG_INFO); without them nothing decodes.
 */
import { access } from "node:fs/promises";
import { dirname, join } from "node:path";
import { lineSplitter } from "../util/lines.ts";
import { type Runner, runProcess } from "../util/process.ts";

/** Options of {@linkcode decodePanic}. */
export interface DecodeOptions {
  /** The kernel's vmlinux (the ELF with symbols and, ideally, debug info). */
  vmlinux: string;
  /** The kernel's source tree: its `scripts/decode_stacktrace.sh` is used, and its path is cut from file names. */
  tree?: string;
  /** Runs bash, nm and addr2line (default {@linkcode runProcess}). */
  run?: Runner;
  /** Give up on each tool after this long (default 60 s). */
  timeoutMs?: number;
}

/** One `func+0xoff/0xsize` frame of a trace. */
export interface Frame {
  /** Index of its line in the trace. */
  line: number;
  symbol: string;
  offset: bigint;
  size: bigint;
  /** The module it is in (`[name]` after it), when not in vmlinux. */
  module?: string;
}

/** One function and place `addr2line -f -i` gives for an address (the innermost inlined one first). */
export interface Place {
  func: string;
  /** "file:line", or undefined when there is no debug info for it. */
  where?: string;
}

/** The console's timestamp and caller id ("[    1.234567] ", "[    1.2][    T1] "). */
const STAMP = /^\s*\[\s*\d+\.\d+\](?:\[\s*[A-Z]\d+\])? ?/;

/** `trace` without console timestamps and carriage returns. */
export function stripTimestamps(trace: string): string {
  return trace.split(/\r?\n/).map((l) => l.replace(/\r$/, "").replace(STAMP, "")).join("\n");
}

const FRAME = /(?:^|[\s:])([A-Za-z_.$][\w.$]*)\+(0x[0-9a-f]+)\/(0x[0-9a-f]+)(?:\s+\[([\w-]+)\])?/i;

/** The `func+0xoff/0xsize` frames of a (timestamp-free) trace, one per line at most: Call Trace entries and `RIP: 0010:func+...`. */
export function parseFrames(trace: string): Frame[] {
  const frames: Frame[] = [];
  trace.split("\n").forEach((text, line) => {
    const m = FRAME.exec(text);
    if (!m) return;
    frames.push({ line, symbol: m[1], offset: BigInt(m[2]), size: BigInt(m[3]), ...(m[4] ? { module: m[4] } : {}) });
  });
  return frames;
}

/** Collects from `nm -S` output lines the text symbols named in `wanted`: name → [address, size] of each definition. */
export function nmCollector(wanted: ReadonlySet<string>): { feed(chunk: string): void; end(): Map<string, [bigint, bigint][]> } {
  const found = new Map<string, [bigint, bigint][]>();
  const take = (line: string) => {
    // "ffffffff81a3b0c0 00000000000002e5 T panic"; symbols without a size have three fields.
    const m = /^([0-9a-f]+)\s+(?:([0-9a-f]+)\s+)?[tTwW]\s+(\S+)$/.exec(line.trim());
    if (!m || !wanted.has(m[3])) return;
    const defs = found.get(m[3]) ?? [];
    defs.push([BigInt(`0x${m[1]}`), m[2] ? BigInt(`0x${m[2]}`) : -1n]);
    found.set(m[3], defs);
  };
  const split = lineSplitter(take);
  return {
    feed: (chunk) => split.feed(chunk),
    end() {
      take(split.partial);
      return found;
    },
  };
}

/** The places of each address in `addr2line -a -f -i` output: address → innermost function first. */
export function parseAddr2line(out: string): Map<bigint, Place[]> {
  const places = new Map<bigint, Place[]>();
  let current: Place[] | undefined;
  const lines = out.split("\n").map((l) => l.trim()).filter(Boolean);
  for (let i = 0; i < lines.length; i++) {
    if (/^0x[0-9a-f]+$/i.test(lines[i])) {
      places.set(BigInt(lines[i]), (current = []));
    } else if (current) {
      const where = lines[i + 1] ?? "";
      current.push({ func: lines[i], where: /^\?\?:|:0$|:\?$/.test(where) ? undefined : where.replace(/ \(discriminator \d+\)$/, "") });
      i++;
    }
  }
  return places;
}

const hex = (n: bigint) => `0x${n.toString(16)}`;

/** `path` relative to the first of `roots` it is in. */
function relative(path: string, roots: readonly string[]): string {
  for (const r of roots) if (path.startsWith(`${r}/`)) return path.slice(r.length + 1);
  return path;
}

/** The trace with each frame nm and addr2line can place followed by its file:line; undefined when none can be. */
async function decodeWithBinutils(trace: string, o: DecodeOptions & { run: Runner }): Promise<string | undefined> {
  const frames = parseFrames(trace).filter((f) => !f.module);
  if (!frames.length) return undefined;
  const nm = nmCollector(new Set(frames.map((f) => f.symbol)));
  let streamed = false;
  // A vmlinux's symbol table is megabytes, more than a Runner keeps: read it as it streams.
  const listed = await o.run(["nm", "-S", "--defined-only", o.vmlinux], {
    nothrow: true,
    timeoutMs: o.timeoutMs ?? 60_000,
    onOutput: (chunk, stream) => {
      if (stream !== "stdout") return;
      streamed = true;
      nm.feed(chunk);
    },
  });
  if (listed.code !== 0) return undefined;
  if (!streamed) nm.feed(listed.stdout);
  const symbols = nm.end();
  const address = new Map<Frame, bigint>();
  for (const f of frames) {
    const defs = symbols.get(f.symbol);
    // Static functions can share a name: the frame's size tells them apart.
    const def = defs?.find(([, size]) => size === f.size) ?? defs?.[0];
    if (def) address.set(f, def[0] + f.offset);
  }
  if (!address.size) return undefined;
  const addrs = [...new Set(address.values())];
  const placed = await o.run(["addr2line", "-a", "-f", "-i", "-e", o.vmlinux, ...addrs.map(hex)], { nothrow: true, timeoutMs: o.timeoutMs ?? 60_000 });
  if (placed.code !== 0) return undefined;
  const places = parseAddr2line(placed.stdout);
  const roots = [o.tree, dirname(o.vmlinux)].filter((r): r is string => !!r).map((r) => r.replace(/\/+$/, ""));
  const lines = trace.split("\n");
  let decoded = 0;
  for (const f of frames) {
    const at = address.get(f);
    const chain = at === undefined ? undefined : places.get(at);
    if (!chain?.length || !chain[0].where) continue;
    decoded++;
    const indent = /^\s*/.exec(lines[f.line])![0];
    const base = f.symbol.replace(/\..*$/, "");
    const [inner, ...outer] = chain;
    const named = inner.func !== f.symbol && inner.func !== base ? `${inner.func} ` : "";
    lines[f.line] = `${lines[f.line]} ${named}(${relative(inner.where!, roots)})`;
    const inlinedBy = outer.filter((p) => p.where).map((p) => `${indent}  (inlined by) ${p.func} (${relative(p.where!, roots)})`);
    if (inlinedBy.length) lines[f.line] += `\n${inlinedBy.join("\n")}`;
  }
  return decoded ? lines.join("\n") : undefined;
}

/** The trace as the kernel's decode_stacktrace.sh writes it; undefined when the tree has no script or it decoded nothing. */
async function decodeWithScript(trace: string, o: DecodeOptions & { run: Runner; tree: string }): Promise<string | undefined> {
  const script = join(o.tree, "scripts", "decode_stacktrace.sh");
  if (!(await access(script).then(() => true, () => false))) return undefined;
  // Through bash: an extracted tree may have lost the script's executable bit.
  const out = await o.run(["bash", script, o.vmlinux, o.tree, o.tree], { input: `${trace}\n`, nothrow: true, timeoutMs: o.timeoutMs ?? 60_000 });
  if (out.code !== 0) return undefined;
  const text = out.stdout.replace(/\s+$/, "");
  // The script echoes every line; only a changed one was decoded.
  return text && text !== trace.replace(/\s+$/, "") ? text : undefined;
}

/**
 * Decode a panic or oops `trace` (console timestamps are stripped) to
 * file:line: with `tree`'s decode_stacktrace.sh when it has one, else with
 * nm and addr2line. Resolves to undefined when nothing decodes, the tools are
 * missing or fail: a panic report must never be lost to its decoding.
 */
export async function decodePanic(trace: string, o: DecodeOptions): Promise<string | undefined> {
  const clean = stripTimestamps(trace).replace(/\s+$/, "");
  if (!clean) return undefined;
  const run = o.run ?? runProcess;
  // A tool that cannot start (no bash, no binutils) rejects: try the next way, then give up quietly.
  const byScript = o.tree ? await decodeWithScript(clean, { ...o, run, tree: o.tree }).catch(() => undefined) : undefined;
  return byScript ?? (await decodeWithBinutils(clean, { ...o, run }).catch(() => undefined));
}
