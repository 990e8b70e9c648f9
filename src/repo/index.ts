import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { directoryCommit } from './commit.js';
import { readRepoFiles } from './directory.js';
import { checkoutGitRef, looksLikeGitUrl, redactUrl } from './git.js';
import type { ReadRepoOptions, RepoSnapshot } from './snapshot.js';

export type { ReadRepoOptions, RepoFile, RepoSnapshot } from './snapshot.js';
export { looksLikeGitUrl, redactUrl } from './git.js';

export const DEFAULT_CACHE_DIR = '.credops/cache';

/**
 * Reads the secrets repo from a directory or a git URL + ref. Files that are
 * not text come back with a `problem`, never as an exception: validation
 * reports them with the rest.
 */
export async function readRepo(opts: ReadRepoOptions): Promise<RepoSnapshot> {
  const cwd = opts.cwd ?? process.cwd();
  const local = resolve(cwd, opts.repo);
  if (existsSync(local) || !looksLikeGitUrl(opts.repo)) {
    if (!existsSync(local)) throw new UserError(`repo ${opts.repo}: no such directory`);
    if (!statSync(local).isDirectory()) throw new UserError(`repo ${opts.repo}: not a directory`);
    if (opts.ref !== undefined) throw new UserError(`--ref ${opts.ref} needs a git URL as --repo (for a directory, check the ref out yourself)`);
    const files = await readRepoFiles(local);
    return { source: opts.repo, commit: await directoryCommit(local, files.map((f) => f.path)), root: local, files };
  }
  const { root, commit } = await checkoutGitRef(opts.repo, opts.ref, resolve(cwd, opts.cacheDir ?? DEFAULT_CACHE_DIR));
  return { source: redactUrl(opts.repo), commit, root, files: await readRepoFiles(root) };
}
