import { NoSuchEntityException } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { AwsUserError, UserError } from '../../src/errors.js';
import { awsErrorCode, isNoSuchEntity, toUserError } from '../../src/engine/aws-errors.js';

const noSuchEntity = () =>
  Object.assign(new NoSuchEntityException({ message: 'The user with name x cannot be found.', $metadata: { httpStatusCode: 404, attempts: 1 } }), {});

describe('AWS errors', () => {
  it("uses AWS's code, also once wrapped", () => {
    const err = noSuchEntity();
    expect(awsErrorCode(err)).toBe('NoSuchEntity');
    const wrapped = toUserError(err, { mount: 'aws', role: 'r', operation: 'DeleteUser' });
    expect(wrapped).toBeInstanceOf(AwsUserError);
    expect((wrapped as Error).message).toBe('aws/roles/r DeleteUser: AWS NoSuchEntity: The user with name x cannot be found.');
    expect(isNoSuchEntity(wrapped)).toBe(true);
  });

  it('says when AWS kept failing after retries', () => {
    const err = Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 4 } });
    expect((toUserError(err, { operation: 'CreateUser' }) as Error).message).toBe('CreateUser: AWS Throttling: Rate exceeded (gave up after 4 attempts)');
  });

  it('turns an unreachable endpoint into a user error, and leaves bugs alone', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(toUserError(refused, { operation: 'CreateUser' })).toBeInstanceOf(UserError);
    const bug = new TypeError('x is undefined');
    expect(toUserError(bug, { operation: 'CreateUser' })).toBe(bug);
  });
});
