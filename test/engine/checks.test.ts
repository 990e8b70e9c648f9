import { describe, expect, it } from 'vitest';
import { checkDuration, checkTags, policyChars } from '../../src/engine/checks.js';
import type { RoleSpec } from '../../src/model/types.js';

const role = { mount: 'aws', name: 'r' } as RoleSpec;

describe('AWS limit checks', () => {
  it('counts policy characters without whitespace, as AWS does', () => {
    const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow' as const, Action: 's3:Get Object', Resource: '*' }] };
    expect(policyChars(doc)).toBe(JSON.stringify(doc).length - 1);
  });

  it('names the role and field, and the limit', () => {
    expect(() => checkDuration(role, 899, 900, 43_200, 'AssumeRole')).toThrow('aws/roles/r: ttl 14m59s (899s) is outside what AssumeRole accepts: 15m to 12h');
    expect(() => checkDuration(role, 900, 900, 43_200, 'AssumeRole')).not.toThrow();
    const limits = { count: 2, keyMax: 3, valueMax: 4 };
    expect(() => checkTags(role, 'session_tags', { a: '1', b: '2', c: '3' }, limits)).toThrow('aws/roles/r: session_tags has 3 entries; AWS allows at most 2 tags');
    expect(() => checkTags(role, 'session_tags', { abcd: '1' }, limits)).toThrow('session_tags key "abcd" is 4 characters; AWS allows at most 3');
    expect(() => checkTags(role, 'session_tags', { a: '12345' }, limits)).toThrow('session_tags value of "a" is 5 characters; AWS allows at most 4');
  });
});
