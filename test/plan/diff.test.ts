import { describe, expect, it } from 'vitest';
import { jsonEqual } from '../../src/plan/diff.js';
import { makePlan, planHasChanges } from '../../src/plan/index.js';
import type { Diagnostic } from '../../src/errors.js';
import { allow, applied, desired, leases, mount, role, sink } from './build.js';

describe('makePlan: roles', () => {
  it('plans a new role as a create with every field it sets, in Vault names', () => {
    const ci = role('aws', 'ci', { credential_types: ['assumed_role'], role_arns: ['arn:aws:iam::123456789012:role/ci'], default_sts_ttl: 900 });
    const plan = makePlan(desired({ roles: [ci] }), applied({}), []);

    expect(plan.roles).toHaveLength(1);
    expect(plan.roles[0]).toMatchObject({ action: 'create', mount: 'aws', name: 'ci', source: 'roles/ci.json', leasesToRevoke: 0, sinksToRotate: [] });
    expect(plan.roles[0]!.fields).toEqual([
      { field: 'credential_type', after: 'assumed_role' },
      { field: 'role_arns', after: ['arn:aws:iam::123456789012:role/ci'] },
      { field: 'default_sts_ttl', after: 900 },
    ]);
    expect(plan.summary).toEqual({ add: 1, change: 0, destroy: 0 });
  });

  it('shows only the fields that changed, old and new value', () => {
    const before = role('aws', 'deploy', { user_path: '/ci/', max_sts_ttl: 3600 });
    const after = role('aws', 'deploy', { user_path: '/deploy/', max_sts_ttl: 3600 });
    const plan = makePlan(desired({ roles: [after] }), applied({ roles: [before] }), []);

    expect(plan.roles[0]!.action).toBe('update');
    expect(plan.roles[0]!.fields).toEqual([{ field: 'user_path', before: '/ci/', after: '/deploy/' }]);
    expect(plan.summary).toEqual({ add: 0, change: 1, destroy: 0 });
  });

  it('treats a reformatted policy document as no change', () => {
    const compact = role('aws', 'audit', {
      policy_document: { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: ['s3:ListBucket', 's3:GetObject', 's3:GetObject'], Resource: 'arn:aws:s3:::logs/*' } },
    });
    const reformatted = role('aws', 'audit', {
      policy_document: JSON.parse(`{
        "Statement": [ { "Resource": ["arn:aws:s3:::logs/*"],
                         "Effect": "Allow",
                         "Action": [ "s3:GetObject", "s3:ListBucket" ] } ],
        "Version": "2012-10-17" }`),
    });
    const plan = makePlan(desired({ roles: [reformatted] }), applied({ roles: [compact] }), []);

    expect(plan.roles).toEqual([]);
    expect(planHasChanges(plan)).toBe(false);
  });

  it('treats condition values and principals as sets too', () => {
    const statement = (values: string | string[]) => ({
      Effect: 'Allow' as const,
      Action: 's3:GetObject',
      Resource: '*',
      Condition: { StringEquals: { 'aws:SourceVpc': values } },
    });
    const before = role('aws', 'vpc', { policy_document: { Statement: [statement(['vpc-2', 'vpc-1'])] } });
    const after = role('aws', 'vpc', { policy_document: { Statement: [statement(['vpc-1', 'vpc-2'])] } });
    expect(makePlan(desired({ roles: [after] }), applied({ roles: [before] }), []).roles).toEqual([]);

    const single = role('aws', 'vpc', { policy_document: { Statement: [statement('vpc-1')] } });
    const plan = makePlan(desired({ roles: [single] }), applied({ roles: [before] }), []);
    expect(plan.roles[0]!.fields.map((f) => f.field)).toEqual(['policy_document']);
  });

  it('ignores a moved role file or policy file when the content is the same', () => {
    const before = role('aws', 'audit', { source: 'roles/audit.json', policy_file: 'policies/a.json', policy_document: allow('s3:GetObject') });
    const after = { ...before, source: 'roles/audit-renamed.json', policy_file: 'policies/b.json' };
    expect(makePlan(desired({ roles: [after] }), applied({ roles: [before] }), []).roles).toEqual([]);
  });

  it('compares policy_arns, iam_groups, role_arns and credential types as sets', () => {
    const before = role('aws', 'deploy', { policy_arns: ['arn:a', 'arn:b'], iam_groups: ['g1', 'g2'], credential_types: ['iam_user', 'federation_token'] });
    const after = role('aws', 'deploy', { policy_arns: ['arn:b', 'arn:a', 'arn:a'], iam_groups: ['g2', 'g1'], credential_types: ['federation_token', 'iam_user'] });
    expect(makePlan(desired({ roles: [after] }), applied({ roles: [before] }), []).roles).toEqual([]);

    const withC = role('aws', 'deploy', { ...after, policy_arns: ['arn:c', 'arn:a', 'arn:b'] });
    const plan = makePlan(desired({ roles: [withC] }), applied({ roles: [before] }), []);
    expect(plan.roles[0]!.fields).toEqual([{ field: 'policy_arns', before: ['arn:a', 'arn:b'], after: ['arn:a', 'arn:b', 'arn:c'] }]);
  });

  it('compares tags as maps, whatever the key order', () => {
    const before = role('aws', 'deploy', { iam_tags: { team: 'platform', env: 'dev' } });
    const same = role('aws', 'deploy', { iam_tags: { env: 'dev', team: 'platform' } });
    expect(makePlan(desired({ roles: [same] }), applied({ roles: [before] }), []).roles).toEqual([]);

    const changed = role('aws', 'deploy', { iam_tags: { env: 'prod', team: 'platform' } });
    const plan = makePlan(desired({ roles: [changed] }), applied({ roles: [before] }), []);
    expect(plan.roles[0]!.fields).toEqual([{ field: 'iam_tags', before: { env: 'dev', team: 'platform' }, after: { env: 'prod', team: 'platform' } }]);
  });

  it('treats an empty list or map the same as an absent one (Vault drops empty values)', () => {
    const before = role('aws', 'deploy', { policy_arns: [], iam_tags: {} });
    const after = role('aws', 'deploy');
    expect(makePlan(desired({ roles: [after] }), applied({ roles: [before] }), []).roles).toEqual([]);
  });

  it('plans a removed role as a destroy that revokes its own live leases only', () => {
    const legacy = role('aws', 'legacy');
    const otherMount = role('aws-eu', 'legacy');
    const live = [...leases('aws', 'legacy', 3), ...leases('aws-eu', 'legacy', 2), ...leases('aws', 'deploy', 1)];
    const plan = makePlan(
      desired({ roles: [otherMount], mounts: [mount('aws'), mount('aws-eu')] }),
      applied({ roles: [legacy, otherMount], mounts: [mount('aws'), mount('aws-eu')] }),
      live,
    );

    expect(plan.roles).toHaveLength(1);
    expect(plan.roles[0]).toMatchObject({ action: 'delete', mount: 'aws', name: 'legacy', leasesToRevoke: 3 });
    expect(plan.roles[0]!.fields).toEqual([{ field: 'credential_type', before: 'iam_user' }]);
    expect(plan.summary).toEqual({ add: 0, change: 0, destroy: 1 });
  });

  it('moving a role to another mount destroys the old address and creates the new one', () => {
    const mounts = [mount('aws'), mount('aws-eu')];
    const plan = makePlan(desired({ roles: [role('aws-eu', 'deploy')], mounts }), applied({ roles: [role('aws', 'deploy')], mounts }), leases('aws', 'deploy', 2));
    expect(plan.roles.map((r) => [r.action, `${r.mount}/${r.name}`, r.leasesToRevoke])).toEqual([
      ['delete', 'aws/deploy', 2],
      ['create', 'aws-eu/deploy', 0],
    ]);
  });

  it('rotates the existing sinks of a role whose permissions change, not new sinks nor other roles', () => {
    const before = role('aws', 'deploy', { policy_document: allow('s3:GetObject') });
    const after = role('aws', 'deploy', { policy_document: allow(['s3:GetObject', 's3:PutObject']) });
    const sinks = [sink('deploy-file'), sink('deploy-sm', { type: 'secretsmanager', config: { secret_id: 'ci/deploy' } }), sink('other', { role: 'ci' })];
    const plan = makePlan(
      desired({ roles: [after, role('aws', 'ci')], sinks: [...sinks, sink('deploy-new')] }),
      applied({ roles: [before, role('aws', 'ci')], sinks }),
      [],
    );

    expect(plan.roles[0]!.sinksToRotate).toEqual(['deploy-file', 'deploy-sm']);
    expect(plan.sinks.map((s) => [s.action, s.name])).toEqual([['create', 'deploy-new']]);
  });

  it.each([
    ['policy_arns', { policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }],
    ['iam_groups', { iam_groups: ['deployers'] }],
    ['role_arns', { credential_types: ['assumed_role' as const], role_arns: ['arn:aws:iam::1:role/x'] }],
    ['permissions_boundary_arn', { permissions_boundary_arn: 'arn:aws:iam::1:policy/boundary' }],
    ['user_path', { user_path: '/deploy/' }],
    ['credential_type', { credential_types: ['federation_token' as const] }],
  ])('a change of %s rotates the role’s sinks', (_field, fields) => {
    const plan = makePlan(desired({ roles: [role('aws', 'deploy', fields)], sinks: [sink('deploy-file')] }), applied({ roles: [role('aws', 'deploy')], sinks: [sink('deploy-file')] }), []);
    expect(plan.roles[0]!.sinksToRotate).toEqual(['deploy-file']);
  });

  it('does not rotate sinks for a TTL or external id change: the next issue picks it up', () => {
    const before = role('aws', 'ci', { credential_types: ['assumed_role'], role_arns: ['arn:r'], default_sts_ttl: 900 });
    const after = { ...before, default_sts_ttl: 1800, external_id: 'abc123' };
    const plan = makePlan(desired({ roles: [after], sinks: [sink('ci-file', { role: 'ci' })] }), applied({ roles: [before], sinks: [sink('ci-file', { role: 'ci' })] }), []);
    expect(plan.roles[0]!.action).toBe('update');
    expect(plan.roles[0]!.sinksToRotate).toEqual([]);
  });
});

describe('makePlan: sinks', () => {
  const roles = [role('aws', 'deploy'), role('aws', 'ci')];

  it('plans created, changed and removed sinks keyed by name', () => {
    const plan = makePlan(
      desired({ roles, sinks: [sink('a'), sink('b', { config: { path: '/run/creds/b2' } })] }),
      applied({ roles, sinks: [sink('b'), sink('c')] }),
      [],
    );
    expect(plan.sinks.map((s) => [s.action, s.name, s.rotate])).toEqual([
      ['create', 'a', false],
      ['update', 'b', true],
      ['delete', 'c', false],
    ]);
    expect(plan.sinks[1]!.fields).toEqual([{ field: 'config.path', before: '/run/creds/b', after: '/run/creds/b2' }]);
    expect(plan.summary).toEqual({ add: 1, change: 1, destroy: 1 });
  });

  it.each([
    ['role', { role: 'ci' }, true],
    ['mount', { mount: 'aws-eu' }, true],
    ['ttl', { ttl: 600 }, true],
    ['type', { type: 'secretsmanager' }, true],
    ['config', { config: { path: '/elsewhere' } }, true],
    ['grace', { grace: 60 }, false],
    ['renew_before', { renew_before: 120 }, false],
    ['deletion_policy', { deletion_policy: 'retain' as const }, false],
    ['verify', { verify: true }, false],
  ])('a change of the sink’s %s rotates its credential: %s', (_field, fields, rotates) => {
    const plan = makePlan(desired({ roles, sinks: [sink('s', fields)] }), applied({ roles, sinks: [sink('s')] }), []);
    expect(plan.sinks[0]!.action).toBe('update');
    expect(plan.sinks[0]!.rotate).toBe(rotates);
  });

  it('compares sink config key by key, nested values whatever their key order', () => {
    const before = sink('s', { config: { path: '/p', mode: '0600', labels: { a: '1', b: '2' } } });
    const reordered = sink('s', { config: { labels: { b: '2', a: '1' }, mode: '0600', path: '/p' } });
    expect(makePlan(desired({ roles, sinks: [reordered] }), applied({ roles, sinks: [before] }), []).sinks).toEqual([]);

    const changed = sink('s', { config: { path: '/p', labels: { a: '1', b: '3' } } });
    const plan = makePlan(desired({ roles, sinks: [changed] }), applied({ roles, sinks: [before] }), []);
    expect(plan.sinks[0]!.fields).toEqual([
      { field: 'config.labels', before: { a: '1', b: '2' }, after: { a: '1', b: '3' } },
      { field: 'config.mode', before: '0600' },
    ]);
  });

  it('notices a change of a sink config field named like a secret but never puts its value in the plan', () => {
    const before = sink('hook', { type: 'webhook', config: { url: 'https://example.test/hook', token: 'old-token-value', auth: { password: 'pw-1', user: 'ci' } } });
    const after = sink('hook', { type: 'webhook', config: { url: 'https://example.test/hook', token: 'new-token-value', auth: { password: 'pw-2', user: 'ci' } } });
    const plan = makePlan(desired({ roles, sinks: [after] }), applied({ roles, sinks: [before] }), []);

    expect(plan.sinks[0]!.fields).toEqual([
      { field: 'config.auth', before: { password: '(sensitive value)', user: 'ci' }, after: { password: '(sensitive value)', user: 'ci' } },
      { field: 'config.token', before: '(sensitive value)', after: '(sensitive value)', sensitive: true },
    ]);
    expect(JSON.stringify(plan)).not.toMatch(/token-value|pw-1|pw-2/);
  });
});

describe('makePlan: mounts', () => {
  it('plans added, changed and removed mounts and counts them in the summary', () => {
    const plan = makePlan(
      desired({ mounts: [mount('aws', { lease: 3600, region: 'us-east-1' }), mount('aws-eu', { region: 'eu-west-1' })] }),
      applied({ mounts: [mount('aws', { region: 'us-east-1' }), mount('aws-old')] }),
      [],
    );
    expect(plan.mounts).toEqual([
      { action: 'update', name: 'aws', fields: [{ field: 'lease', before: 768 * 3600, after: 3600 }] },
      {
        action: 'create',
        name: 'aws-eu',
        fields: [
          { field: 'region', after: 'eu-west-1' },
          { field: 'lease', after: 768 * 3600 },
          { field: 'lease_max', after: 768 * 3600 },
          { field: 'roles', after: 'aws-eu/roles/*.json' },
        ],
      },
      {
        action: 'delete',
        name: 'aws-old',
        fields: [
          { field: 'lease', before: 768 * 3600 },
          { field: 'lease_max', before: 768 * 3600 },
          { field: 'roles', before: 'aws-old/roles/*.json' },
        ],
      },
    ]);
    expect(plan.summary).toEqual({ add: 1, change: 1, destroy: 1 });
  });
});

describe('makePlan: the plan as a whole', () => {
  it('records the repo commit and the state it was made against', () => {
    const plan = makePlan(desired({}, 'abc123'), applied({}, 7, 'def456'), []);
    expect(plan).toMatchObject({ formatVersion: 1, repo: 'examples/basic', commit: 'abc123', state: { commit: 'def456', serial: 7 } });

    const fresh = makePlan(desired({ roles: [role('aws', 'x')] }), { roles: [], sinks: [], mounts: [], serial: 0 }, []);
    expect(fresh.state).toEqual({ serial: 0 });
  });

  it('leaves out everything that is unchanged: no changes', () => {
    const roles = [role('aws', 'deploy', { policy_document: allow('s3:GetObject') })];
    const sinks = [sink('deploy-file')];
    const plan = makePlan(desired({ roles, sinks }), applied({ roles, sinks }), leases('aws', 'deploy', 2));
    expect(plan).toMatchObject({ mounts: [], roles: [], sinks: [], summary: { add: 0, change: 0, destroy: 0 } });
    expect(planHasChanges(plan)).toBe(false);
  });

  it('sorts roles by mount and name whatever the input order', () => {
    const mounts = [mount('aws'), mount('aws-eu')];
    const plan = makePlan(desired({ roles: [role('aws-eu', 'a'), role('aws', 'z'), role('aws', 'b')], mounts }), applied({ mounts }), []);
    expect(plan.roles.map((r) => `${r.mount}/${r.name}`)).toEqual(['aws/b', 'aws/z', 'aws-eu/a']);
  });

  it('carries the validation warnings, sorted by position', () => {
    const warnings: Diagnostic[] = [
      { file: 'roles/b.json', line: 1, column: 1, pointer: '', severity: 'warning', message: 'second' },
      { file: 'roles/a.json', line: 9, column: 2, pointer: '/policy_document', severity: 'warning', message: 'first' },
    ];
    const plan = makePlan(desired({}), applied({}), [], warnings);
    expect(plan.warnings).toEqual([
      { file: 'roles/a.json', line: 9, column: 2, pointer: '/policy_document', message: 'first' },
      { file: 'roles/b.json', line: 1, column: 1, pointer: '', message: 'second' },
    ]);
  });
});

describe('jsonEqual (the no-change shortcut of a role diff)', () => {
  it('is equality of JSON values: keys in any order, arrays in order, nothing else equal', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(jsonEqual({ a: undefined }, {})).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
    expect(jsonEqual({ a: null }, { a: {} })).toBe(false);
    expect(jsonEqual('1', 1)).toBe(false);
  });
});

describe('matching roles of the repo and the state', () => {
  it('gives the same plan whether or not either side is in order', () => {
    const r = (name: string, actions = 's3:GetObject') => role('aws', name, { policy_document: allow(actions) });
    const sorted = makePlan(desired({ roles: [r('a'), r('b', 'ec2:*'), r('d')] }), applied({ roles: [r('a'), r('b'), r('c')] }), []);
    const shuffled = makePlan(desired({ roles: [r('d'), r('a'), r('b', 'ec2:*')] }), applied({ roles: [r('c'), r('a'), r('b')] }), []);
    expect(sorted.roles.map((c) => `${c.action} ${c.name}`)).toEqual(['update b', 'delete c', 'create d']);
    expect(shuffled).toEqual(sorted);
  });
});
