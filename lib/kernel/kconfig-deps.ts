/**
 * Why a Kconfig symbol may not stick: read the kernel tree's Kconfig files the
 * way Kconfig does, from the top `Kconfig` following `source` lines (so only
 * the chosen architecture's files count, and a sourced file inherits the
 * `if`/`menu` blocks around its `source` line), then describe each symbol's
 * `depends on`, enclosing `if`/`menu`/`choice` blocks, and, for a symbol
 * without a prompt, what selects it. Syntax: Documentation/kbuild/kconfig-language.rst.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { KernelTreeError } from "../util/errors.ts";

/** Options of {@linkcode kconfigReasons}. */
export interface KconfigReasonsOptions {
  /** `$(SRCARCH)` in `source` paths; default "x86". */
  arch?: string;
  /** Most selecting symbols to list before "and N more"; default 8. */
  maxSelectors?: number;
}

/** What `kconfigReasons` says about a symbol no Kconfig file defines. */
export const NOT_DEFINED = "not defined in this kernel's Kconfig files (misspelled, or renamed in this version?)";

type Frame =
  | { kind: "if"; expr: string }
  | { kind: "menu" | "choice"; title: string; depends: string[]; visible: string[] };

interface Entry {
  name: string;
  prompt: boolean;
  promptIf: string[];
  depends: string[];
  defaults: string[];
  selects: { target: string; cond: string }[];
}

type Item = { entry: Entry; frames: Frame[] } | { source: string; frames: Frame[] };

interface Def {
  entry: Entry;
  frames: Frame[];
}

const quoted = (s: string) => /^"((?:[^"\\]|\\.)*)"/.exec(s)?.[1] ?? /^'([^']*)'/.exec(s)?.[1];

/** Drop a `#` comment that is not inside quotes. */
function stripComment(line: string): string {
  let q = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === "\\") i++;
      else if (c === q) q = "";
    } else if (c === '"' || c === "'") q = c;
    else if (c === "#") return line.slice(0, i);
  }
  return line;
}

const indentOf = (line: string) => {
  let ts = 0;
  for (const c of line) {
    if (c === "\t") ts = (ts & ~7) + 8;
    else if (c === " ") ts++;
    else break;
  }
  return ts;
};

/** Split `"prompt" if EXPR` (after a type keyword or `prompt`) into whether there is a prompt and its condition. */
function promptOf(rest: string): { prompt: boolean; cond?: string } {
  const text = quoted(rest);
  if (text === undefined) return { prompt: false };
  const after = rest.slice(text.length + 2).trim();
  const m = /^if\s+(.+)$/.exec(after);
  return { prompt: true, cond: m?.[1] };
}

/** Parse one Kconfig file into its config entries and `source` lines, each with the blocks open around it in this file. */
function parseKconfigFile(text: string): Item[] {
  const items: Item[] = [];
  const stack: Frame[] = [];
  let entry: Entry | undefined;
  let block: Extract<Frame, { kind: "menu" | "choice" }> | undefined;
  let helpIndent = -1; // -1: not in help; 0: in help, first text line not seen yet
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let raw = lines[i];
    if (helpIndent >= 0) {
      if (raw.trim() === "") continue;
      const ind = indentOf(raw);
      // Help ends at a line with no indentation or less than the first help line (scripts/kconfig/lexer.l).
      if (ind > 0 && (helpIndent === 0 || ind >= helpIndent)) {
        if (helpIndent === 0) helpIndent = ind;
        continue;
      }
      helpIndent = -1;
    }
    while (raw.endsWith("\\") && i + 1 < lines.length) raw = `${raw.slice(0, -1).trimEnd()} ${lines[++i].trimStart()}`;
    const line = stripComment(raw).trim();
    if (!line) continue;
    const [, word, rest = ""] = /^(\S+)\s*(.*)$/.exec(line)!;
    switch (word) {
      case "config":
      case "menuconfig":
        entry = { name: rest, prompt: false, promptIf: [], depends: [], defaults: [], selects: [] };
        block = undefined;
        items.push({ entry, frames: stack.slice() });
        break;
      case "menu":
      case "choice":
        block = { kind: word, title: quoted(rest) ?? rest, depends: [], visible: [] };
        entry = undefined;
        stack.push(block);
        break;
      case "if":
        stack.push({ kind: "if", expr: rest });
        entry = block = undefined;
        break;
      case "endif":
      case "endmenu":
      case "endchoice": {
        const kind = word.slice(3);
        let at = stack.length - 1;
        while (at >= 0 && stack[at].kind !== kind) at--;
        if (at >= 0) stack.length = at;
        entry = block = undefined;
        break;
      }
      case "source":
        items.push({ source: quoted(rest) ?? rest, frames: stack.slice() });
        entry = block = undefined;
        break;
      case "comment":
      case "mainmenu":
        entry = block = undefined;
        break;
      case "help":
      case "---help---":
        helpIndent = 0;
        break;
      case "bool":
      case "tristate":
      case "string":
      case "int":
      case "hex":
      case "prompt": {
        const p = promptOf(rest);
        if (entry && p.prompt) {
          entry.prompt = true;
          if (p.cond) entry.promptIf.push(p.cond);
        } else if (block && p.prompt) block.title = quoted(rest)!;
        break;
      }
      case "depends":
        if (rest.startsWith("on ")) (entry ?? block)?.depends.push(rest.slice(3).trim());
        break;
      case "visible":
        if (block && rest.startsWith("if ")) block.visible.push(rest.slice(3).trim());
        break;
      case "select": {
        const m = /^(\S+)(?:\s+if\s+(.+))?$/.exec(rest);
        if (entry && m) entry.selects.push({ target: m[1], cond: m[2] ?? "" });
        break;
      }
      case "default":
      case "def_bool":
      case "def_tristate":
        entry?.defaults.push(`${word} ${rest}`);
        break;
    }
  }
  return items;
}

/** Every symbol's definitions and selectors, in Kconfig order. */
interface KconfigIndex {
  defs: Map<string, Def[]>;
  selectors: Map<string, { by: string; cond: string }[]>;
}

function push<T>(map: Map<string, T[]>, key: string, value: T) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Read all Kconfig files reachable from `<tree>/Kconfig` (in parallel, level by level), then walk them in order. */
async function indexTree(tree: string, arch: string): Promise<KconfigIndex> {
  const files = new Map<string, Item[]>();
  const resolve = (p: string) => p.replace(/\$\((?:SRCARCH|ARCH)\)/g, arch);
  try {
    files.set("Kconfig", parseKconfigFile(await readFile(join(tree, "Kconfig"), "utf8")));
  } catch (err) {
    throw new KernelTreeError(`Cannot read ${join(tree, "Kconfig")}: ${(err as Error).message}`, "check that the path is an extracted kernel source tree", { cause: err });
  }
  let level = ["Kconfig"];
  while (level.length) {
    const next = new Set<string>();
    for (const f of level) {
      for (const it of files.get(f)!) {
        if (!("source" in it)) continue;
        const path = resolve(it.source);
        if (!path.includes("$(") && !files.has(path)) next.add(path);
      }
    }
    level = [...next];
    // Batches keep the number of open files well under the usual 1024 limit.
    for (let i = 0; i < level.length; i += 64) {
      await Promise.all(level.slice(i, i + 64).map(async (f) => {
        // A missing sourced file is a Kconfig error the build reports itself; skip it here.
        const text = await readFile(join(tree, f), "utf8").catch(() => "");
        files.set(f, parseKconfigFile(text));
      }));
    }
  }
  const index: KconfigIndex = { defs: new Map(), selectors: new Map() };
  const walking = new Set<string>();
  const walk = (file: string, outer: Frame[]) => {
    if (walking.has(file)) return; // Kconfig rejects recursive sourcing; do not loop on it
    walking.add(file);
    for (const it of files.get(file) ?? []) {
      const frames = outer.concat(it.frames);
      if ("source" in it) {
        walk(resolve(it.source), frames);
        continue;
      }
      const { entry } = it;
      push(index.defs, entry.name, { entry, frames });
      for (const s of entry.selects) push(index.selectors, s.target, { by: entry.name, cond: s.cond });
    }
    walking.delete(file);
  };
  walk("Kconfig", []);
  return index;
}

/** Symbol names in a Kconfig expression, without y/m/n, numbers and `$(macro)` calls. */
function symbolsIn(expr: string): string[] {
  const names = expr.replace(/\$\([^)]*\)/g, " ").match(/[A-Za-z0-9_]+/g) ?? [];
  return names.filter((n) => !/^(?:[ymn]|[0-9]+|0x[0-9a-fA-F]+)$/.test(n));
}

const frameLine = (f: Frame): string | undefined => {
  if (f.kind === "if") return `inside if ${f.expr}`;
  const conds = [...f.depends.map((d) => `depends on ${d}`), ...f.visible.map((v) => `is visible if ${v}`)];
  if (f.kind === "choice") return `one option of the choice "${f.title}" (only one option can be y)${conds.length ? `, which ${conds.join(" and ")}` : ""}`;
  return conds.length ? `in menu "${f.title}" which ${conds.join(" and ")}` : undefined;
};

function explain(index: KconfigIndex, symbol: string, maxSelectors: number): string[] {
  const defs = index.defs.get(symbol);
  if (!defs) return [NOT_DEFINED];
  const out = new Set<string>();
  const conds: string[] = [];
  const selectedBy = (name: string) => {
    const sel = index.selectors.get(name) ?? [];
    const shown = sel.slice(0, maxSelectors).map((s) => s.cond ? `${s.by} (if ${s.cond})` : s.by);
    return shown.join(", ") + (sel.length > maxSelectors ? ` and ${sel.length - maxSelectors} more` : "");
  };
  if (!defs.some((d) => d.entry.prompt)) {
    if (index.selectors.has(symbol)) {
      out.add("has no prompt: it can only be selected by another option");
      out.add(`selected by ${selectedBy(symbol)}`);
    } else {
      const defaults = defs.flatMap((d) => d.entry.defaults);
      out.add(`has no prompt and nothing selects it: its value comes from ${defaults.length ? defaults.join(", ") : "no default (always n)"}`);
    }
  }
  for (const { entry, frames } of defs) {
    for (const d of entry.depends) {
      out.add(`depends on ${d}`);
      conds.push(d);
    }
    for (const p of entry.promptIf) out.add(`its prompt is only shown if ${p}`);
    for (const f of [...frames].reverse()) {
      const line = frameLine(f);
      if (line) out.add(line);
      if (f.kind === "if") conds.push(f.expr);
      else conds.push(...f.depends, ...f.visible);
    }
  }
  // A dependency that has no prompt is the usual dead end (VIRTIO_NET depends on VIRTIO, which only VIRTIO_MMIO etc. select).
  for (const dep of new Set(conds.flatMap(symbolsIn))) {
    const depDefs = index.defs.get(dep);
    if (dep === symbol || !depDefs || depDefs.some((d) => d.entry.prompt) || !index.selectors.has(dep)) continue;
    out.add(`${dep} has no prompt: it is selected by ${selectedBy(dep)}`);
  }
  return [...out];
}

/** For each symbol (with or without `CONFIG_`), lines saying what it needs, from the Kconfig files of `tree`. */
export async function kconfigReasons(tree: string, symbols: readonly string[], options: KconfigReasonsOptions = {}): Promise<Map<string, string[]>> {
  const index = await indexTree(tree, options.arch ?? "x86");
  const out = new Map<string, string[]>();
  for (const s of symbols) out.set(s, explain(index, s.replace(/^CONFIG_/, ""), options.maxSelectors ?? 8));
  return out;
}
