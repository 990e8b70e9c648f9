import { readFileSync, statSync } from 'node:fs';
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
  const full = join(root, path);
  const size = statSync(full).size;
  if (size > MAX_FILE_BYTES) {
    return { path, text: '', problem: { line: 1, column: 1, message: `file is ${size} bytes; files of the secrets repo are limited to ${MAX_FILE_BYTES} bytes` } };
  }
  const decoded = decodeUtf8(readFileSync(full));
  if ('text' in decoded) return { path, text: decoded.text };
  const { line, column, byte, offset } = decoded.error;
  return {
    path,
    text: '',
    problem: { line, column, message: `file is not valid UTF-8 text (byte 0x${byte.toString(16).padStart(2, '0')} at offset ${offset}); save it as UTF-8` },
  };
}
