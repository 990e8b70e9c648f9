import { isUtf8 } from 'node:buffer';

const UTF8 = new TextDecoder('utf-8');

/**
 * Decodes UTF-8 strictly. A file that is not UTF-8 is reported at the first
 * bad byte instead of being silently mangled with U+FFFD.
 */
export function decodeUtf8(bytes: Uint8Array): { text: string } | { error: { offset: number; line: number; column: number; byte: number } } {
  if (isUtf8(bytes)) return { text: UTF8.decode(bytes) };
  const offset = firstInvalidUtf8(bytes);
  const before = new TextDecoder('utf-8').decode(bytes.subarray(0, offset));
  const lineStart = Math.max(before.lastIndexOf('\n'), before.lastIndexOf('\r')) + 1;
  return {
    error: {
      offset,
      line: (before.match(/\r\n|\r|\n/g)?.length ?? 0) + 1,
      column: before.length - lineStart + 1,
      byte: bytes[offset] ?? 0,
    },
  };
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence (RFC 3629). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) [n, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [n, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return b.length;
}
