import { isAbsolute, relative, sep } from 'node:path';
import type { Diagnostic } from '../errors.js';
import type { Io } from './runtime.js';

/**
 * GitHub Actions workflow commands for diagnostics, so a bad role file is marked
 * on the pull request's diff: `::error file=roles/x.json,line=4,col=22,title=credops::message`.
 * The runner reads these from stdout and stderr alike; we print them on stderr so
 * they never end up in a plan that a workflow redirects from stdout into a file.
 */

/** GitHub's escaping of a command's message (actions/toolkit `escapeData`). */
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** GitHub's escaping of a property value: `,` and `:` would end the property list. */
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/**
 * One diagnostic as a workflow command. `prefix` is the secrets repo's directory
 * relative to the workflow's checkout (GITHUB_WORKSPACE), e.g. `secrets` when the
 * action runs with `repo: secrets`; GitHub only links an annotation to a file by
 * its path from the repository root.
 */
export function formatAnnotation(d: Diagnostic, prefix = ''): string {
  const file = prefix === '' ? d.file : `${prefix.replace(/\/+$/, '')}/${d.file}`;
  const where = d.pointer === '' || d.message.startsWith(d.pointer) ? '' : `${d.pointer} `;
  const props = [
    `file=${escapeProperty(file)}`,
    `line=${d.line}`,
    `col=${d.column}`,
    `title=${escapeProperty('credops')}`,
  ].join(',');
  return `::${d.severity} ${props}::${escapeData(`${where}${d.message}`)}`;
}

/**
 * The prefix for formatAnnotation: the path from GITHUB_WORKSPACE to the repo
 * directory, with `/` separators. Empty when the repo is the workspace itself,
 * and also when it lies outside the workspace (a git URL cloned to a cache), where
 * no path would name a file of the pull request.
 */
export function annotationPrefix(repoDir: string, env: NodeJS.ProcessEnv): string {
  const workspace = env.GITHUB_WORKSPACE;
  if (!workspace) return '';
  const rel = relative(workspace, repoDir);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return '';
  return rel.split(sep).join('/');
}

/**
 * Prints the diagnostics as workflow commands when running in GitHub Actions
 * (GITHUB_ACTIONS=true, set by the runner), in addition to the compiler-style
 * lines. `repoDir` is the local directory of the secrets repo, or undefined when
 * it was read from a git URL.
 */
export function emitAnnotations(io: Io, diagnostics: readonly Diagnostic[], repoDir: string | undefined): void {
  if (io.env.GITHUB_ACTIONS !== 'true') return;
  const prefix = repoDir === undefined ? '' : annotationPrefix(repoDir, io.env);
  for (const d of diagnostics) io.stderr(`${formatAnnotation(d, prefix)}\n`);
}
