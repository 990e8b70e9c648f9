import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SimpleGit } from 'simple-git';
import { UserError } from '../errors.js';

/** True for what git would treat as a remote URL rather than a local path. */
export function looksLikeGitUrl(repo: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[\w.-]+@[\w.-]+:/.test(repo);
}

/** The URL without user:password@ — tokens in URLs must never reach a log, plan or state. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}

/**
 * Brings the cache clone of `url` to `ref` (branch, tag or commit; default the
 * remote HEAD) and returns its work tree and the exact commit checked out.
 * The clone is reused between runs: only new objects are fetched.
 */
export async function checkoutGitRef(url: string, ref: string | undefined, cacheBase: string): Promise<{ root: string; commit: string }> {
  if (url.startsWith('-') || ref?.startsWith('-')) throw new UserError(`invalid git URL or ref: ${redactUrl(url)} ${ref ?? ''}`);
  const root = join(cacheBase, createHash('sha256').update(url).digest('hex').slice(0, 16));
  mkdirSync(root, { recursive: true });
  const { simpleGit } = await import('simple-git');
  const git = simpleGit(root);
  try {
    if (!existsSync(join(root, '.git'))) {
      await git.init();
      await git.addRemote('origin', url);
    } else {
      await git.remote(['set-url', 'origin', url]);
    }
    await git.fetch(['--force', '--tags', '--prune', 'origin', '+refs/heads/*:refs/remotes/origin/*']);
    const commit = await resolveRef(git, ref);
    if (!commit) throw new UserError(`ref "${ref}" was not found in ${redactUrl(url)}`);
    await git.raw(['checkout', '--force', '--detach', commit]);
    await git.raw(['clean', '-ffdx']);
    return { root, commit };
  } catch (err) {
    if (err instanceof UserError) throw err;
    const detail = redactUrl(String((err as Error).message ?? err)).split('\n').filter(Boolean).slice(0, 3).join('; ');
    throw new UserError(`cannot read git repo ${redactUrl(url)}${ref ? ` at ${ref}` : ''}: ${detail}`, { cause: err });
  }
}

async function resolveRef(git: SimpleGit, ref: string | undefined): Promise<string | undefined> {
  if (ref === undefined) {
    await git.fetch(['--force', 'origin', 'HEAD']);
    return verify(git, 'FETCH_HEAD');
  }
  for (const candidate of [`refs/remotes/origin/${ref}`, `refs/tags/${ref}`, ref]) {
    const sha = await verify(git, candidate);
    if (sha) return sha;
  }
  // Not a branch or tag: a commit or another ref the server will hand out by name (refs/pull/1/head).
  try {
    await git.fetch(['--force', 'origin', ref]);
    return await verify(git, 'FETCH_HEAD');
  } catch {
    return undefined;
  }
}

async function verify(git: SimpleGit, rev: string): Promise<string | undefined> {
  try {
    const sha = (await git.raw(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])).trim();
    return /^[0-9a-f]{40,64}$/.test(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}
