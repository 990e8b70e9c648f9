import { describe, expect, it } from 'vitest';
import { ACCOUNT, POLICY, POLICY_ARN, ROLE_ARN, validate } from './helpers.js';

/** One role file (roles/r.json) plus a shared policy file; returns the error lines. */
function roleErrors(role: unknown): string[] {
  return validate({ 'roles/r.json': role, 'policies/shared.json': POLICY }).errors;
}

const iamUser = { credential_type: 'iam_user' };
const assumed = { credential_type: 'assumed_role', role_arns: [ROLE_ARN] };

describe('role schema: accepted', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['iam_user', { ...iamUser }],
    ['assumed_role', { ...assumed }],
    ['federation_token', { credential_type: 'federation_token', policy_document: POLICY }],
    ['federation_token with policy_arns only', { credential_type: 'federation_token', policy_arns: [POLICY_ARN] }],
    ['federation_token whose policy comes from its groups', { credential_type: 'federation_token', iam_groups: ['developers'] }],
    ['session_token', { credential_type: 'session_token' }],
    ['a legacy role as Vault prints it', { credential_type: 'iam_user,federation_token', policy_document: JSON.stringify(POLICY) }],
    ['policy_document as an object', { ...iamUser, policy_document: POLICY }],
    ['policy_document as a JSON string', { ...iamUser, policy_document: JSON.stringify(POLICY) }],
    ['policy_document as @policies/NAME.json', { ...iamUser, policy_document: '@policies/shared.json' }],
    ['policy_document empty (Vault prints "")', { ...iamUser, policy_document: '' }],
    ['policy_document null', { ...iamUser, policy_document: null }],
    ['policy_arns as an array', { ...iamUser, policy_arns: [POLICY_ARN, `arn:aws:iam::${ACCOUNT}:policy/team/custom`] }],
    ['policy_arns as a comma string', { ...iamUser, policy_arns: `${POLICY_ARN}, arn:aws:iam::${ACCOUNT}:policy/x` }],
    ['policy_arns null / [] / ""', { ...iamUser, policy_arns: null }],
    ['policy_arns in the aws-us-gov partition', { ...iamUser, policy_arns: ['arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess'] }],
    ['iam_groups as an array', { ...iamUser, iam_groups: ['devs', 'ops+x@y.z'] }],
    ['iam_groups as a comma string', { ...iamUser, iam_groups: 'devs,ops' }],
    ['iam_groups on assumed_role (their policies join the session policy)', { ...assumed, iam_groups: ['devs'] }],
    ['role_arns as a comma string', { credential_type: 'assumed_role', role_arns: `${ROLE_ARN},arn:aws:iam::${ACCOUNT}:role/path/other` }],
    ['default_sts_ttl in seconds', { ...assumed, default_sts_ttl: 3600 }],
    ['default_sts_ttl as a duration', { ...assumed, default_sts_ttl: '1h', max_sts_ttl: '12h' }],
    ['TTLs as numeric strings and compound durations', { ...assumed, default_sts_ttl: '3600', max_sts_ttl: '2h30m' }],
    ['TTLs 0 on iam_user (Vault prints 0)', { ...iamUser, default_sts_ttl: 0, max_sts_ttl: 0 }],
    ['user_path "/"', { ...iamUser, user_path: '/' }],
    ['user_path with segments', { ...iamUser, user_path: '/team/app/' }],
    ['user_path "" on assumed_role (Vault prints "")', { ...assumed, user_path: '' }],
    ['permissions_boundary_arn', { ...iamUser, permissions_boundary_arn: `arn:aws:iam::${ACCOUNT}:policy/boundary` }],
    ['iam_tags as a map', { ...iamUser, iam_tags: { team: 'platform', 'cost-center': '42', 'a:b/c=d': 'v w' } }],
    ['iam_tags as key=value strings', { ...iamUser, iam_tags: ['team=platform', 'empty='] }],
    ['iam_tags {} / null', { ...assumed, iam_tags: null, session_tags: {} }],
    ['session_tags on assumed_role', { ...assumed, session_tags: { team: 'x' } }],
    ['external_id on assumed_role', { ...assumed, external_id: 'abc-123' }],
    ['mfa_serial_number on session_token', { credential_type: 'session_token', mfa_serial_number: `arn:aws:iam::${ACCOUNT}:mfa/alice` }],
    ['legacy policy', { policy: JSON.stringify(POLICY) }],
    ['legacy arn of a role', { arn: ROLE_ARN }],
    ['legacy arn of a policy', { arn: POLICY_ARN }],
    ['$schema for editors', { $schema: 'https://credops.dev/schemas/role.schema.json', ...iamUser }],
  ];
  it.each(cases)('%s', (_name, role) => {
    expect(roleErrors(role)).toEqual([]);
  });
});

describe('role schema: rejected', () => {
  const cases: [string, unknown, string][] = [
    ['an iam_tags key "__proto__" (it would be hidden in the plan and still sent to IAM)', '{"credential_type": "iam_user", "iam_tags": {"__proto__": "x"}}', '/iam_tags/__proto__ key must be a tag key of 1 to 128'],
    ['a session_tags item "__proto__=x"', { ...assumed, session_tags: ['__proto__=x'] }, '/session_tags/0 must be "key=value"'],
    ['an unknown credential_type', { credential_type: 'iam-user' }, '/credential_type must be one of iam_user, assumed_role, federation_token, session_token (found "iam-user")'],
    ['credential_type of the wrong type', { credential_type: 5 }, '/credential_type must be a string or null (found 5)'],
    ['no credential_type', {}, 'did not supply credential_type'],
    ['a null credential_type', { credential_type: null }, '/credential_type did not supply credential_type'],
    ['a role that is not an object', ['iam_user'], 'must be an object (found an array)'],
    ['an unknown field, with a suggestion', { ...assumed, role_arn: ROLE_ARN }, '/role_arn unknown field "role_arn" (did you mean "role_arns"?)'],
    ['policy_document of the wrong type', { ...iamUser, policy_document: 5 }, '/policy_document must be an object, a string or null (found 5)'],
    ['an @ reference outside policies/', { ...iamUser, policy_document: '@policy/x.json' }, '/policy_document must be "@policies/NAME.json"'],
    ['an @ reference to a missing file', { ...iamUser, policy_document: '@policies/missing.json' }, '/policy_document policy file policies/missing.json does not exist'],
    ['a policy_document string that is not JSON', { ...iamUser, policy_document: '{"Statement": [' }, '/policy_document is not valid JSON'],
    ['a policy_document without Statement', { ...iamUser, policy_document: { Version: '2012-10-17' } }, '/policy_document missing required field "Statement"'],
    ['a policy_document string that is not a policy', { ...iamUser, policy_document: '{"Version": "2012-10-17"}' }, '/policy_document missing required field "Statement"'],
    ['a policy ARN with a bad account', { ...iamUser, policy_arns: ['arn:aws:iam::123:policy/x'] }, '/policy_arns/0 must be an IAM policy ARN'],
    ['policy_arns as a string that is not ARNs', { ...iamUser, policy_arns: 'ReadOnlyAccess' }, '/policy_arns must be a list of IAM policy ARNs'],
    ['policy_arns of the wrong type', { ...iamUser, policy_arns: { a: 1 } }, '/policy_arns must be an array, a string or null (found an object)'],
    ['an IAM group name with spaces', { ...iamUser, iam_groups: ['bad group'] }, '/iam_groups/0 must be an IAM group name'],
    ['role_arns on iam_user', { ...iamUser, role_arns: [ROLE_ARN] }, "/role_arns cannot supply role_arns when credential_type isn't assumed_role"],
    ['a policy ARN in role_arns', { credential_type: 'assumed_role', role_arns: [POLICY_ARN] }, '/role_arns/0 must be an IAM role ARN'],
    ['a TTL that is not a duration', { ...assumed, default_sts_ttl: '15 min' }, '/default_sts_ttl must be a number of seconds or a duration such as 900, "15m", "1h", "768h" (found "15 min")'],
    ['a negative TTL', { ...assumed, max_sts_ttl: -5 }, '/max_sts_ttl must be a number of seconds or a duration such as 900, "15m", "1h", "768h" (found -5)'],
    ['a fractional TTL', { ...assumed, max_sts_ttl: 1.5 }, '/max_sts_ttl must be a whole number, a string or null (found 1.5)'],
    ['default_sts_ttl on iam_user', { ...iamUser, default_sts_ttl: 3600 }, '/default_sts_ttl default_sts_ttl parameter only valid for assumed_role, federation_token, and session_token credential types'],
    ['max_sts_ttl on iam_user', { ...iamUser, max_sts_ttl: '1h' }, '/max_sts_ttl max_sts_ttl parameter only valid for'],
    ['default_sts_ttl above max_sts_ttl', { ...assumed, default_sts_ttl: '2h', max_sts_ttl: 3600 }, '/default_sts_ttl "default_sts_ttl" value must be less than or equal to "max_sts_ttl" value'],
    ['a user_path without slashes', { ...iamUser, user_path: 'team' }, '/user_path must start and end with "/"'],
    ['a user_path without the final slash', { ...iamUser, user_path: '/team' }, '/user_path must start and end with "/"'],
    ['user_path on assumed_role', { ...assumed, user_path: '/x/' }, '/user_path user_path parameter only valid for iam_user credential type'],
    ['permissions_boundary_arn on assumed_role', { ...assumed, permissions_boundary_arn: POLICY_ARN }, "/permissions_boundary_arn cannot supply permissions_boundary_arn when credential_type isn't iam_user"],
    ['a role ARN as permissions boundary', { ...iamUser, permissions_boundary_arn: ROLE_ARN }, '/permissions_boundary_arn must be an IAM policy ARN'],
    ['a reserved tag key', { ...iamUser, iam_tags: { 'aws:owner': 'x' } }, '/iam_tags/aws:owner key must be a tag key'],
    ['a tag value that is not a string', { ...iamUser, iam_tags: { team: 5 } }, '/iam_tags/team must be a string (found 5)'],
    ['a tag list item without "="', { ...iamUser, iam_tags: ['team'] }, '/iam_tags/0 must be "key=value"'],
    ['a tag value over 256 characters', { ...iamUser, iam_tags: { team: 'x'.repeat(257) } }, '/iam_tags/team must be a tag value of at most 256'],
    ['a tag key over 128 characters', { ...iamUser, iam_tags: { ['k'.repeat(129)]: 'v' } }, 'key must be a tag key of 1 to 128'],
    ['more than 50 tags', { ...iamUser, iam_tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) }, '/iam_tags must have at most 50 entries (found 51)'],
    ['session_tags on iam_user', { ...iamUser, session_tags: { a: 'b' } }, "/session_tags cannot supply session_tags when credential_type isn't assumed_role"],
    ['external_id on federation_token', { credential_type: 'federation_token', external_id: 'abc' }, "/external_id cannot supply external_id when credential_type isn't assumed_role"],
    ['an external_id too short', { ...assumed, external_id: 'x' }, '/external_id must be 2 to 1224 characters'],
    ['an MFA serial too short', { credential_type: 'session_token', mfa_serial_number: 'abc' }, '/mfa_serial_number must be an MFA device serial number'],
    ['a policy on session_token', { credential_type: 'session_token', policy_document: POLICY }, '/policy_document cannot supply a policy or role when using credential_type session_token'],
    ['policy_arns on session_token', { credential_type: 'session_token', policy_arns: [POLICY_ARN] }, '/policy_arns cannot supply a policy or role when using credential_type session_token'],
    ['legacy policy and arn together', { policy: JSON.stringify(POLICY), arn: ROLE_ARN }, '/arn only one of policy or arn should be provided'],
    ['legacy arn with credential_type', { arn: ROLE_ARN, credential_type: 'assumed_role' }, '/credential_type cannot supply deprecated role or policy parameters with an explicit credential_type'],
    ['legacy policy with role_arns', { policy: JSON.stringify(POLICY), role_arns: [ROLE_ARN] }, '/role_arns cannot supply deprecated role or policy parameters with role_arns'],
    ['a legacy arn that is neither role nor policy', { arn: 'arn:aws:s3:::bucket' }, '/arn must be an IAM role ARN or an IAM policy ARN'],
    ['a legacy policy that is not JSON', { policy: 'not json' }, '/policy is not valid JSON'],
    ['federation_token without a policy (Vault refuses it when issuing)', { credential_type: 'federation_token' }, '/credential_type must specify at least one of policy_arns or policy_document with federation_token credential_type'],
    ['federation_token with empty policies', { credential_type: 'federation_token', policy_document: '', policy_arns: [], iam_groups: null }, '/credential_type must specify at least one of policy_arns or policy_document with federation_token credential_type'],
  ];
  it.each(cases)('%s', (_name, role, expected) => {
    const errors = roleErrors(role);
    expect(errors.some((e) => e.includes(expected)), `expected "${expected}" in:\n${errors.join('\n')}`).toBe(true);
  });
});

describe('role schema: warnings', () => {
  it('warns about fields Vault ignores and STS TTLs AWS refuses, without failing', () => {
    const { errors, warnings } = validate({
      'roles/a.json': { ...assumed, iam_tags: { a: 'b' }, default_sts_ttl: 60 },
      'roles/b.json': { policy: JSON.stringify(POLICY) },
    });
    expect(errors).toEqual([]);
    expect(warnings.join('\n')).toMatch(/roles\/a\.json:\d+:\d+: warning: \/iam_tags iam_tags only applies to iam_user roles/);
    expect(warnings.join('\n')).toMatch(/roles\/a\.json:\d+:\d+: warning: \/default_sts_ttl 60 s is below the 900 s minimum of AWS STS/);
    expect(warnings.join('\n')).toMatch(/roles\/b\.json:\d+:\d+: warning: \/policy "policy" is a legacy field/);
  });
});
