import { describe, expect, it } from 'vitest';
import { policyDelta } from '../../src/plan/index.js';
import type { PolicyStatement, RoleSpec } from '../../src/model/types.js';
import { allow, role } from './build.js';

const withStatements = (...statements: PolicyStatement[]): RoleSpec => role('aws', 'r', { policy_document: { Version: '2012-10-17', Statement: statements } });
const bucket = 'arn:aws:s3:::artifacts/*';

describe('policyDelta: actions added and removed', () => {
  it('lists the allowed actions a change adds and removes, as the user wrote them', () => {
    const delta = policyDelta(role('aws', 'r', { policy_document: allow(['s3:GetObject', 's3:DeleteObject'], bucket) }), role('aws', 'r', { policy_document: allow(['s3:GetObject', 's3:PutObject', 's3:Get*'], bucket) }));
    expect(delta).toEqual({ actionsAdded: ['s3:Get*', 's3:PutObject'], actionsRemoved: ['s3:DeleteObject'], widens: false, reasons: [] });
  });

  it('compares action names case-insensitively, as IAM does', () => {
    expect(policyDelta(role('aws', 'r', { policy_document: allow('s3:getobject', bucket) }), role('aws', 'r', { policy_document: allow('S3:GetObject', bucket) }))).toBeUndefined();
  });

  it('does not count denied actions as granted', () => {
    const after = withStatements({ Effect: 'Allow', Action: 's3:GetObject', Resource: bucket }, { Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' });
    expect(policyDelta(undefined, after)).toEqual({ actionsAdded: ['s3:GetObject'], actionsRemoved: [], widens: false, reasons: [] });
  });

  it('lists every action of a removed role as removed, and that never widens', () => {
    expect(policyDelta(role('aws', 'r', { policy_document: allow('*') }), undefined)).toEqual({ actionsAdded: [], actionsRemoved: ['*'], widens: false, reasons: [] });
  });

  it('has nothing to say about a role without a policy document', () => {
    expect(policyDelta(undefined, role('aws', 'r', { credential_types: ['session_token'] }))).toBeUndefined();
  });
});

describe('policyDelta: widening access', () => {
  const narrow = role('aws', 'r', { policy_document: allow('s3:GetObject', bucket) });

  it.each<[string, PolicyStatement, string]>([
    ['a "*" action', { Effect: 'Allow', Action: '*', Resource: bucket }, 'allows every action ("*")'],
    ['a whole service', { Effect: 'Allow', Action: 'S3:*', Resource: bucket }, 'allows every S3 action ("S3:*")'],
    ['a "*" resource', { Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }, 'on every resource ("Resource": "*"): s3:ListAllMyBuckets'],
    ['an allowing NotAction', { Effect: 'Allow', NotAction: ['iam:*', 'organizations:*'], Resource: bucket }, 'allows every action except iam:*, organizations:* (NotAction)'],
    ['an allowing NotResource', { Effect: 'Allow', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::secret/*' }, 'allows s3:GetObject except on arn:aws:s3:::secret/* (NotResource)'],
  ])('widens when a change adds %s', (_what, statement, reason) => {
    const delta = policyDelta(narrow, withStatements({ Effect: 'Allow', Action: 's3:GetObject', Resource: bucket }, statement));
    expect(delta?.widens).toBe(true);
    expect(delta?.reasons).toContain(reason);
  });

  it('widens when a change reaches a service the role could not reach before', () => {
    const delta = policyDelta(narrow, withStatements({ Effect: 'Allow', Action: ['s3:GetObject', 'kms:Decrypt'], Resource: bucket }));
    expect(delta).toEqual({ actionsAdded: ['kms:Decrypt'], actionsRemoved: [], widens: true, reasons: ['new service "kms"'] });
  });

  it('does not widen for another action of a service already granted, nor for a narrowing', () => {
    expect(policyDelta(narrow, role('aws', 'r', { policy_document: allow(['s3:GetObject', 's3:ListBucket'], bucket) }))?.widens).toBe(false);
    expect(policyDelta(role('aws', 'r', { policy_document: allow(['s3:GetObject', 's3:PutObject'], '*') }), narrow)?.widens).toBe(false);
  });

  it('widens when a Deny is taken away', () => {
    const guarded = withStatements({ Effect: 'Allow', Action: 's3:*', Resource: '*' }, { Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' });
    const unguarded = withStatements({ Effect: 'Allow', Action: 's3:*', Resource: '*' });
    expect(policyDelta(guarded, unguarded)).toEqual({ actionsAdded: [], actionsRemoved: [], widens: true, reasons: ['no longer denies s3:DeleteBucket'] });
  });

  it('widens for a new managed policy, group or role ARN, naming it', () => {
    const before = role('aws', 'r', { policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'], iam_groups: ['readers'], role_arns: ['arn:aws:iam::1:role/a'] });
    const after = role('aws', 'r', {
      policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess', 'arn:aws:iam::aws:policy/PowerUserAccess'],
      iam_groups: ['readers', 'admins'],
      role_arns: ['arn:aws:iam::1:role/b', 'arn:aws:iam::1:role/a'],
    });
    expect(policyDelta(before, after)?.reasons).toEqual([
      'attaches managed policy arn:aws:iam::aws:policy/PowerUserAccess',
      'adds IAM group admins',
      'may assume role arn:aws:iam::1:role/b',
    ]);
    expect(policyDelta(after, before)).toBeUndefined();
  });

  it('widens when the permissions boundary is lifted or replaced', () => {
    const bounded = role('aws', 'r', { permissions_boundary_arn: 'arn:aws:iam::1:policy/boundary' });
    expect(policyDelta(bounded, role('aws', 'r'))?.reasons).toEqual(['removes permissions boundary arn:aws:iam::1:policy/boundary']);
    expect(policyDelta(bounded, role('aws', 'r', { permissions_boundary_arn: 'arn:aws:iam::1:policy/wider' }))?.reasons).toEqual([
      'replaces permissions boundary arn:aws:iam::1:policy/boundary with arn:aws:iam::1:policy/wider',
    ]);
    expect(policyDelta(role('aws', 'r'), bounded)).toBeUndefined();
  });

  it('raises only wildcard reasons for a new role: its services and ARNs are all new', () => {
    const plain = role('aws', 'r', { policy_document: allow(['s3:GetObject', 'kms:Decrypt'], bucket), policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] });
    expect(policyDelta(undefined, plain)?.widens).toBe(false);
    expect(policyDelta(undefined, role('aws', 'r', { policy_document: allow('*') }))?.reasons).toEqual([
      'allows every action ("*")',
      'on every resource ("Resource": "*"): *',
    ]);
  });
});
