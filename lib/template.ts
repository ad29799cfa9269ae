/**
 * Rendering EJS templates (the `/init` script, kernel config fragments) with
 * errors that name the template file and line. In `*.sh.ejs` templates
 * `<%= x %>` shell-quotes its value and `<%- x %>` inserts it raw.
 */
import ejs from "ejs";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TemplateError } from "./errors.ts";
import { shellJoin, shellQuote } from "./shell-quote.ts";

/** The built-in `templates/` directory of this package. */
export const builtinTemplates: string = join(dirname(fileURLToPath(import.meta.url)), "..", "templates");

/** Find `name` in `dirs` (in order), then in the built-in templates; absolute paths are used as they are. */
export function findTemplate(name: string, dirs: readonly string[] = []): string {
  if (name.startsWith("/") || name.startsWith(".")) {
    if (existsSync(name)) return resolve(name);
  } else {
    for (const dir of [...dirs, builtinTemplates]) {
      const candidate = join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
  }
  throw new TemplateError(name, undefined, `template not found (looked in ${[...dirs, builtinTemplates].join(", ")})`);
}

const helpers = { q: shellQuote, qa: shellJoin };

/** Render the template file at `file` with `vars`; helpers `q` (shell-quote) and `qa` (quote a list) are always available. */
export function renderTemplate(file: string, vars: Record<string, unknown>): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new TemplateError(file, undefined, `cannot read template: ${(err as Error).message}`, { cause: err });
  }
  return renderTemplateText(text, vars, file);
}

/** Render template `text`; `file` names it in errors and picks the escaping (shell for `*.sh.ejs`). */
export function renderTemplateText(text: string, vars: Record<string, unknown>, file: string): string {
  const escape = file.endsWith(".sh.ejs") ? (v: unknown) => shellQuote(String(v)) : (v: unknown) => String(v);
  const options = { filename: file, escape, compileDebug: true, async: false as const };
  let fn: ejs.TemplateFunction;
  try {
    fn = ejs.compile(text, options);
  } catch (err) {
    const detail = (err as Error).message.split("\n")[0].replace(/ in \S+ while compiling ejs$/, "");
    throw new TemplateError(file, syntaxErrorLine(text, options), detail, { cause: err });
  }
  try {
    return fn({ ...helpers, ...vars });
  } catch (err) {
    // EJS rethrows with "file:line" as the first line of the message, then context, then the cause.
    const msg = (err as Error).message;
    const line = Number(/^.*:(\d+)\n/.exec(msg)?.[1]) || undefined;
    const detail = msg.split("\n").filter(Boolean).pop() ?? msg;
    throw new TemplateError(file, line, detail, { cause: err });
  }
}

/**
 * Find the template line of a syntax error. The generated code marks each
 * template line with `__line = N`; the first prefix of the code (cut at those
 * marks) that fails with anything but "end of input" holds the error.
 */
function syntaxErrorLine(text: string, options: ejs.Options): number | undefined {
  const tpl = new (ejs as unknown as { Template: new (t: string, o: ejs.Options) => { source: string; generateSource(): void } }).Template(text, options);
  try {
    tpl.generateSource();
  } catch {
    return undefined;
  }
  const marks = [...tpl.source.matchAll(/; __line = (\d+)\n/g)];
  for (let i = 0; i < marks.length; i++) {
    const end = i + 1 < marks.length ? marks[i + 1].index : tpl.source.length;
    try {
      new Function(tpl.source.slice(0, end));
      return undefined;
    } catch (err) {
      if (!/end of input|Unterminated/.test((err as Error).message)) return Number(marks[i][1]);
    }
  }
  return undefined;
}
