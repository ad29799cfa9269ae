/**
 * Kernel `.config` and config-fragment text as a map from symbol (without the
 * `CONFIG_` prefix) to value: "y", "m", "n", a quoted string kept verbatim
 * with its quotes, or a decimal/hex number as text. Parsing is strict: Kconfig
 * silently ignores a line it cannot read (`X=y`, `CONFIG_X=yes` reads as y),
 * and a silently ignored line is a symbol that never gets set.
 */
import { ConfigFragmentError, ConfigOverrideError } from "../util/errors.ts";

const SET = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/;
const NOT_SET = /^#\s*CONFIG_([A-Za-z0-9_]+) is not set\s*$/;
const NAME = /^[A-Za-z0-9_]+$/;
const VALUE = /^(?:[ymn]|-?[0-9]+|0[xX][0-9a-fA-F]+|"(?:[^"\\]|\\.)*")$/;
const FORMS = `y, m, n, a "quoted string", a decimal number or 0x hex`;

/** True when `value` is one of the forms Kconfig reads back unchanged. */
export function isConfigValue(value: string): boolean {
  return VALUE.test(value);
}

/** Options of {@linkcode parseDotConfig}. */
export interface ParseDotConfigOptions {
  /** Where the text came from, for error messages ("frag.config"). */
  source?: string;
}

/** Parse `.config` or fragment text; `# CONFIG_X is not set` is "n", later lines win; a line Kconfig would ignore is a {@linkcode ConfigFragmentError}. */
export function parseDotConfig(text: string, options: ParseDotConfigOptions = {}): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    const off = NOT_SET.exec(line);
    if (off) {
      out.set(off[1], "n");
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const where = options.source ? `${options.source}:${i + 1}${options.source.endsWith(".ejs") ? " (as rendered)" : ""}` : `line ${i + 1}`;
    const m = SET.exec(line);
    if (!m) {
      throw new ConfigFragmentError(
        `Cannot parse config ${where}: ${JSON.stringify(line)} is not CONFIG_NAME=VALUE`,
        "write each symbol as CONFIG_NAME=VALUE or `# CONFIG_NAME is not set` (Kconfig silently ignores other lines)",
      );
    }
    const value = m[2].trim();
    if (!VALUE.test(value)) {
      throw new ConfigFragmentError(
        `Cannot parse config ${where}: the value of CONFIG_${m[1]} is ${JSON.stringify(value)}, expected ${FORMS}`,
        `for example CONFIG_${m[1]}=y, or quote a string: CONFIG_${m[1]}="${value.replace(/["\\]/g, "\\$&")}"`,
      );
    }
    out.set(m[1], value);
  }
  return out;
}

/** Render symbols as KCONFIG_ALLCONFIG fragment lines, in map order; "n" becomes `# CONFIG_X is not set`. */
export function renderFragment(symbols: ReadonlyMap<string, string>): string {
  let out = "";
  for (const [name, value] of symbols) out += value === "n" ? `# CONFIG_${name} is not set\n` : `CONFIG_${name}=${value}\n`;
  return out;
}

/** Parse one command-line override `CONFIG_X=v` or `X=v` into `[name, value]`. */
export function parseOverride(text: string): [string, string] {
  const s = text.trim();
  const eq = s.indexOf("=");
  const hint = `write CONFIG_NAME=VALUE (the CONFIG_ prefix is optional) where VALUE is ${FORMS}, ` +
    `e.g. CONFIG_VIRTIO_NET=y, NR_CPUS=4, 'CONFIG_CMDLINE="console=ttyS0"' (quote it for the shell too)`;
  if (eq < 0) throw new ConfigOverrideError(`Cannot parse config override ${JSON.stringify(text)}: it has no =VALUE`, hint);
  const name = s.slice(0, eq).replace(/^CONFIG_/, "");
  const value = s.slice(eq + 1);
  if (!NAME.test(name)) {
    throw new ConfigOverrideError(`Cannot parse config override ${JSON.stringify(text)}: ${JSON.stringify(s.slice(0, eq))} is not a symbol name`, hint);
  }
  if (!VALUE.test(value)) {
    throw new ConfigOverrideError(`Cannot parse config override ${JSON.stringify(text)}: the value ${JSON.stringify(value)} is not ${FORMS}`, hint);
  }
  return [name, value];
}
