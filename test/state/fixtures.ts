import type { JournalEntry, Lease, MountConfig, RoleSpec, SinkSpec } from '../../src/model/types.js';

export function role(name: string, over: Partial<RoleSpec> = {}): RoleSpec {
  return {
    mount: 'aws',
    name,
    source: `roles/${name}.json`,
    credential_types: ['iam_user'],
    policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] },
    policy_arns: [],
    iam_groups: [],
    role_arns: [],
    iam_tags: {},
    session_tags: {},
    ...over,
  };
}

export function sink(name: string, roleName: string): SinkSpec {
  return {
    name,
    source: `sinks/${name}.yaml`,
    mount: 'aws',
    role: roleName,
    type: 'file',
    config: { path: `/tmp/${name}.json` },
    grace: 300,
    deletion_policy: 'delete',
    verify: false,
  };
}

export function mount(name: string): MountConfig {
  return { name, region: 'us-east-1', lease: 2_764_800, lease_max: 2_764_800, roles: 'roles/*.json' };
}

export function lease(leaseId: string, over: Partial<Lease> = {}): Lease {
  const [mountName = 'aws', path = 'creds', roleName = 'deploy'] = leaseId.split('/');
  return {
    leaseId,
    mount: mountName,
    role: roleName,
    credentialType: path === 'sts' ? 'assumed_role' : 'iam_user',
    path: path === 'sts' ? 'sts' : 'creds',
    issuedAt: 1_000,
    expiresAt: 3_601_000,
    maxExpiresAt: 3_601_000,
    renewable: path !== 'sts',
    resources: { userName: `credops-${roleName}-1`, accessKeyId: 'AKIAEXAMPLE0000001' },
    ...over,
  };
}

export function journal(id: string, leaseId: string, createdAt = 1_000): JournalEntry {
  return { id, leaseId, mount: 'aws', role: 'deploy', kind: 'iam_user.create', data: { userName: 'credops-deploy-1' }, createdAt };
}
