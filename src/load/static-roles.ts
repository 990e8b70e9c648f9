import type { StaticRoleFile } from '../model/schema-types.js';
import type { StaticRoleSpec } from '../model/types.js';
import { globMatcher, type MountGlob } from '../schema/cross-file.js';
import { toDiagnostics } from '../schema/finding.js';
import { roleNameProblem } from '../schema/role-name.js';
import { STATIC_ROLE_RULES } from '../schema/rules.js';
import { durationSeconds } from '../schema/vault-values.js';
import type { LoadContext } from './context.js';

/** Every static role file's mount and name, null for a file with an error: sinks may name it, and are then not reported twice. */
export type StaticRolesByMount = Map<string, Map<string, StaticRoleSpec | null>>;

const EXTENSION = /\.(?:json|ya?ml)$/i;

/**
 * The static role files of every mount (its `static_roles` glob: static-roles/*.json
 * for mount aws), normalised. Two static roles of one mount may not rotate the
 * same IAM user: each would delete the key the other just published.
 */
export function loadStaticRoles(ctx: LoadContext, mounts: MountGlob[]): { staticRoles: StaticRoleSpec[]; byMount: StaticRolesByMount } {
  const staticRoles: StaticRoleSpec[] = [];
  const byMount: StaticRolesByMount = new Map();
  const matchers = mounts.filter((m) => m.static_roles).map((m) => ({ name: m.name, test: globMatcher(m.static_roles!) }));
  const users = new Map<string, string>();
  for (const file of ctx.snapshot.files) {
    if (!EXTENSION.test(file.path)) continue;
    const owners = matchers.filter((m) => m.test(file.path));
    if (owners.length === 0) continue;
    const at = (message: string) => ctx.diagnostics.push({ file: file.path, line: 1, column: 1, pointer: '', severity: 'error', message });
    if (owners.length > 1) {
      at(`matches the static_roles globs of mounts ${owners.map((m) => m.name).join(' and ')}; a static role file must belong to exactly one mount`);
      continue;
    }
    const mount = owners[0]!.name;
    const name = file.path.slice(file.path.lastIndexOf('/') + 1).replace(EXTENSION, '');
    const problem = roleNameProblem(name);
    if (problem) {
      at(problem.replace('role name', 'static role name'));
      continue;
    }
    const byName = byMount.get(mount) ?? new Map<string, StaticRoleSpec | null>();
    byMount.set(mount, byName);
    if (byName.has(name)) {
      at(`duplicate static role "${name}" in mount ${mount}`);
      continue;
    }
    byName.set(name, null);
    const source = ctx.parse(file);
    const raw = source ? ctx.check<StaticRoleFile>(source, 'static_role', STATIC_ROLE_RULES) : undefined;
    if (!source || !raw) continue;
    if (raw.name !== undefined && raw.name !== name) {
      ctx.diagnostics.push(...toDiagnostics(source, [{ pointer: '/name', message: `is "${raw.name}", but the file names the static role "${name}"; remove "name" or make them equal` }]));
      continue;
    }
    const userKey = `${mount}\u0000${raw.assume_role_arn ?? ''}\u0000${raw.username}`;
    const other = users.get(userKey);
    if (other) {
      ctx.diagnostics.push(...toDiagnostics(source, [{ pointer: '/username', message: `IAM user "${raw.username}" is already rotated by ${other}; two static roles would delete each other's keys` }]));
      continue;
    }
    users.set(userKey, file.path);
    const role: StaticRoleSpec = { mount, name, source: file.path, username: raw.username, rotation_period: durationSeconds(raw.rotation_period)! };
    if (raw.assume_role_arn !== undefined) role.assume_role_arn = raw.assume_role_arn;
    if (raw.assume_role_session_name !== undefined) role.assume_role_session_name = raw.assume_role_session_name;
    if (raw.external_id !== undefined) role.external_id = raw.external_id;
    byName.set(name, role);
    staticRoles.push(role);
  }
  return { staticRoles, byMount };
}
