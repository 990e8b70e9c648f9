import { describe, expect, it } from 'vitest';
import { IAM_USER_INLINE_POLICY_MAX_CHARS, STS_POLICY_ARNS_MAX } from '../../src/limits.js';
import type { PolicyDocument } from '../../src/model/types.js';
import { policySize } from '../../src/schema/policy-lint.js';
import { ROLE_ARN, validate } from './helpers.js';

/** A policy whose compact JSON is exactly `size` characters without whitespace. */
function policyOfSize(size: number) {
  const base: PolicyDocument = { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::' } };
  const pad = size - policySize(base);
  return { ...base, Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${'b'.repeat(pad)}` } } satisfies PolicyDocument;
}
const arns = (n: number) => Array.from({ length: n }, (_, i) => `arn:aws:iam::123456789012:policy/p${i}`);

describe('policy lint: what AWS would refuse is an error', () => {
  it('iam_user inline policy: 2,048 characters without whitespace is the limit', () => {
    expect(policySize(policyOfSize(IAM_USER_INLINE_POLICY_MAX_CHARS))).toBe(IAM_USER_INLINE_POLICY_MAX_CHARS);
    // Indentation does not count: AWS ignores whitespace.
    const atLimit = JSON.stringify(policyOfSize(2048), null, 8);
    expect(validate({ 'roles/r.json': { credential_type: 'iam_user', policy_document: atLimit } }).errors).toEqual([]);
    const { errors } = validate({ 'roles/r.json': `{\n  "credential_type": "iam_user",\n  "policy_document": ${JSON.stringify(policyOfSize(2049))}\n}` });
    expect(errors).toEqual(['roles/r.json:3:22: error: /policy_document policy document is 2049 characters without whitespace; AWS accepts at most 2048 for an iam_user inline policy']);
  });

  it('STS session policy over its limit, naming the shared policy file', () => {
    const { errors } = validate({
      'policies/big.json': policyOfSize(2100),
      'roles/r.json': { credential_type: 'federation_token', policy_document: '@policies/big.json' },
    });
    expect(errors).toEqual(['roles/r.json:3:22: error: /policy_document policy document (policies/big.json) is 2100 characters without whitespace; AWS accepts at most 2048 for an STS session policy (federation_token)']);
  });

  it('more than 10 policy_arns for STS types; iam_user may have up to 20', () => {
    expect(validate({ 'roles/r.json': { credential_type: 'assumed_role', role_arns: [ROLE_ARN], policy_arns: arns(STS_POLICY_ARNS_MAX) } }).errors).toEqual([]);
    expect(validate({ 'roles/r.json': { credential_type: 'assumed_role', role_arns: [ROLE_ARN], policy_arns: arns(11) } }).errors).toEqual([
      'roles/r.json:6:18: error: /policy_arns 11 policy_arns; AWS accepts at most 10 session policy ARNs for assumed_role',
    ]);
    expect(validate({ 'roles/r.json': { credential_type: 'iam_user', policy_arns: arns(11) } }).errors).toEqual([]);
    expect(validate({ 'roles/r.json': { credential_type: 'iam_user', policy_arns: arns(21) } }).errors[0]).toContain('AWS attaches at most 20 managed policies to an IAM user');
  });

  it('a policy that is not valid JSON', () => {
    expect(validate({ 'roles/r.json': '{"credential_type": "iam_user", "policy_document": "{\\"Statement\\": 1"}' }).errors).toEqual([
      'roles/r.json:1:70: error: /policy_document is not valid JSON: expected "," or "}" after the value of "Statement", found end of file',
    ]);
  });
});

describe('policy lint: what is legal but risky is a warning', () => {
  it('Action "*" with Resource "*", once per policy file', () => {
    const admin = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
    const { errors, warnings, model } = validate({
      'policies/admin.json': admin,
      'roles/a.json': { credential_type: 'iam_user', policy_document: '@policies/admin.json' },
      'roles/b.json': { credential_type: 'federation_token', policy_document: '@policies/admin.json' },
    });
    expect(errors).toEqual([]);
    expect(model?.roles).toHaveLength(2);
    expect(warnings).toEqual(['policies/admin.json:6:17: warning: /Statement/0/Action allows every action on every resource (Action "*" with Resource "*"): this is full administrator access']);
  });

  it('Deny "*" is not a warning', () => {
    const deny = { Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] };
    expect(validate({ 'roles/a.json': { credential_type: 'iam_user', policy_document: deny } }).warnings).toEqual([]);
  });

  it('unknown service prefixes, with a suggestion', () => {
    const policy = { Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 'sts:AssumeRole', 'ec2:Describe*', 'secretmanager:GetSecretValue', 'S3:PutObject'], Resource: '*' }] };
    const { errors, warnings } = validate({ 'roles/a.json': { credential_type: 'iam_user', policy_document: policy } });
    expect(errors).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^roles\/a\.json:\d+:\d+: warning: \/policy_document\/Statement\/0\/Action\/3 unknown IAM service prefix "secretmanager" in "secretmanager:GetSecretValue" \(did you mean "secretsmanager"\?\)/);
  });
});
