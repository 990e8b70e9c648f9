/** Secrets Manager on the local endpoint: what a sink writes is what a reader gets, and deletion keeps AWS's recovery window. */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localAwsClientConfig, startLocalAws, type LocalAws } from './index.js';

let aws: LocalAws;
let sm: SecretsManagerClient;
beforeEach(async () => {
  aws = await startLocalAws({ seed: 5 });
  sm = new SecretsManagerClient(localAwsClientConfig(aws));
});
afterEach(async () => {
  sm.destroy();
  await aws.close();
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { name: string }).name;
  }
  throw new Error('expected the call to fail');
}

const DAY = 86_400_000;

describe('Secrets Manager', () => {
  it('round-trips values through versions, with AWSCURRENT and AWSPREVIOUS', async () => {
    const created = await sm.send(
      new CreateSecretCommand({ Name: 'ci/app/aws', SecretString: '{"v":1}', KmsKeyId: 'alias/credops', Tags: [{ Key: 'owner', Value: 'credops' }] }),
    );
    expect(created.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:us-east-1:${aws.accountId}:secret:ci/app/aws-[A-Za-z0-9]{6}$`));
    expect(await code(sm.send(new CreateSecretCommand({ Name: 'ci/app/aws', SecretString: 'x' })))).toBe('ResourceExistsException');

    const put = await sm.send(new PutSecretValueCommand({ SecretId: 'ci/app/aws', SecretString: '{"v":2}' }));
    expect(put.VersionStages).toEqual(['AWSCURRENT']);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: created.ARN }))).SecretString).toBe('{"v":2}');
    const previous = await sm.send(new GetSecretValueCommand({ SecretId: 'ci/app/aws', VersionStage: 'AWSPREVIOUS' }));
    expect(previous).toMatchObject({ SecretString: '{"v":1}', VersionId: created.VersionId });

    // A retried PutSecretValue carries the same ClientRequestToken and changes nothing.
    const token = '11111111-2222-4333-8444-555555555555';
    await sm.send(new PutSecretValueCommand({ SecretId: 'ci/app/aws', SecretString: '{"v":3}', ClientRequestToken: token }));
    await sm.send(new PutSecretValueCommand({ SecretId: 'ci/app/aws', SecretString: '{"v":3}', ClientRequestToken: token }));
    expect(await code(sm.send(new PutSecretValueCommand({ SecretId: 'ci/app/aws', SecretString: '{"v":4}', ClientRequestToken: token })))).toBe('ResourceExistsException');

    await sm.send(new TagResourceCommand({ SecretId: 'ci/app/aws', Tags: [{ Key: 'rotated', Value: 'yes' }] }));
    const described = await sm.send(new DescribeSecretCommand({ SecretId: 'ci/app/aws' }));
    expect(described).toMatchObject({ Name: 'ci/app/aws', KmsKeyId: 'alias/credops', Tags: [{ Key: 'owner', Value: 'credops' }, { Key: 'rotated', Value: 'yes' }] });
    expect(Object.values(described.VersionIdsToStages ?? {}).sort()).toEqual([['AWSCURRENT'], ['AWSPREVIOUS']]);
    expect(aws.secrets.get('ci/app/aws')).toMatchObject({ value: '{"v":3}', kmsKeyId: 'alias/credops' });

    await sm.send(new CreateSecretCommand({ Name: 'other', SecretString: 'o' }));
    const listed = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['ci/'] }] }));
    expect(listed.SecretList?.map((s) => s.Name)).toEqual(['ci/app/aws']);
    expect(await code(sm.send(new GetSecretValueCommand({ SecretId: 'missing' })))).toBe('ResourceNotFoundException');
  });

  it('keeps a deleted secret for its recovery window, then forgets it', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'doomed', SecretString: 's' }));
    expect(await code(sm.send(new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 6 })))).toBe('InvalidParameterException');
    expect(await code(sm.send(new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 31 })))).toBe('InvalidParameterException');
    expect(await code(sm.send(new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true })))).toBe('InvalidParameterException');

    const deleted = await sm.send(new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 7 }));
    expect(deleted.DeletionDate?.getTime()).toBeCloseTo(aws.clock.now() + 7 * DAY, -4);
    expect(await code(sm.send(new GetSecretValueCommand({ SecretId: 'doomed' })))).toBe('InvalidRequestException');
    expect(await code(sm.send(new PutSecretValueCommand({ SecretId: 'doomed', SecretString: 'n' })))).toBe('InvalidRequestException');
    expect(await code(sm.send(new CreateSecretCommand({ Name: 'doomed', SecretString: 'n' })))).toBe('InvalidRequestException');
    expect((await sm.send(new DescribeSecretCommand({ SecretId: 'doomed' }))).DeletedDate).toBeInstanceOf(Date);
    expect((await sm.send(new ListSecretsCommand({}))).SecretList).toEqual([]);
    expect((await sm.send(new ListSecretsCommand({ IncludePlannedDeletion: true }))).SecretList?.map((s) => s.Name)).toEqual(['doomed']);

    await sm.send(new RestoreSecretCommand({ SecretId: 'doomed' }));
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'doomed' }))).SecretString).toBe('s');

    await sm.send(new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 7 }));
    aws.clock.advance(7 * DAY + 1000);
    expect(await code(sm.send(new DescribeSecretCommand({ SecretId: 'doomed' })))).toBe('ResourceNotFoundException');
    expect(aws.secrets.get('doomed')).toBeUndefined();

    await sm.send(new CreateSecretCommand({ Name: 'gone-now', SecretString: 's' }));
    await sm.send(new DeleteSecretCommand({ SecretId: 'gone-now', ForceDeleteWithoutRecovery: true }));
    expect(await code(sm.send(new GetSecretValueCommand({ SecretId: 'gone-now' })))).toBe('ResourceNotFoundException');
  });

  it('refuses deleted keys with the JSON protocol error names', async () => {
    const bad = new SecretsManagerClient(localAwsClientConfig(aws, { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' }));
    expect(await code(bad.send(new ListSecretsCommand({})))).toBe('UnrecognizedClientException');
    const wrong = new SecretsManagerClient(localAwsClientConfig(aws, { accessKeyId: aws.root.accessKeyId, secretAccessKey: 'x' }));
    expect(await code(wrong.send(new ListSecretsCommand({})))).toBe('InvalidSignatureException');
  });
});
