/**
 * One error class per failure kind. Each carries what a person needs to act:
 * what failed, the evidence (command, exit code, output tail) and the next step.
 */

/** Base class: every microforge error has a `hint` saying what to do next. */
export class MicroforgeError extends Error {
  /** What the user should do about it. */
  readonly hint: string;
  /** The message without the hint line. */
  readonly summary: string;
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = 1;

  constructor(message: string, hint = "", options?: { cause?: unknown }) {
    super(hint ? `${message}\n  → ${hint}` : message, options);
    this.name = new.target.name;
    this.hint = hint;
    this.summary = message;
  }
}

/** Keep the last `lines` lines of a command's output for an error message. */
export function outputTail(output: string, lines = 20): string {
  const all = output.replace(/\s+$/, "").split("\n");
  return all.slice(-lines).join("\n");
}

/** A command exited non-zero or was killed by a signal. */
export class CommandError extends MicroforgeError {
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly signal: string | null,
    readonly tail: string,
    hint = "",
  ) {
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const out = tail ? `\n--- last lines of output ---\n${tail}\n---` : "";
    super(`Command ${argv.join(" ")} ${how}${out}`, hint);
  }
}

/** A host program the pipeline needs is not installed. */
export class MissingToolError extends MicroforgeError {
  constructor(readonly tool: string, why: string, install: string) {
    super(
      `${tool} is missing: ${why}`,
      `${install}, or run \`microforge doctor --fix\``,
    );
  }
}

/** The busybox binary cannot be used (not found, not static, not x86_64). */
export class BusyboxError extends MicroforgeError {}

/** An EJS template failed to compile or render; names file and line. */
export class TemplateError extends MicroforgeError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    const where = line ? `${file}:${line}` : file;
    super(`Template ${where}: ${detail}`, "fix the template or pass the missing variable", options);
  }
}

/** A file is not an x86_64 ELF executable we can read (not ELF, wrong machine, truncated). */
export class ElfError extends MicroforgeError {}

/** Invalid content for the initramfs (bad path, mode, missing source file). */
export class RootfsError extends MicroforgeError {}

/** Input the caller gave cannot be used: an option value, a feature name, a config override, a directory. The CLI exits 2. */
export class InputError extends MicroforgeError {
  override readonly exitCode: number = 2;
}

/** Wrong command-line usage (an unknown flag, a missing value): raised by the CLI itself; exit 2. */
export class UsageError extends InputError {}

/** Bytes nobody publishes a checksum for (busybox.net binaries, mainline snapshots, an index without one) and no opt-in to trust them. */
export class UnverifiedError extends MicroforgeError {}

/** A Debian package cannot be fetched or does not hold what we need (apt-get download, dpkg-deb). */
export class DebianPackageError extends MicroforgeError {}

/** A kernel build went wrong after make (its outputs did not verify). */
export class KernelBuildError extends MicroforgeError {}

/** A recipe option (`ask()`) has no usable value: not a number, refused by its validate, or required and missing. */
export class OptionError extends InputError {}

/** A kernel feature name that microforge does not know. */
export class FeatureError extends InputError {}

/** A single `CONFIG_X=VALUE` override that Kconfig could not take. */
export class ConfigOverrideError extends InputError {}

/** `microforge new` cannot write the project there: the directory is not empty, or a path leads outside it. */
export class ScaffoldError extends InputError {}

/** A download failed (HTTP status, connection error, timeout, truncated body). */
export class DownloadError extends MicroforgeError {
  /** `detail`: what went wrong, without the URL ("cannot resolve host www.kernel.org"). */
  constructor(readonly url: string, readonly detail: string, hint = "check the network or the mirror URL, then try again", options?: { cause?: unknown }) {
    super(`Download of ${url} failed: ${detail}`, hint, options);
  }
}

/** Downloaded bytes do not have the expected sha256. */
export class ChecksumError extends MicroforgeError {
  /** `url` names what was checked (a URL, a path, `debian:pkg=version`); `pinnedBy` the lock file whose sha256 was expected. */
  constructor(readonly url: string, readonly expected: string, readonly actual: string, readonly pinnedBy?: string) {
    super(
      `Checksum mismatch for ${url}: expected sha256 ${expected}${pinnedBy ? ` (pinned by ${pinnedBy})` : ""}, got ${actual}`,
      pinnedBy ? "if the source really changed, run with --update to re-resolve and re-lock" : "the file was not kept; if the upstream file really changed, re-resolve with --update",
    );
  }
}

/** A version spec matched nothing, or is malformed. */
export class VersionError extends MicroforgeError {}

/** The lock file is unreadable, or `--locked` found that something would change. */
export class LockFileError extends MicroforgeError {}

/** Waiting for another process's cache lock took longer than allowed. */
export class MutexError extends MicroforgeError {}

/** One requested Kconfig symbol that did not end as requested. */
export interface DroppedSymbol {
  symbol: string;
  requested: string;
  /** What it became in .config ("is not set" when absent). */
  actual: string;
  /** Its `depends on` / `select` lines and enclosing `if`/`menu` conditions, from the tree's Kconfig files. */
  why: string[];
}

/** Requested kernel config symbols were dropped by Kconfig (a dependency is off). */
export class KconfigError extends MicroforgeError {
  constructor(readonly dropped: DroppedSymbol[]) {
    const lines = dropped.map((d) => {
      const why = d.why.length ? `: ${d.why.join("; ")}` : "";
      return `  CONFIG_${d.symbol}=${d.requested} was requested but ${d.actual === "is not set" ? "is not set" : `became ${d.actual}`}${why}`;
    });
    super(
      `Kernel config dropped ${dropped.length} requested symbol${dropped.length === 1 ? "" : "s"}:\n${lines.join("\n")}`,
      "add the missing dependencies to your fragment (or a feature), or pass --allow-dropped to build anyway",
    );
  }
}

/** A VM spec is invalid (memory size, cpus, kernel argument, device path). */
export class VmSpecError extends MicroforgeError {}

/** A template variable of `/init` has a value of the wrong type (a usage error: exit 2). */
export class InitVarError extends InputError {
  constructor(readonly variable: string, readonly expected: string, value: unknown, example: string) {
    super(`Template variable ${variable} must be ${expected}, not ${JSON.stringify(value) ?? String(value)}`, `for example ${example}`);
  }
}

/** The guest did not finish within the timeout; QEMU was killed. */
export class BootTimeoutError extends MicroforgeError {
  override readonly exitCode = 124;
  constructor(readonly seconds: number, readonly consoleTail: string) {
    super(`The VM did not finish within ${seconds} s and was stopped${consoleTail ? `\n--- last console lines ---\n${consoleTail}\n---` : ""}`, "raise --timeout, or check what the guest is waiting for");
  }
}

/** A template file cannot be found or read (a missing path, a directory, a FIFO). */
export class TemplateFileError extends MicroforgeError {}

/** A word no shell can receive: it holds a NUL byte (a C string ends there). */
export class ShellQuoteError extends MicroforgeError {}

/** Writing failed because the disk is full, read-only, or not ours; names the directory and what was needed. */
export class WriteError extends MicroforgeError {
  constructor(readonly dir: string, readonly code: string, message: string, hint: string, options?: { cause?: unknown }) {
    super(message, hint, options);
  }
}

/** Writing into the cache failed (full, read-only, permissions): set MICROFORGE_CACHE elsewhere or clean it. */
export class CacheWriteError extends WriteError {}

/** A config fragment file cannot be used: a line Kconfig would ignore, or a file that cannot be read. */
export class ConfigFragmentError extends MicroforgeError {}

/** A member that could write or point outside the tree, or a kind we do not extract. */
export class UnsafeArchiveError extends MicroforgeError {
  constructor(readonly archive: string, readonly member: string, readonly reason: string) {
    super(
      `Refused to extract ${archive}: member ${JSON.stringify(member)} ${reason}`,
      "nothing was extracted; the archive is damaged or malicious: get it again from a trusted source (kernel.org, Debian)",
    );
  }
}

/** Bytes that are not a tar stream GNU tar and this scan would read the same way. */
export class ArchiveFormatError extends MicroforgeError {
  constructor(readonly archive: string, detail: string) {
    super(`Refused to extract ${archive}: it is not a well-formed tar archive (${detail})`, "nothing was extracted; the file is damaged: delete it and fetch it again");
  }
}

/** A clearsigned text failed verification, or could not be verified. */
export class SignatureError extends MicroforgeError {}

/** The directory given with --tree is missing or is not a kernel source tree. */
export class KernelTreeError extends MicroforgeError {}

/** A source given as a path (a kernel tarball, a busybox binary) is missing or is not a file. */
export class SourcePathError extends MicroforgeError {}

/** A version spec that cannot mean any version ("^^6", "latest-ish"): wrong usage, so the CLI exits 2. */
export class VersionSpecError extends VersionError {
  override readonly exitCode = 2;
}

/** The guest exited abnormally: a kernel panic, or no status came back. */
export class GuestError extends MicroforgeError {}

/** QEMU's monitor (QMP) could not be reached, did not answer in time, or refused a command. */
export class QmpError extends MicroforgeError {}

/**
 * A kernel module cannot be used as asked: a source directory without a
 * Kbuild or Makefile, a name no packed module has, a kernel without module
 * support, two modules of one name. The CLI exits 2.
 */
export class ModuleError extends InputError {}

/** An out-of-tree module did not build: the make command, its exit code and the last lines of its output. */
export class ModuleBuildError extends MicroforgeError {
  constructor(
    /** The module's source directory (as given). */
    readonly source: string,
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly tail: string,
    hint: string,
  ) {
    const how = code === null ? "was killed" : `exited with code ${code}`;
    super(`Module ${source} did not build: ${argv.join(" ")} ${how}${tail ? `\n--- last lines of output ---\n${tail}\n---` : ""}`, hint);
  }
}

/** A repro bundle cannot be written where asked, or read back: not a bundle, another format, or a file changed since it was written. */
export class BundleError extends InputError {}

/**
 * A host executable given with `--binary` cannot be packed: missing, a
 * directory, neither ELF nor a script, a foreign architecture, a script whose
 * interpreter is not in the image, a shared library that cannot be found.
 * The CLI exits 2.
 */
export class BinaryError extends InputError {}

/**
 * A Debian package to unpack into the image cannot be resolved, fetched or
 * unpacked: apt does not know it, a dependency cannot be satisfied, or an apt
 * command failed (then its argv, exit code and last lines of output).
 */
export class PackageError extends MicroforgeError {
  constructor(
    message: string,
    hint: string,
    readonly command?: { readonly argv: readonly string[]; readonly code: number | null; readonly tail: string },
  ) {
    const how = command ? `: ${command.argv.join(" ")} exited with code ${command.code}${command.tail ? `\n--- last lines of output ---\n${command.tail}\n---` : ""}` : "";
    super(`${message}${how}`, hint);
  }
}

/**
 * A `microforge test` report cannot be read or merged: not JSON, another
 * format version, shards of different commands or matrices, or a cell that
 * two shards both ran.
 */
export class ReportError extends InputError {}
