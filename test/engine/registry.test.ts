import { describe, expect, it } from 'vitest';
import { CREDENTIAL_TYPES, type RoleSpec } from '../../src/model/types.js';
import { credentialKind, credentialKindFor, credentialKinds } from '../../src/engine/registry.js';
import { chooseRoleArn } from '../../src/engine/assumed-role.js';

const role = (credential_types: RoleSpec['credential_types'], extra: Partial<RoleSpec> = {}): RoleSpec => ({
  mount: 'aws',
  name: 'r',
  source: 'roles/r.json',
  credential_types,
  policy_arns: [],
  iam_groups: [],
  role_arns: [],
  iam_tags: {},
  session_tags: {},
  ...extra,
});

describe('credential type registry', () => {
  it('has one kind per credential type, and only iam_user renews', () => {
    expect(Object.keys(credentialKinds).sort()).toEqual([...CREDENTIAL_TYPES].sort());
    for (const type of CREDENTIAL_TYPES) expect(credentialKinds[type].type).toBe(type);
    expect(CREDENTIAL_TYPES.filter((t) => credentialKinds[t].renewable)).toEqual(['iam_user']);
    expect(credentialKind('nope')).toBeUndefined();
    expect(credentialKind('toString')).toBeUndefined();
  });

  it("follows Vault's rule: one type on both paths; legacy iam_user+federation_token by path", () => {
    expect(credentialKindFor(role(['assumed_role']), 'creds').type).toBe('assumed_role');
    expect(credentialKindFor(role(['iam_user']), 'sts').type).toBe('iam_user');
    expect(credentialKindFor(role(['iam_user', 'federation_token']), 'creds').type).toBe('iam_user');
    expect(credentialKindFor(role(['federation_token', 'iam_user']), 'sts').type).toBe('federation_token');
    expect(() => credentialKindFor(role(['assumed_role', 'session_token']), 'sts')).toThrow('only iam_user with federation_token');
    expect(() => credentialKindFor(role([]), 'creds')).toThrow('has no credential_type');
  });

  it('chooses the role ARN', () => {
    const one = role(['assumed_role'], { role_arns: ['arn:a'] });
    const two = role(['assumed_role'], { role_arns: ['arn:a', 'arn:b'] });
    expect(chooseRoleArn(one, undefined)).toBe('arn:a');
    expect(chooseRoleArn(two, 'arn:b')).toBe('arn:b');
    expect(() => chooseRoleArn(two, undefined)).toThrow('aws/roles/r has 2 role_arns; choose one with --role-arn:\n  arn:a\n  arn:b');
    expect(() => chooseRoleArn(one, 'arn:c')).toThrow('role_arn arn:c is not one of the role_arns of aws/roles/r: arn:a');
    expect(() => chooseRoleArn(role(['assumed_role']), undefined)).toThrow('has no role_arns');
  });
});
