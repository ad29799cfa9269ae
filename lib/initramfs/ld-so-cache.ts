/**
 * An /etc/ld.so.cache for the image, written by us (there is no ldconfig in
 * a busybox image): glibc's ld.so reads it to find libraries in directories
 * outside its own built-in path (those of /etc/ld.so.conf on the host).
 */

/** glibc's `_dl_cache_libcmp`: runs of digits compare as numbers. */
function libcmp(a: Uint8Array, b: Uint8Array): number {
  const digit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;
  let i = 0, j = 0;
  while (i < a.length) {
    if (digit(a[i])) {
      if (!digit(b[j])) return 1;
      let x = 0, y = 0;
      while (digit(a[i])) x = x * 10 + a[i++] - 0x30;
      while (digit(b[j])) y = y * 10 + b[j++] - 0x30;
      if (x !== y) return x - y;
    } else if (digit(b[j])) return -1;
    else if (a[i] !== (b[j] ?? 0)) return a[i] - (b[j] ?? 0);
    else i++, j++;
  }
  return -(b[j] ?? 0);
}

/**
 * An /etc/ld.so.cache (the "glibc-ld.so.cache1.1" format of glibc's
 * dl-cache.h, no extensions) mapping each library name to its path, for x86_64.
 */
export function ldSoCache(libs: readonly { name: string; path: string }[]): Uint8Array {
  const rows = libs.map((l) => ({ name: Buffer.from(`${l.name}\0`), path: Buffer.from(`${l.path}\0`) }));
  // ld.so binary-searches the entries sorted by libcmp, greatest first (as ldconfig writes them).
  rows.sort((a, b) => libcmp(b.name.subarray(0, -1), a.name.subarray(0, -1)));
  const header = 48;
  const strings = header + rows.length * 24;
  const size = rows.reduce((n, r) => n + r.name.length + r.path.length, strings);
  const out = Buffer.alloc(size);
  out.write("glibc-ld.so.cache1.1", 0, "latin1");
  out.writeUInt32LE(rows.length, 20);
  out.writeUInt32LE(size - strings, 24);
  out[28] = 2; // cache_file_new_flags_endian_little
  let at = strings;
  rows.forEach((r, i) => {
    const e = header + i * 24;
    out.writeInt32LE(0x0303, e); // FLAG_ELF_LIBC6 | FLAG_X8664_LIB64
    out.writeUInt32LE(at, e + 4);
    at += r.name.copy(out, at);
    out.writeUInt32LE(at, e + 8);
    at += r.path.copy(out, at);
  });
  return out;
}
