import { parseIssueRate } from '../duration.js';
import type { RoleFile } from '../model/schema-types.js';
import type { RoleSpec } from '../model/types.js';
import { assignRoleFiles, roleAddress, type MountGlob } from '../schema/cross-file.js';
import { toDiagnostics } from '../schema/finding.js';
import { lintRoleLimits } from '../schema/policy-lint.js';
import { ROLE_RULES } from '../schema/rules.js';
import { commaList, credentialTypesOf, durationSeconds, kvPairs, legacyOf, legacyArnField, nonEmptyString } from '../schema/vault-values.js';
import type { LoadContext } from './context.js';
import { reuseRole, withSource, type ReusableRoles } from './reuse.js';
import { resolveRolePolicy, type PolicyFiles, type ResolvedPolicy } from './policies.js';

/** Every role file's mount and name, null for a file with an error: sinks may name it, and are then not reported twice. */
export type RolesByMount = Map<string, Map<string, RoleSpec | null>>;

/** The role files of every mount, normalised; those with an error are reported and left out. */
export function loadRoles(ctx: LoadContext, mountGlobs: MountGlob[], policies: PolicyFiles, reuse?: ReusableRoles): { roles: RoleSpec[]; byMount: RolesByMount } {
  const assigned = assignRoleFiles([...ctx.files.keys()], mountGlobs);
  ctx.diagnostics.push(...assigned.diagnostics);
  const roles: RoleSpec[] = [];
  const byMount: RolesByMount = new Map();
  for (const { mount, name, path } of assigned.roles) {
    const byName = byMount.get(mount) ?? new Map<string, RoleSpec | null>();
    byMount.set(mount, byName);
    byName.set(name, null);
    const file = ctx.files.get(path)!;
    if (reuse) {
      const same = reuseRole(reuse.get(roleAddress({ mount, name })), file, ctx.files, ctx.diagnostics);
      if (same) {
        byName.set(name, same);
        roles.push(same);
        continue;
      }
    }
    const before = ctx.diagnostics.length;
    const source = ctx.parse(file);
    const raw = source ? ctx.check<RoleFile>(source, 'role', ROLE_RULES) : undefined;
    if (!source || !raw) continue;
    const policy = resolveRolePolicy(ctx, raw, source, policies);
    if (policy === 'invalid') continue;
    const role = normaliseRole(raw, { mount, name, source: path }, policy);
    const limits = lintRoleLimits(role, `/${policy?.field ?? 'policy_document'}`);
    ctx.diagnostics.push(...toDiagnostics(source, limits));
    if (!limits.some((f) => f.severity !== 'warning')) {
      if (reuse) withSource(role, file, ctx.files, ctx.diagnostics.slice(before));
      byName.set(name, role);
      roles.push(role);
    }
  }
  return { roles, byMount };
}

function normaliseRole(raw: RoleFile, where: { mount: string; name: string; source: string }, policy: ResolvedPolicy): RoleSpec {
  const legacy = legacyOf(raw);
  const credential_types = credentialTypesOf(raw);
  // Fields spelled out: an object spread ahead of more fields takes V8's slow path, 10x slower here.
  const role: RoleSpec = {
    mount: where.mount,
    name: where.name,
    source: where.source,
    credential_types,
    policy_arns: commaList(raw.policy_arns),
    iam_groups: commaList(raw.iam_groups),
    role_arns: commaList(raw.role_arns),
    iam_tags: kvPairs(raw.iam_tags),
    session_tags: kvPairs(raw.session_tags),
  };
  if (legacy?.field === 'arn') role[legacyArnField(legacy.value)].push(legacy.value);
  if (policy) role.policy_document = policy.doc;
  if (policy?.file) role.policy_file = policy.file;
  // One assignment per field, in a fixed order: every role gets the same object shape (fast on 10,000 roles).
  const defaultTtl = durationSeconds(raw.default_sts_ttl);
  if (defaultTtl !== undefined) role.default_sts_ttl = defaultTtl;
  const maxTtl = durationSeconds(raw.max_sts_ttl);
  if (maxTtl !== undefined) role.max_sts_ttl = maxTtl;
  const userPath = nonEmptyString(raw.user_path);
  if (userPath !== undefined) role.user_path = userPath;
  const boundary = nonEmptyString(raw.permissions_boundary_arn);
  if (boundary !== undefined) role.permissions_boundary_arn = boundary;
  const externalId = nonEmptyString(raw.external_id);
  if (externalId !== undefined) role.external_id = externalId;
  const mfa = nonEmptyString(raw.mfa_serial_number);
  if (mfa !== undefined) role.mfa_serial_number = mfa;
  if (raw.max_leases !== undefined) role.max_leases = raw.max_leases;
  if (raw.max_issue_rate !== undefined) role.max_issue_rate = parseIssueRate(raw.max_issue_rate);
  return role;
}
