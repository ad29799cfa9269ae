/**
 * Status lines for long work. Quiet when `quiet` is set; plain lines (no
 * spinner redraws) when stderr is not a terminal, so CI logs stay readable.
 */

/** Where status output goes; tests pass their own. */
export interface Logger {
  /** One line saying what happens now. */
  step(message: string): void;
  /** A warning the user should read even in scripts. */
  warn(message: string): void;
}

/** A logger writing to stderr; `quiet` drops step lines but keeps warnings. */
export function stderrLogger(options: { quiet?: boolean } = {}): Logger {
  return {
    step(message) {
      if (!options.quiet) process.stderr.write(`• ${message}\n`);
    },
    warn(message) {
      process.stderr.write(`! ${message}\n`);
    },
  };
}

/** A logger that records lines, for tests. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, step: (m) => lines.push(m), warn: (m) => lines.push(`warning: ${m}`) };
}
