import picomatch from 'picomatch';
import type { Diagnostic } from '../errors.js';
import type { SinkFile } from '../model/schema-types.js';
import { CREDENTIAL_TYPES, type RoleSpec } from '../model/types.js';
import { closest } from './ajv-errors.js';
import { rulesOf, typesWhere } from './credential-types.js';
import type { Finding } from './finding.js';
import { roleNameProblem } from './role-name.js';

/** Checks that need more than one file: which mount a role file belongs to, references between files. */

export interface MountGlob {
  name: string;
  /** Glob of the mount's role files, relative to the repo root. */
  roles: string;
  /** Glob of the mount's static role files. */
  static_roles?: string;
}

/** A role's (or static role's) address: its mount and name, as Vault's MOUNT/roles/NAME. The key wherever roles are matched by it. */
export const roleAddress = (r: { mount: string; name: string }) => `${r.mount}\u0000${r.name}`;

export interface RoleSource {
  mount: string;
  name: string;
  path: string;
}

const NOT_ROLES = /^(?:credops\.ya?ml|policies\/.*|sinks\/.*|static-roles\/.*)$/;
const ROLE_EXTENSION = /\.(?:json|ya?ml)$/i;

/**
 * Gives each role file its mount and name. A file matched by two mounts'
 * globs, two files giving one mount the same role name, and names Vault would
 * refuse are errors; a file under roles/ that no mount claims is a warning
 * (it would otherwise be silently ignored).
 */
export function assignRoleFiles(paths: readonly string[], mounts: readonly MountGlob[]): { roles: RoleSource[]; diagnostics: Diagnostic[] } {
  const matchers = mounts.map((m) => ({ ...m, test: globMatcher(m.roles) }));
  const roles: RoleSource[] = [];
  const diagnostics: Diagnostic[] = [];
  const seen = new Map<string, string>();
  const at = (file: string, severity: Diagnostic['severity'], message: string): Diagnostic => ({ file, line: 1, column: 1, pointer: '', severity, message });

  for (const path of paths) {
    if (NOT_ROLES.test(path)) continue;
    const owners = matchers.filter((m) => m.test(path));
    if (owners.length === 0) {
      if (path.startsWith('roles/') && ROLE_EXTENSION.test(path)) {
        const globs = mounts.map((m) => `${m.name}: "${m.roles}"`).join(', ');
        diagnostics.push(at(path, 'warning', `not matched by the roles glob of any mount (${globs}); this file is ignored`));
      }
      continue;
    }
    if (owners.length > 1) {
      const globs = owners.map((m) => `${m.name} ("${m.roles}")`).join(' and ');
      diagnostics.push(at(path, 'error', `matches the roles globs of mounts ${globs}; a role file must belong to exactly one mount`));
      continue;
    }
    const mount = owners[0]!.name;
    const name = path.slice(path.lastIndexOf('/') + 1).replace(ROLE_EXTENSION, '');
    const problem = roleNameProblem(name);
    if (problem) {
      diagnostics.push(at(path, 'error', problem));
      continue;
    }
    const key = roleAddress({ mount, name });
    const first = seen.get(key);
    if (first) {
      diagnostics.push(at(path, 'error', `duplicate role "${name}" in mount ${mount}: already defined by ${first}`));
      continue;
    }
    seen.set(key, path);
    roles.push({ mount, name, path });
  }
  return { roles, diagnostics };
}

/**
 * picomatch's test of a repo path against a glob, with the glob's fixed base
 * folder (`roles` of `roles/*.json`) checked first: most paths of a large repo
 * are turned away by one startsWith (issue #11).
 */
export function globMatcher(glob: string): (path: string) => boolean {
  const test = picomatch(glob, { dot: false });
  const { base, isGlob, negated } = picomatch.scan(glob);
  // A glob without wildcards is a path of its own: its "base" is the whole of it.
  if (!base || !isGlob || negated) return (path) => test(path);
  const prefix = `${base}/`;
  // The usual `DIR/*.json`: a file directly in DIR with that extension, not hidden, without picomatch.
  const simple = /^\*(\.[\w-]+)$/.exec(picomatch.scan(glob).glob);
  if (simple) {
    const ext = simple[1]!;
    return (path) => path.startsWith(prefix) && path.endsWith(ext) && path.indexOf('/', prefix.length) < 0 && path[prefix.length] !== '.' && path.length > prefix.length + ext.length;
  }
  return (path) => path.startsWith(prefix) && test(path);
}

/** "@policies/x.json" -> "policies/x.json", or undefined when the value is not a file reference. */
export function policyReference(value: unknown): string | undefined {
  return typeof value === 'string' && value.startsWith('@') ? value.slice(1) : undefined;
}

/**
 * A sink must name a declared mount and an existing role in it; role_arn must
 * pick one of an assumed_role role's role_arns (required when it has several,
 * as Vault's sts endpoint requires role_arn then).
 * `role` is null when the role file exists but did not validate.
 */
export function checkSinkTarget(
  sink: SinkFile,
  mounts: readonly string[],
  rolesOfMount: ReadonlyMap<string, RoleSpec | null> | undefined,
  staticRolesOfMount?: ReadonlyMap<string, unknown>,
): Finding[] {
  const mount = sink.mount ?? 'aws';
  if (!mounts.includes(mount)) {
    const guess = closest(mount, mounts);
    return [{ pointer: '/mount', message: `mount "${mount}" is not declared in credops.yaml${guess ? ` (did you mean "${guess}"?)` : ` (mounts: ${mounts.join(', ')})`}` }];
  }
  if (sink.static_role !== undefined) {
    if (staticRolesOfMount?.has(sink.static_role)) return [];
    const guess = closest(sink.static_role, [...(staticRolesOfMount?.keys() ?? [])]);
    return [{ pointer: '/static_role', message: `static role "${sink.static_role}" does not exist in mount ${mount}${guess ? ` (did you mean "${guess}"?)` : ''}` }];
  }
  const roleName = sink.role!;
  if (!rolesOfMount?.has(roleName)) {
    const guess = closest(roleName, [...(rolesOfMount?.keys() ?? [])]);
    return [{ pointer: '/role', message: `role "${roleName}" does not exist in mount ${mount}${guess ? ` (did you mean "${guess}"?)` : ''}` }];
  }
  const role = rolesOfMount.get(roleName);
  if (!role) return [];
  const assumes = typesWhere(role.credential_types, (r) => r.uses.includes('role_arns')).length > 0;
  if (sink.role_arn !== undefined) {
    const assuming = CREDENTIAL_TYPES.filter((t) => rulesOf(t).uses.includes('role_arns'));
    if (!assumes) return [{ pointer: '/role_arn', message: `role_arn is only used with ${assuming.join(', ')} roles; role "${role.name}" is ${role.credential_types.join(',')}` }];
    if (!role.role_arns.includes(sink.role_arn)) {
      return [{ pointer: '/role_arn', message: `is not one of the role_arns of role "${role.name}" (${role.role_arns.join(', ')})` }];
    }
    return [];
  }
  if (assumes && role.role_arns.length > 1) {
    return [{ pointer: '/role', message: `role "${role.name}" has ${role.role_arns.length} role_arns: set role_arn to the one to assume` }];
  }
  return [];
}
