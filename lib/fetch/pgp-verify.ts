/**
 * Checking the PGP signature of kernel.org's clearsigned `sha256sums.asc`
 * with `gpgv` against a keyring holding the kernel.org autosigner key
 * (632D3A06589DA6B1). Only the signed text is trusted afterwards.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MissingToolError, SignatureError } from "../util/errors.ts";
import { type Runner, runProcess } from "../util/process.ts";
import { findOnPath } from "../util/find-on-path.ts";

/** The kernel.org autosigner key id, for messages. */
export const KERNEL_ORG_AUTOSIGNER = "632D3A06589DA6B1";

/** Verify clearsigned `text` (from `url`) with gpgv and `keyring`; throws {@linkcode SignatureError}. */
export async function verifyClearsigned(text: string, url: string, keyring: string | undefined, deps: { run?: Runner; env?: Record<string, string | undefined> } = {}): Promise<void> {
  const env = deps.env ?? process.env;
  if (!(await findOnPath("gpgv", env))) throw new MissingToolError("gpgv", "--verify-signatures checks sha256sums.asc with it", "install gpgv (`apt-get install gpgv`)");
  if (!keyring) {
    throw new SignatureError(
      "--verify-signatures needs a keyring with the kernel.org autosigner key",
      `export it (gpg --export ${KERNEL_ORG_AUTOSIGNER} > kernel.org.gpg) and set MICROFORGE_KERNEL_KEYRING to that file`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "microforge-pgp-"));
  try {
    const file = join(dir, "sha256sums.asc");
    await writeFile(file, text);
    const r = await (deps.run ?? runProcess)(["gpgv", "--keyring", keyring, file], { nothrow: true, env: { ...env, LC_ALL: "C" } });
    if (r.code !== 0) {
      const why = r.stderr.trim().split("\n").filter((l) => /BAD|No public key|Can't check|not found|error/i.test(l)).join("; ") || `gpgv exited with ${r.code}`;
      throw new SignatureError(`The PGP signature of ${url} does not verify: ${why}`, "do not use this mirror's files; check the keyring and the mirror");
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
