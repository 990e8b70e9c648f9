import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
/** Loaded when an action runs, not with the CLI (issue #11). */
const loadModule = () => import('../load/index.js');
import type { Io } from './runtime.js';
import type { LoadDesiredOptions } from '../load/index.js';
import { formatDiagnostic, ValidationError } from '../errors.js';
import { emitAnnotations } from './annotations.js';

export interface RepoOptions {
  repo: string;
  ref?: string;
}

/** --repo DIR|URL and --ref REF, shared by every command that reads the secrets repo. */
export function addRepoOptions(cmd: Command): Command {
  return cmd
    .option('--repo <dir|url>', 'secrets repo: a directory or a git URL', '.')
    .option('--ref <ref>', 'git ref to read when --repo is a URL (branch, tag or commit)');
}

/**
 * Loads and validates the repo; warnings go to stderr, errors throw ValidationError.
 * In GitHub Actions, every diagnostic is also a workflow annotation on the file.
 */
export async function readDesired(opts: RepoOptions, io: Io, load: Pick<LoadDesiredOptions, 'applied'> = {}) {
  // A local directory is taken relative to the command's cwd; anything else is a git URL.
  const local = resolve(io.cwd, opts.repo);
  const localDir = existsSync(local) ? local : undefined;
  let loaded: Awaited<ReturnType<(typeof import('../load/index.js'))['loadDesired']>>;
  try {
    loaded = await (await loadModule()).loadDesired({ repo: localDir ?? opts.repo, ref: opts.ref, cacheDir: resolve(io.cwd, '.credops/cache'), ...load });
  } catch (err) {
    if (err instanceof ValidationError) emitAnnotations(io, err.diagnostics, localDir);
    throw err;
  }
  for (const w of loaded.warnings) io.stderr(`${formatDiagnostic(w)}\n`);
  emitAnnotations(io, loaded.warnings, localDir);
  return loaded;
}
