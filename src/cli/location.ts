import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILES } from '../load/config-files.js';
import type { EngineConfig } from '../model/types.js';
import { DEFAULT_STATE_URL, stateUrlNamed } from '../state/index.js';

/** Where a run's state and audit log are, and which directory relative paths in credops.yaml are taken from. */
export interface Location {
  stateUrl: string;
  /** Base of a relative path in stateUrl. */
  stateBase: string;
  auditPath: string;
  /** The secrets repo's root: the --repo directory, else the nearest directory up from cwd holding credops.yaml, else cwd. */
  root: string;
}

export const DEFAULT_AUDIT_LOG = '.credops/audit.log';

/**
 * The state, in Terraform's order of precedence: --state, then CREDOPS_STATE
 * (both relative to the working directory, as any path typed on a command line),
 * then credops.yaml's `state:`, then the default (both relative to the repo
 * root, so that a run from any directory reaches the same state). The audit log
 * likewise: CREDOPS_AUDIT_LOG, then credops.yaml's `audit_log:`, then the default.
 * `config` is the repo's config when the command has loaded it (a git URL repo
 * has no local root: its relative paths are taken from the working directory).
 */
export async function locate(cmd: Command, io: { cwd: string; env: NodeJS.ProcessEnv }, config?: Pick<EngineConfig, 'state' | 'audit_log'>): Promise<Location> {
  const root = repoRoot(cmd, io);
  const fromRepo = config ?? (await readConfigPaths(root));
  const flag = stateUrlNamed(cmd.optsWithGlobals<{ state?: string }>().state, io.env);
  const stateUrl = flag ?? nonEmpty(fromRepo.state) ?? DEFAULT_STATE_URL;
  const auditEnv = nonEmpty(io.env.CREDOPS_AUDIT_LOG);
  const audit = auditEnv ?? nonEmpty(fromRepo.audit_log) ?? DEFAULT_AUDIT_LOG;
  return {
    stateUrl,
    stateBase: flag ? io.cwd : root,
    auditPath: isAbsolute(audit) ? audit : resolve(auditEnv ? io.cwd : root, audit),
    root,
  };
}

function repoRoot(cmd: Command, io: { cwd: string }): string {
  const repo = cmd.opts<{ repo?: string }>().repo;
  if (repo !== undefined) {
    const local = resolve(io.cwd, repo);
    if (existsSync(local) && statSync(local).isDirectory()) return local;
    return io.cwd; // a git URL: nothing of it is on disk here
  }
  for (let dir = io.cwd; ; dir = dirname(dir)) {
    if (CONFIG_FILES.some((f) => existsSync(join(dir, f)))) return dir;
    if (dirname(dir) === dir) return io.cwd;
  }
}

/**
 * credops.yaml's `state:` and `audit_log:` for a command that does not load the
 * repo (status, lease, creds): read as plain YAML. A file that does not parse
 * gives nothing here; `credops validate` reports it with its position.
 */
async function readConfigPaths(root: string): Promise<{ state?: string; audit_log?: string }> {
  for (const name of CONFIG_FILES) {
    const path = join(root, name);
    if (!existsSync(path)) continue;
    try {
      // Through credops's own module, not import('yaml'): its named exports then survive bundling (scripts/bundle.mjs).
      const { parseYamlValue } = await import('../schema/yaml-source.js');
      const doc = parseYamlValue(readFileSync(path, 'utf8')) as { state?: unknown; audit_log?: unknown } | null;
      return {
        ...(typeof doc?.state === 'string' ? { state: doc.state } : {}),
        ...(typeof doc?.audit_log === 'string' ? { audit_log: doc.audit_log } : {}),
      };
    } catch {
      return {};
    }
  }
  return {};
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
