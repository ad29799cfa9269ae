/**
 * A cell's KTAP or TAP output as flat subtest results: KTAP v1 as the kernel
 * prints it (KUnit's nested suites, kselftest's `# `-prefixed program output),
 * TAP 13 (YAML blocks) and TAP 14 (subtests, `\#` escapes, `Bail out!`).
 * See the kernel's Documentation/dev-tools/ktap.rst and the TAP 14 draft.
 *
 * Nesting is read from indentation alone (KUnit indents 4 spaces, ktap.rst
 * says 2), so a nested block needs no version line (TAP 14 bare subtests).
 * kselftest's `# `-prefixed output of each program is diagnostics of that
 * program's result line, not parsed as nested TAP.
 */
import { stripTimestamps } from "./decode-panic.ts";
import type { SubtestResult } from "./test-report.ts";

const VERSION = /^K?TAP version \d+$/;
const PLAN = /^1\.\.(\d+)(?:\s*#.*)?$/;
const POINT = /^(not )?ok\b(.*)$/;
const BAIL = /^bail out!\s*(.*)$/i;
const SUBTEST = /^#\s*Subtest(?::\s*(.*))?$/;
/** TAP's directives (case-insensitive, `skip` as a stem: `# Skipped` counts) and KTAP's XFAIL, which reads like TODO. */
const DIRECTIVE = /^(?:(skip)\S*|(todo|xfail))(?:\s+([\s\S]*))?$/i;

/** One nesting level: the test points at one indentation. */
interface Level {
  indent: number;
  plan?: number;
  /** Test numbers that had a result line, and the last one (for points without a number). */
  seen: Set<number>;
  last: number;
  /** `# ` lines waiting for the next result line at this level. */
  diag: string[];
  out: SubtestResult[];
  /** A nested block that ended: its entries wait for the result line of their parent, this level's next test. */
  children?: SubtestResult[];
  childName?: string;
  /** `# Subtest: name` right after this block's version line (KUnit), and one later at this level (TAP 14: the next test's name). */
  name?: string;
  announced?: string;
}

/** A parsed `ok`/`not ok` line. */
interface Point {
  ok: boolean;
  number?: number;
  name: string;
  directive?: SubtestResult["directive"];
  /** A `# ...` comment that is not a directive (kselftest's `# exit=1`, KTAP's `# TIMEOUT 30 seconds`). */
  comment?: string;
}

const level = (indent: number): Level => ({ indent, seen: new Set(), last: 0, diag: [], out: [] });
const indentOf = (line: string): number => line.length - line.trimStart().length;

/**
 * The subtests in `output`, or undefined when it is not KTAP/TAP (no
 * `KTAP version N`/`TAP version N` line and no unindented plan `1..N`): then
 * the caller judges by exit code. Leaves only, a nested one named
 * `parent.child`; a parent is an entry of its own only when it is `not ok`
 * and none of its children failed. `ok` says whether it counts as passing: a
 * SKIP is ok, and so is a TODO (or XFAIL) whatever its result line says.
 * Diagnostics are the `# ` lines before a result line (with the indented
 * lines that continue them, like KUnit's `Expected ...`), its non-directive
 * comment and its YAML block; other lines are ignored, and console timestamps
 * (`[    1.234567] `) are cut first. A plan that promised more adds a failing
 * `missing test N`; a nested block whose parent printed no result line fails
 * that parent; `Bail out!` ends the parse with a failing `bail out` entry.
 */
export function parseTap(output: string): SubtestResult[] | undefined {
  const lines = stripTimestamps(output).split("\n").map((l) => l.trimEnd());
  let start = lines.findIndex((l) => VERSION.test(l.trim()));
  if (start < 0) start = lines.some((l) => PLAN.test(l)) ? 0 : -1;
  if (start < 0) return undefined;
  const parser = new Parser();
  for (const line of lines.slice(start)) if (!parser.line(line)) break;
  return parser.end();
}

class Parser {
  private readonly root = level(-1);
  private readonly stack: Level[] = [this.root];
  private bailed = false;
  /** The last structural line was a result line: a YAML block may follow. */
  private after?: { indent: number; entry?: SubtestResult };
  private yaml?: { indent: number; entry?: SubtestResult };
  /** The last line was a diagnostic: unknown lines indented at least as deep (and not flush left) continue it. */
  private cont?: { level: Level; indent: number };

  private get top(): Level {
    return this.stack[this.stack.length - 1];
  }

  /** Take one line; false after `Bail out!`. */
  line(text: string): boolean {
    const body = text.trimStart();
    const indent = indentOf(text);
    if (this.yaml && this.yamlLine(text, body, indent)) return true;
    if (!body) {
      this.cont = undefined;
      return true;
    }
    let m: RegExpExecArray | null;
    if (body.startsWith("#") && !SUBTEST.test(body)) {
      const l = this.levelAt(indent);
      if (l) {
        l.diag.push(body.replace(/^# ?/, ""));
        this.cont = { level: l, indent };
      }
      return true;
    }
    if (body === "---" && this.after && indent > this.after.indent) {
      this.yaml = { indent, entry: this.after.entry };
      this.after = undefined;
      return true;
    }
    const structural = VERSION.test(body) || PLAN.test(body) || POINT.test(body) || BAIL.test(body) || SUBTEST.test(body);
    if (!structural) {
      if (this.cont && indent >= this.cont.indent && indent > 0) this.cont.level.diag.push(text.slice(this.cont.indent));
      return true;
    }
    this.cont = this.after = undefined;
    if (VERSION.test(body)) this.at(indent, (l) => l.plan !== undefined || l.last > 0);
    else if ((m = PLAN.exec(body))) this.at(indent, (l) => l.plan !== undefined).plan = Number(m[1]);
    else if ((m = POINT.exec(body))) this.after = { indent, entry: this.record(this.at(indent, () => false), point(!m[1], m[2])) };
    else if ((m = SUBTEST.exec(body))) this.subtest(indent, m[1]?.trim() || undefined);
    else if ((m = BAIL.exec(body))) {
      this.bailed = true;
      this.popTo(-1);
      this.root.out.push({ name: "bail out", ok: false, diagnostics: `Bail out! ${m[1]}`.trim() });
      return false;
    }
    return true;
  }

  /** Close every level and give the entries. */
  end(): SubtestResult[] {
    this.popTo(-1);
    return this.root.out;
  }

  /** A line inside a YAML block; false when the block ended at a structural line the caller should read. */
  private yamlLine(text: string, body: string, indent: number): boolean {
    const y = this.yaml!;
    if (body === "..." && indent === y.indent) {
      this.yaml = undefined;
      return true;
    }
    if (!body || indent >= y.indent) {
      if (y.entry) y.entry.diagnostics += `${y.entry.diagnostics ? "\n" : ""}${text.slice(y.indent)}`;
      return true;
    }
    if (![VERSION, PLAN, POINT, BAIL].some((re) => re.test(body))) return true;
    this.yaml = undefined;
    return false;
  }

  /** The level a version, plan or result line at `indent` belongs to: deeper levels close; `fresh` says when one at this indent has begun and a new block starts. */
  private at(indent: number, fresh: (l: Level) => boolean): Level {
    this.popTo(indent);
    if (this.top.indent === indent && fresh(this.top)) this.popTo(indent - 1);
    if (this.top.indent < indent) this.push(indent);
    return this.top;
  }

  private push(indent: number): Level {
    if (this.top.children) this.orphans(this.top);
    const l = level(indent);
    this.stack.push(l);
    return l;
  }

  /** The deepest open level at or left of `indent` (diagnostics attach there without closing anything). */
  private levelAt(indent: number): Level | undefined {
    for (let i = this.stack.length - 1; i > 0; i--) if (this.stack[i].indent <= indent) return this.stack[i];
    return undefined;
  }

  /** `# Subtest: name`: before a block's plan and results it names the block (KUnit), after them the next test at its level (TAP 14). */
  private subtest(indent: number, name: string | undefined): void {
    const l = indent > this.top.indent ? this.push(indent) : this.levelAt(indent);
    if (!l || !name) return;
    if (l.plan === undefined && l.last === 0) l.name ??= name;
    else l.announced = name;
  }

  private popTo(indent: number): void {
    while (this.top.indent > indent) {
      const child = this.stack.pop()!;
      const entries = this.close(child);
      const parent = this.top;
      if (parent === this.root) {
        parent.out.push(...entries);
        continue;
      }
      if (parent.children) this.orphans(parent);
      parent.children = entries;
      parent.childName = parent.announced ?? child.name;
    }
  }

  /** A level's entries, with a failing one per test its plan promised that gave no result. */
  private close(l: Level): SubtestResult[] {
    if (l.children) this.orphans(l);
    if (this.bailed || l.plan === undefined) return l.out;
    for (let k = 1; k <= l.plan; k++) {
      if (!l.seen.has(k)) l.out.push({ name: `missing test ${k}`, ok: false, diagnostics: `The plan 1..${l.plan} promised ${l.plan} tests, but test ${k} gave no result` });
    }
    return l.out;
  }

  /** A nested block whose parent never printed its result line (the guest crashed, the output was cut): the parent failed. */
  private orphans(l: Level): void {
    const n = l.last + 1;
    this.record(l, { ok: false, number: n, name: l.childName ?? `test ${n}`, comment: "No result line came for this test" });
  }

  /** Enter a result line at `l`; gives the entry its YAML block belongs to, if it is one. */
  private record(l: Level, p: Point): SubtestResult | undefined {
    const number = p.number ?? l.last + 1;
    l.last = number;
    l.seen.add(number);
    const name = p.name || `test ${number}`;
    const diagnostics = [...l.diag, ...(p.comment ? [p.comment] : [])].join("\n");
    const children = l.children;
    l.diag = [];
    l.children = l.childName = l.announced = undefined;
    const entry: SubtestResult = { name, ok: p.ok, ...(p.directive && { directive: p.directive }), diagnostics };
    if (children?.length) {
      l.out.push(...children.map((c) => ({ ...c, name: `${name}.${c.name}` })));
      if (p.ok || children.some((c) => !c.ok)) return undefined;
    }
    l.out.push(entry);
    return entry;
  }
}

/** What follows `ok`/`not ok`: `[N] [- ]description [# directive reason | # comment]`, `\#` and `\\` unescaped. */
function point(passed: boolean, rest: string): Point {
  const num = /^\s*(\d+)(?=\s|$)/.exec(rest);
  const text = (num ? rest.slice(num[0].length) : rest).trimStart().replace(/^-(?:\s+|$)/, "");
  let name = "";
  let i = 0;
  for (; i < text.length && text[i] !== "#"; i++) {
    name += text[i] === "\\" && (text[i + 1] === "#" || text[i + 1] === "\\") ? text[++i] : text[i];
  }
  const comment = text.slice(i + 1).trim();
  const d = i < text.length ? DIRECTIVE.exec(comment) : null;
  const base = { number: num ? Number(num[1]) : undefined, name: name.trim() };
  if (!d) return { ...base, ok: passed, ...(comment && { comment }) };
  return { ...base, ok: true, directive: { kind: d[1] ? "skip" : "todo", reason: d[3]?.trim() ?? "" } };
}
