/** Plain-value builders for plan tests: a role, sink, mount or lease with Vault's defaults. */
import type { AppliedSnapshot, DesiredModel, Lease, MountConfig, PolicyDocument, RoleSpec, SinkSpec, StaticRoleSpec } from '../../src/model/types.js';

export const VAULT_DEFAULT_LEASE = 768 * 3600;

export function role(mount: string, name: string, fields: Partial<RoleSpec> = {}): RoleSpec {
  return {
    mount,
    name,
    source: mount === 'aws' ? `roles/${name}.json` : `${mount}/roles/${name}.json`,
    credential_types: ['iam_user'],
    policy_arns: [],
    iam_groups: [],
    role_arns: [],
    iam_tags: {},
    session_tags: {},
    ...fields,
  };
}

export function sink(name: string, fields: Partial<SinkSpec> = {}): SinkSpec {
  return {
    name,
    source: `sinks/${name}.yaml`,
    mount: 'aws',
    role: 'deploy',
    type: 'file',
    config: { path: `/run/creds/${name}` },
    grace: 300,
    deletion_policy: 'delete',
    verify: false,
    ...fields,
  };
}

export function mount(name: string, fields: Partial<MountConfig> = {}): MountConfig {
  return { name, lease: VAULT_DEFAULT_LEASE, lease_max: VAULT_DEFAULT_LEASE, roles: name === 'aws' ? 'roles/*.json' : `${name}/roles/*.json`, ...fields };
}

export function allow(actions: string | string[], resources: string | string[] = '*'): PolicyDocument {
  return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: resources }] };
}

export function desired(parts: { roles?: RoleSpec[]; staticRoles?: StaticRoleSpec[]; sinks?: SinkSpec[]; mounts?: MountConfig[] }, commit = '3f2a9c1d0b7e4f6a8c5d2e1f0a9b8c7d6e5f4a3b'): DesiredModel {
  const mounts = parts.mounts ?? [mount('aws')];
  return {
    repo: 'examples/basic',
    commit,
    config: { mounts: Object.fromEntries(mounts.map((m) => [m.name, m])) },
    roles: parts.roles ?? [],
    ...(parts.staticRoles && { staticRoles: parts.staticRoles }),
    sinks: parts.sinks ?? [],
  };
}

export function applied(parts: { roles?: RoleSpec[]; staticRoles?: StaticRoleSpec[]; sinks?: SinkSpec[]; mounts?: MountConfig[] }, serial = 4, commit = '9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d'): AppliedSnapshot {
  return { commit, appliedAt: 1_700_000_000_000, serial, roles: parts.roles ?? [], ...(parts.staticRoles && { staticRoles: parts.staticRoles }), sinks: parts.sinks ?? [], mounts: parts.mounts ?? [mount('aws')] };
}

export function leases(mountName: string, roleName: string, count: number): Lease[] {
  return Array.from({ length: count }, (_, i) => ({
    leaseId: `${mountName}/creds/${roleName}/lease${i}`,
    mount: mountName,
    role: roleName,
    credentialType: 'iam_user',
    path: 'creds',
    issuedAt: 1_700_000_000_000,
    expiresAt: 1_700_003_600_000,
    maxExpiresAt: 1_700_003_600_000,
    renewable: true,
    resources: { userName: `vault-${roleName}-${i}` },
  }));
}
