import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { glob } from 'tinyglobby';
import type { RepoFile } from './snapshot.js';
import { decodeUtf8 } from './utf8.js';

/** The files credops reads: JSON and YAML anywhere in the repo, except hidden folders and tool output. One pattern: each file is matched once, not three times (issue #11). */
export const REPO_FILE_GLOBS = ['**/*.{json,yaml,yml,hcl}'];
const IGNORED = ['**/node_modules/**', '.credops/**'];

// Far above any real role, policy (AWS caps them at a few KB) or sink; keeps a
// stray data file from being loaded whole.
export const MAX_FILE_BYTES = 1024 * 1024;

/** Reads every repo file under root, sorted by path. Never throws for a file's content. */
export async function readRepoFiles(root: string): Promise<RepoFile[]> {
  const paths = (await glob(REPO_FILE_GLOBS, { cwd: root, ignore: IGNORED, dot: false, onlyFiles: true, followSymbolicLinks: false })).sort();
  return paths.map((path) => readRepoFile(root, path));
}

/** One buffer for every read: a file is decoded to text before the next is read. One byte past the limit tells a file that is too large. */
let readBuffer: Buffer | undefined;

function readRepoFile(root: string, path: string): RepoFile {
  // One open and one read (two at the end of a file): no fstat, and no buffer per file (10,000 files, issue #11).
  readBuffer ??= Buffer.allocUnsafe(MAX_FILE_BYTES + 1);
  const fd = openSync(`${root}/${path}`, 'r');
  let size = 0;
  try {
    for (;;) {
      const n = readSync(fd, readBuffer, size, readBuffer.length - size, size);
      if (n === 0) break;
      size += n;
      if (size === readBuffer.length) {
        const bytes = fstatSync(fd).size;
        return { path, text: '', problem: { line: 1, column: 1, message: `file is ${bytes} bytes; files of the secrets repo are limited to ${MAX_FILE_BYTES} bytes` } };
      }
    }
  } finally {
    closeSync(fd);
  }
  const bytes = readBuffer.subarray(0, size);
  const decoded = decodeUtf8(bytes);
  if ('text' in decoded) return { path, text: decoded.text };
  const { line, column, byte, offset } = decoded.error;
  return {
    path,
    text: '',
    problem: { line, column, message: `file is not valid UTF-8 text (byte 0x${byte.toString(16).padStart(2, '0')} at offset ${offset}); save it as UTF-8` },
  };
}
