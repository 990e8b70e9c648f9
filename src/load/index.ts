import type { Diagnostic } from '../errors.js';
import { ValidationError } from '../errors.js';
import type { DesiredModel, EngineConfig, RoleSpec } from '../model/types.js';
import { reusableRoles, type ReusableRoles } from './reuse.js';
import { readRepo, type ReadRepoOptions, type RepoSnapshot } from '../repo/index.js';
import { loadConfig } from './config.js';
import { LoadContext } from './context.js';
import { loadPolicies } from './policies.js';
import { loadRoles } from './roles.js';
import { loadSinks } from './sinks.js';
import { loadStaticRoles } from './static-roles.js';
import { loadAccess } from './access.js';
import { parseHclFiles, type ParsedHcl } from './hcl.js';

export { parseHclFiles, type ParsedHcl };

import { CONFIG_FILES } from './config-files.js';

export { CONFIG_FILES };

/**
 * From a secrets repo to the desired model: every file parsed with positions,
 * validated against schemas/, Vault's rules, cross-file references and the
 * policy lint, then normalised (RoleSpec, SinkSpec, MountConfig). One step per
 * kind of file; one error anywhere and there is no model (DESIGN invariant 4).
 */

export interface LoadDesiredOptions extends ReadRepoOptions {
  /**
   * Given the repo's config (where its state is), the roles that state holds:
   * role files unchanged since they were applied are reused (reuse.ts), and
   * every role made carries the digest to store. Not called when credops.yaml
   * has an error.
   */
  applied?: (config: EngineConfig) => Promise<readonly RoleSpec[]>;
}

/** Reads and validates the repo; throws ValidationError (every diagnostic, errors and warnings) if anything is wrong. */
export async function loadDesired(opts: LoadDesiredOptions): Promise<{ model: DesiredModel; warnings: Diagnostic[] }> {
  const snapshot = await readRepo(opts);
  let reuse: ReusableRoles | undefined;
  if (opts.applied) {
    // Only credops.yaml is needed to find the state; the full check below reads it again with everything else.
    const { config } = loadConfig(new LoadContext({ ...snapshot, files: snapshot.files.filter((f) => CONFIG_FILES.includes(f.path)) }));
    if (config) reuse = reusableRoles(await opts.applied(config));
  }
  return desiredFromSnapshot(snapshot, reuse, await parseHclFiles(snapshot.files));
}

/** validateSnapshot, throwing ValidationError when there is an error. */
export function desiredFromSnapshot(snapshot: RepoSnapshot, reuse?: ReusableRoles, hcl?: ParsedHcl): { model: DesiredModel; warnings: Diagnostic[] } {
  const { model, diagnostics } = validateSnapshot(snapshot, reuse, hcl);
  if (!model) throw new ValidationError(diagnostics);
  return { model, warnings: diagnostics };
}

/** Validates a snapshot in memory; `model` is set only when there is no error. Diagnostics sorted by file, line, column. */
/** `hcl`: the snapshot's .hcl files, parsed first (parseHclFiles is asynchronous). */
export function validateSnapshot(snapshot: RepoSnapshot, reuse?: ReusableRoles, hcl: ParsedHcl = new Map()): { model?: DesiredModel; diagnostics: Diagnostic[] } {
  const ctx = new LoadContext(snapshot);
  const { config, mountGlobs } = loadConfig(ctx);
  const policies = loadPolicies(ctx);
  const roles = loadRoles(ctx, mountGlobs, policies, reuse);
  const statics = loadStaticRoles(ctx, mountGlobs);
  const sinks = loadSinks(ctx, mountGlobs, roles.byMount, statics.byMount);
  const access = loadAccess(ctx, hcl);

  const diagnostics = ctx.diagnostics.sort(byPosition);
  if (!config || diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  roles.roles.sort((a, b) => compare(a.mount, b.mount) || compare(a.name, b.name));
  statics.staticRoles.sort((a, b) => compare(a.mount, b.mount) || compare(a.name, b.name));
  sinks.sort((a, b) => compare(a.name, b.name));
  const model: DesiredModel = { repo: snapshot.source, commit: snapshot.commit, config, roles: roles.roles, staticRoles: statics.staticRoles, sinks };
  if (access) model.access = access;
  return { model, diagnostics };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byPosition(a: Diagnostic, b: Diagnostic): number {
  return compare(a.file, b.file) || a.line - b.line || a.column - b.column || compare(a.message, b.message);
}
