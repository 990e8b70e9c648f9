import { createRequire } from 'node:module';
import { hash } from 'node:crypto';
import type { Diagnostic } from '../errors.js';
import type { RoleSpec } from '../model/types.js';
import type { RepoFile } from '../repo/index.js';
import { roleAddress } from '../schema/cross-file.js';

/**
 * A plan of a large repo whose roles did not change (issue #11: 10,000 roles
 * in under a second). Every role the state holds carries the digest of what
 * it was made from: its file's bytes, its @policies file's bytes and the
 * credops release whose checks it passed. A role file whose digest is the
 * same now is the same role, with the same warnings: the applied role is
 * reused instead of parsing, validating and normalising the file again. Any
 * change to the file, to its policy file, or to credops, and it is checked in
 * full. `credops validate` always checks every file.
 */

/** Applied roles by mount and name: what a role file may be found unchanged against. */
export type ReusableRoles = Map<string, RoleSpec>;

export function reusableRoles(applied: readonly RoleSpec[]): ReusableRoles {
  const out: ReusableRoles = new Map();
  for (const role of applied) if (role.source_digest) out.set(roleAddress(role), role);
  return out;
}

/** Set by scripts/bundle.mjs: a digest of the sources and schemas the bundle was built from. */
declare const CREDOPS_BUILD_ID: string | undefined;

/** The build whose checks a digest vouches for: another credops (even one of the same version) checks every file again. */
const RELEASE = (() => {
  const build = typeof CREDOPS_BUILD_ID === 'string' ? CREDOPS_BUILD_ID : 'source';
  try {
    // dist/chunks/*.js and src/load/*.ts are both two folders below the package root.
    const pkg = createRequire(import.meta.url)('../../package.json') as { name?: string; version?: string };
    return `${pkg.name}@${pkg.version}+${build}`;
  } catch {
    return `unknown@${Date.now()}`; // never reuse what cannot be tied to a release
  }
})();

/** SHA-256, its first 128 bits in base64 (22 characters): 10,000 of them add 220 KB to a state that cannot compress them. */
export function roleDigest(file: RepoFile, policy: RepoFile | undefined): string {
  return hash('sha256', `${RELEASE}\u0000${file.path}\u0000${file.text}\u0000${policy ? `${policy.path}\u0000${policy.text}` : ''}`, 'base64').slice(0, 22);
}

/** The applied role, if its file (and policy file) are byte for byte what it was made from; its warnings go to `diagnostics`. */
export function reuseRole(prior: RoleSpec | undefined, file: RepoFile, files: ReadonlyMap<string, RepoFile>, diagnostics: Diagnostic[]): RoleSpec | undefined {
  if (!prior?.source_digest || file.problem || prior.source !== file.path) return undefined;
  const policy = prior.policy_file === undefined ? undefined : files.get(prior.policy_file);
  if (prior.policy_file !== undefined && !policy) return undefined;
  if (roleDigest(file, policy) !== prior.source_digest) return undefined;
  for (const w of prior.source_warnings ?? []) diagnostics.push({ file: file.path, severity: 'warning', ...w });
  return prior;
}

/** The digest and warnings to store with a role just checked. */
export function withSource(role: RoleSpec, file: RepoFile, files: ReadonlyMap<string, RepoFile>, found: readonly Diagnostic[]): RoleSpec {
  const policy = role.policy_file === undefined ? undefined : files.get(role.policy_file);
  role.source_digest = roleDigest(file, policy);
  const warnings = found.filter((d) => d.severity === 'warning' && d.file === file.path).map(({ line, column, pointer, message }) => ({ line, column, pointer, message }));
  if (warnings.length) role.source_warnings = warnings;
  return role;
}
