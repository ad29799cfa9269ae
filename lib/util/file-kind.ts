/** What a path turned out to be, in words for messages: "a directory", "a FIFO", ... */

/** The kind of file `s` describes (from stat): "a file", "a directory", "a FIFO", "a socket", "a character device", "a block device". */
export function fileKind(s: { isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  return s.isFile() ? "a file" : s.isDirectory() ? "a directory" : s.isFIFO() ? "a FIFO" : s.isSocket() ? "a socket" : s.isCharacterDevice() ? "a character device" : s.isBlockDevice() ? "a block device" : "not a regular file";
}
