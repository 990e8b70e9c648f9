import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { dirname, join, relative, sep } from 'node:path';

/**
 * The commit a directory's files come from: HEAD's SHA when none of the files
 * credops reads differ from it, else "dirty" (also outside git, or with git
 * missing). An ignored file that credops reads makes the tree dirty too: git
 * does not hold it, so the SHA would not describe what was applied.
 *
 * One `git status` answers all of it (porcelain v2 gives HEAD's SHA in its
 * header), and none runs outside a work tree: each git start costs more than
 * validating a small repo.
 */
export async function directoryCommit(dir: string, readPaths: readonly string[]): Promise<string> {
  const top = workTreeRoot(dir);
  if (top === undefined) return 'dirty';
  try {
    // One plain git process: loading simple-git costs more than the status itself here.
    const { stdout: status } = await run('git', ['status', '--porcelain=v2', '-z', '--branch', '--untracked-files=all', '--ignored=matching', '--', '.'], {
      cwd: dir,
      maxBuffer: 64 * 1024 * 1024,
    });
    const entries = status.split('\0');
    const head = entries.find((e) => e.startsWith('# branch.oid '))?.slice('# branch.oid '.length);
    if (!head || !/^[0-9a-f]{40,64}$/.test(head)) return 'dirty';
    // Status paths are relative to the top of the work tree.
    const prefix = relative(top, dir).split(sep).join('/');
    const read = new Set(readPaths.map((p) => (prefix ? `${prefix}/${p}` : p)));
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry === '' || entry.startsWith('#')) continue;
      // A rename (2 ...) is followed by its original path, also changed.
      if (entry.startsWith('2 ')) i++;
      if (!entry.startsWith('! ')) return 'dirty';
      const path = entry.slice(2);
      if (read.has(path) || (path.endsWith('/') && [...read].some((p) => p.startsWith(path)))) return 'dirty';
    }
    return head;
  } catch {
    return 'dirty';
  }
}

const run = promisify(execFile);

/** The nearest directory from `dir` up that holds `.git` (a directory, or a file for worktrees and submodules). */
function workTreeRoot(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return d;
    if (dirname(d) === d) return undefined;
  }
}
