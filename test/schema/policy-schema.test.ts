import { describe, expect, it } from 'vitest';
import { validate } from './helpers.js';

const policyRepo = (policy: unknown) => ({ 'policies/p.json': policy, 'roles/r.json': { credential_type: 'iam_user', policy_document: '@policies/p.json' } });
const stmt = { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' };

describe('policy schema: accepted', () => {
  const cases: [string, unknown][] = [
    ['Statement as one object', { Version: '2012-10-17', Statement: stmt }],
    ['Statement as a list', { Version: '2012-10-17', Statement: [stmt, { ...stmt, Effect: 'Deny', Sid: 'NoDelete1' }] }],
    ['the 2008 version and an Id', { Version: '2008-10-17', Id: 'x', Statement: stmt }],
    ['no Version', { Statement: stmt }],
    ['action lists and wildcards', { Statement: { Effect: 'Allow', Action: ['s3:Get*', 'ec2:Describe?nstances', 'iam:*'], Resource: ['*'] } }],
    ['NotAction and NotResource', { Statement: { Effect: 'Deny', NotAction: 'iam:*', NotResource: 'arn:aws:iam::123456789012:role/x' } }],
    ['a Condition', { Statement: { ...stmt, Condition: { StringEquals: { 'aws:RequestedRegion': ['us-east-1'] }, Bool: { 'aws:SecureTransport': true }, 'ForAnyValue:StringLike': { 's3:prefix': 'home/*' } } } }],
    ['$schema for editors', { $schema: '../schemas/policy.schema.json', Statement: stmt }],
  ];
  it.each(cases)('%s', (_name, policy) => {
    expect(validate(policyRepo(policy)).errors).toEqual([]);
  });

  it('drops "$schema" before the policy reaches AWS', () => {
    const { model } = validate(policyRepo({ $schema: 'x', Statement: stmt }));
    expect(model?.roles[0]?.policy_document).toEqual({ Statement: stmt });
  });
});

describe('policy schema: rejected', () => {
  const cases: [string, unknown, string][] = [
    ['no Statement', { Version: '2012-10-17' }, 'policies/p.json:1:1: error: missing required field "Statement"'],
    ['an unknown Version', { Version: '2020-01-01', Statement: stmt }, '/Version must be one of 2012-10-17, 2008-10-17 (found "2020-01-01")'],
    ['Effect in lower case', { Statement: { ...stmt, Effect: 'allow' } }, '/Statement/Effect must be one of Allow, Deny (found "allow")'],
    ['no Effect', { Statement: { Action: 's3:*', Resource: '*' } }, '/Statement missing required field "Effect"'],
    ['an action without service', { Statement: { ...stmt, Action: 'GetObject' } }, '/Statement/Action must be "*" or "service:Action"'],
    ['Action with NotAction', { Statement: [{ ...stmt, NotAction: 'iam:*' }] }, '/Statement/0/NotAction cannot be used together with Action'],
    ['Resource with NotResource', { Statement: [{ ...stmt, NotResource: '*' }] }, '/Statement/0/NotResource cannot be used together with Resource'],
    ['neither Action nor NotAction', { Statement: { Effect: 'Allow', Resource: '*' } }, '/Statement must have Action or NotAction'],
    ['a Resource that is not an ARN', { Statement: { ...stmt, Resource: 'my-bucket' } }, '/Statement/Resource must be "*" or an ARN'],
    ['an empty action list', { Statement: { ...stmt, Action: [] } }, '/Statement/Action must not be empty'],
    ['a Condition value that is an object', { Statement: { ...stmt, Condition: { StringEquals: { k: { x: 1 } } } } }, '/Statement/Condition/StringEquals/k must be a string, a number, true or false or an array (found an object)'],
    ['a misspelt key', { Statements: [stmt] }, '/Statements unknown field "Statements" (did you mean "Statement"?)'],
    ['a Sid with punctuation', { Statement: { ...stmt, Sid: 'read-only' } }, '/Statement/Sid must hold only letters and digits'],
    ['a Principal (AWS refuses it in an identity policy)', { Statement: { ...stmt, Principal: '*' } }, '/Statement/Principal Principal is not allowed in an IAM user or session policy'],
    ['not JSON', '{"Statement": [}', 'policies/p.json:1:16: error: invalid JSON: expected a value, found "}"'],
  ];
  it.each(cases)('%s', (_name, policy, expected) => {
    const { errors, model } = validate(policyRepo(policy));
    expect(model).toBeUndefined();
    expect(errors.some((e) => e.includes(expected)), `expected "${expected}" in:\n${errors.join('\n')}`).toBe(true);
  });
});
