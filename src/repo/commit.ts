import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The commit a directory's files come from: HEAD's SHA when none of the files
 * credops reads differ from it, else "dirty" (also outside git, or with git
 * missing). An ignored file that credops reads makes the tree dirty too: git
 * does not hold it, so the SHA would not describe what was applied.
 */
export async function directoryCommit(dir: string, readPaths: readonly string[]): Promise<string> {
  // Outside any git work tree there is no commit to find: say so without starting git.
  if (!insideGitWorkTree(dir)) return 'dirty';
  try {
    const { simpleGit } = await import('simple-git');
    const git = simpleGit(dir);
    const prefix = (await git.raw(['rev-parse', '--show-prefix'])).trim();
    const head = (await git.raw(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])).trim();
    if (!/^[0-9a-f]{40,64}$/.test(head)) return 'dirty';
    const status = await git.raw(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--ignored=matching', '--', '.']);
    const read = new Set(readPaths.map((p) => prefix + p));
    for (const entry of status.split('\0')) {
      if (entry.length < 4) continue;
      const code = entry.slice(0, 2);
      const path = entry.slice(3);
      if (code !== '!!') return 'dirty';
      if (read.has(path) || (path.endsWith('/') && [...read].some((p) => p.startsWith(path)))) return 'dirty';
    }
    return head;
  } catch {
    return 'dirty';
  }
}

/** Whether `dir` or a directory above it holds `.git` (a directory, or a file for worktrees and submodules). */
function insideGitWorkTree(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return true;
    if (dirname(d) === d) return false;
  }
}
