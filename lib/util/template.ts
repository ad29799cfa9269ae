/**
 * Rendering EJS templates (the `/init` script, kernel config fragments) with
 * errors that name the template file and line. In `*.sh.ejs` templates
 * `<%= x %>` shell-quotes its value and `<%- x %>` inserts it raw.
 */
import ejs from "ejs";
import { fileKind } from "./file-kind.ts";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { MicroforgeError, TemplateError, TemplateFileError } from "./errors.ts";
import { shellJoin, shellQuote } from "./shell-quote.ts";
import { packageRoot } from "./package-root.ts";

/** The built-in `templates/` directory of this package. */
export const builtinTemplates: string = join(packageRoot, "templates");

/** Find `name` in `dirs` (in order), then in the built-in templates; paths (starting with / or .) are used as they are. */
export function findTemplate(name: string, dirs: readonly string[] = []): string {
  if (name.startsWith("/") || name.startsWith(".")) {
    if (existsSync(name)) return resolve(name);
    throw new TemplateFileError(`Template file ${name} does not exist`, "check the path, or give the name of a template in templates/ (e.g. init.sh.ejs)");
  }
  for (const dir of [...dirs, builtinTemplates]) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new TemplateFileError(
    `Template ${name} was not found (looked in ${[...dirs, builtinTemplates].join(", ")})`,
    existsSync(name) ? `to use the file ${name} in the current directory, write ./${name}` : "check the name, or pass a path to your own template",
  );
}

const helpers = { q: shellQuote, qa: shellJoin };

/** The text of template file `file`; only a regular file is read (reading a FIFO would block forever). */
function readTemplateFile(file: string): string {
  try {
    const s = statSync(file);
    if (!s.isFile()) throw new TemplateFileError(`Template ${file} is ${fileKind(s)}, not a template file`, "pass the path of an .ejs file");
    return readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof MicroforgeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new TemplateFileError(
      code === "ENOENT" || code === "ENOTDIR" ? `Template file ${file} does not exist` : `Cannot read template ${file}: ${(err as Error).message}`,
      "check the path and its permissions",
      { cause: err },
    );
  }
}

/** Render the template file at `file` with `vars`; helpers `q` (shell-quote) and `qa` (quote a list) are always available. */
export function renderTemplate(file: string, vars: Record<string, unknown>): string {
  return renderTemplateText(readTemplateFile(file), vars, file);
}

/** Render template `text`; `file` names it in errors and picks the escaping (shell for `*.sh.ejs`). */
export function renderTemplateText(text: string, vars: Record<string, unknown>, file: string): string {
  const escape = file.endsWith(".sh.ejs") ? (v: unknown) => shellQuote(String(v)) : (v: unknown) => String(v);
  const options = { filename: file, escape, compileDebug: true, async: false as const };
  let fn: ejs.TemplateFunction;
  try {
    fn = ejs.compile(text, options);
  } catch (err) {
    const raw = (err as Error).message.split("\n")[0].replace(/ in \S+ while compiling ejs$/, "");
    const line = /matching close tag/.test(raw) ? unclosedTagLine(text) : syntaxErrorLine(text, options);
    throw new TemplateError(file, line, plainSyntaxError(raw), { cause: err });
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

/** EJS compiles a template into a function body inside try/catch; say what its errors mean in template terms. */
function plainSyntaxError(detail: string): string {
  if (/Unexpected token 'catch'|Unexpected end of input/.test(detail)) return "a block opened here is never closed: add <% } %>";
  if (/Missing catch or finally after try/.test(detail)) return "a } here closes a block that was never opened";
  if (/matching close tag for "(<%.?)"/.test(detail)) return `${detail.replace(/\.$/, "")}: a tag opened here is never closed with %>`;
  return detail;
}

/** The line of the first EJS tag that is opened and never closed. */
function unclosedTagLine(text: string): number | undefined {
  let open: number | undefined;
  for (const m of text.matchAll(/<%%|%%>|<%[_=\-#]?|[_-]?%>/g)) {
    if (m[0] === "<%%" || m[0] === "%%>") continue;
    if (m[0].startsWith("<%")) open ??= m.index;
    else open = undefined;
  }
  return open === undefined ? undefined : text.slice(0, open).split("\n").length;
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
