/** The sha256 of a file, streamed (kernel tarballs are 150 MB). */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** Hex sha256 of the file at `path`. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Uint8Array);
  return hash.digest("hex");
}
