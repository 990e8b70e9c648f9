import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { glob } from 'tinyglobby';
import type { RepoFile } from './snapshot.js';
import { decodeUtf8 } from './utf8.js';

/** The files credops reads: JSON and YAML anywhere in the repo, except hidden folders and tool output. */
export const REPO_FILE_GLOBS = ['**/*.json', '**/*.yaml', '**/*.yml'];
const IGNORED = ['**/node_modules/**', '.credops/**'];

// Far above any real role, policy (AWS caps them at a few KB) or sink; keeps a
// stray data file from being loaded whole.
export const MAX_FILE_BYTES = 1024 * 1024;

/** Reads every repo file under root, sorted by path. Never throws for a file's content. */
export async function readRepoFiles(root: string): Promise<RepoFile[]> {
  const paths = (await glob(REPO_FILE_GLOBS, { cwd: root, ignore: IGNORED, dot: false, onlyFiles: true, followSymbolicLinks: false })).sort();
  return paths.map((path) => readRepoFile(root, path));
}

function readRepoFile(root: string, path: string): RepoFile {
  // One open, one fstat and one read: the size check costs no extra look-up of the path.
  const fd = openSync(join(root, path), 'r');
  let bytes: Buffer;
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_FILE_BYTES) {
      return { path, text: '', problem: { line: 1, column: 1, message: `file is ${size} bytes; files of the secrets repo are limited to ${MAX_FILE_BYTES} bytes` } };
    }
    bytes = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, bytes, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    bytes = bytes.subarray(0, read);
  } finally {
    closeSync(fd);
  }
  const decoded = decodeUtf8(bytes);
  if ('text' in decoded) return { path, text: decoded.text };
  const { line, column, byte, offset } = decoded.error;
  return {
    path,
    text: '',
    problem: { line, column, message: `file is not valid UTF-8 text (byte 0x${byte.toString(16).padStart(2, '0')} at offset ${offset}); save it as UTF-8` },
  };
}
