import { describe, expect, it } from 'vitest';
import { denies, type RequestContext } from './deny.js';

const ctx: RequestContext = { 'aws:userid': 'AROAEXAMPLE:credops-deploy-1', 'aws:TokenIssueTime': '2026-01-01T00:00:00.400Z' };
const policy = (statement: object) => JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
const deny = (extra: object = {}) => policy({ Effect: 'Deny', Action: '*', Resource: '*', ...extra });

describe('explicit Deny evaluation', () => {
  it('matches actions case-insensitively with wildcards', () => {
    expect(denies(deny({ Action: 'IAM:List*' }), 'iam:ListUsers', ctx)).toBe(true);
    expect(denies(deny({ Action: ['s3:*'] }), 'iam:ListUsers', ctx)).toBe(false);
    expect(denies(policy({ Effect: 'Allow', Action: '*', Resource: '*' }), 'iam:ListUsers', ctx)).toBe(false);
  });

  it('requires every condition to hold, any value of a key sufficing', () => {
    expect(denies(deny({ Condition: { StringEquals: { 'aws:userid': ['other', 'AROAEXAMPLE:credops-deploy-1'] } } }), 'iam:ListUsers', ctx)).toBe(true);
    expect(denies(deny({ Condition: { StringLike: { 'aws:userid': 'AROAEXAMPLE:*' } } }), 'iam:ListUsers', ctx)).toBe(true);
    const window = (from: string, to: string) => deny({
      Condition: { StringEquals: { 'aws:userid': ctx['aws:userid'] }, DateGreaterThanEquals: { 'aws:TokenIssueTime': from }, DateLessThanEquals: { 'aws:TokenIssueTime': to } },
    });
    expect(denies(window('2025-12-31T23:59:59Z', '2026-01-01T00:00:01Z'), 'iam:ListUsers', ctx)).toBe(true);
    expect(denies(window('2026-01-01T00:00:01Z', '2026-01-01T00:00:03Z'), 'iam:ListUsers', ctx)).toBe(false);
  });

  it('never matches on a key the request lacks, an unknown key or an unknown operator', () => {
    const longTerm: RequestContext = { 'aws:userid': 'AIDAEXAMPLE' };
    expect(denies(deny({ Condition: { DateLessThanEquals: { 'aws:TokenIssueTime': '2030-01-01T00:00:00Z' } } }), 'iam:ListUsers', longTerm)).toBe(false);
    expect(denies(deny({ Condition: { StringEquals: { 'aws:SourceIp': '10.0.0.1' } } }), 'iam:ListUsers', ctx)).toBe(false);
    expect(denies(deny({ Condition: { StringNotEquals: { 'aws:userid': 'x' } } }), 'iam:ListUsers', ctx)).toBe(false);
  });
});
