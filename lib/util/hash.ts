/** sha256, the one digest microforge uses: of bytes, of a file (streamed), or incrementally. */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";

/** Hex sha256 of `parts` taken one after another (strings as UTF-8). */
export function sha256Hex(...parts: (string | Uint8Array)[]): string {
  const hash = createHash("sha256");
  for (const p of parts) hash.update(p);
  return hash.digest("hex");
}

/** A sha256 to feed chunk by chunk (a download, an image being written); `digest("hex")` ends it. */
export function sha256Hasher(): Hash {
  return createHash("sha256");
}

/** Hex sha256 of the file at `path`, streamed (kernel tarballs are 150 MB). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Uint8Array);
  return hash.digest("hex");
}
