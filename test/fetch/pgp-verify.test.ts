import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runProcess } from "../../lib/util/process.ts";
import { verifyClearsigned } from "../../lib/fetch/pgp-verify.ts";
import { SignatureError } from "../../lib/util/errors.ts";
import { sha256From } from "../../lib/sources/kernel-releases.ts";
import { tempDir } from "../helpers.ts";

let keyring: string;
let signed: string;

// A throwaway signing key stands in for the kernel.org autosigner.
before(async () => {
  const dir = await tempDir("pgp-");
  const home = join(dir, "gnupg");
  const gpg = ["gpg", "--batch", "--homedir", home, "--pinentry-mode", "loopback", "--passphrase", ""];
  await runProcess(["mkdir", "-m", "700", home]);
  await runProcess([...gpg, "--quick-gen-key", "Fixture Autosigner <autosigner@example.invalid>", "ed25519", "sign", "never"]);
  const sums = join(dir, "sha256sums");
  await writeFile(sums, `${"a".repeat(64)}  linux-6.6.2.tar.xz\n${"b".repeat(64)}  linux-6.6.1.tar.xz\n`);
  await runProcess([...gpg, "--clearsign", "-o", `${sums}.asc`, sums]);
  keyring = join(dir, "kernel.org.gpg");
  await runProcess([...gpg, "-o", keyring, "--export"]);
  await runProcess(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], { nothrow: true });
  signed = await readFile(`${sums}.asc`, "utf8");
});

test("a clearsigned sha256sums.asc verifies with gpgv and the right keyring", async () => {
  await verifyClearsigned(signed, "https://x/sha256sums.asc", keyring);
  assert.equal(sha256From(signed, "linux-6.6.2.tar.xz"), "a".repeat(64));
});

test("a tampered checksum line fails verification", async () => {
  const tampered = signed.replace("a".repeat(64), "c".repeat(64));
  await assert.rejects(verifyClearsigned(tampered, "https://x/sha256sums.asc", keyring), (err: unknown) => {
    assert.ok(err instanceof SignatureError);
    assert.match(err.message, /PGP signature of https:\/\/x\/sha256sums\.asc does not verify: .*BAD signature/);
    return true;
  });
});

test("without a keyring the error says how to get the autosigner key", async () => {
  await assert.rejects(verifyClearsigned(signed, "u", undefined), /MICROFORGE_KERNEL_KEYRING[\s\S]*632D3A06589DA6B1|632D3A06589DA6B1[\s\S]*MICROFORGE_KERNEL_KEYRING/);
  const empty = join(await tempDir("pgp-"), "empty.gpg");
  await writeFile(empty, "");
  await assert.rejects(verifyClearsigned(signed, "u", empty), /does not verify/);
});
