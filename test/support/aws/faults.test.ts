/** Injected throttling, 5xx and latency: the SDK's retries see them as they would see AWS's. */
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, ListUsersCommand } from '@aws-sdk/client-iam';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterEach, describe, expect, it } from 'vitest';
import { localAwsClientConfig, startLocalAws, type LocalAws } from './index.js';

const started: LocalAws[] = [];
async function start(seed = 9): Promise<LocalAws> {
  const aws = await startLocalAws({ seed });
  started.push(aws);
  return aws;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.close()));
});

describe('fault injection', () => {
  it('throttles the next calls of an action; the SDK retries them and succeeds', async () => {
    const aws = await start();
    aws.faults.failNext('GetCallerIdentity', 'Throttling', 2);
    const out = await new STSClient(localAwsClientConfig(aws)).send(new GetCallerIdentityCommand({}));
    expect(out.$metadata.attempts).toBe(3);
    expect(aws.calls.map((c) => [c.action, c.status, c.code])).toEqual([
      ['GetCallerIdentity', 400, 'Throttling'],
      ['GetCallerIdentity', 400, 'Throttling'],
      ['GetCallerIdentity', 200, undefined],
    ]);
  });

  it('throttles only the actions named, with the service-specific error', async () => {
    const aws = await start();
    aws.faults.set({ throttleRate: 1, actions: ['iam:CreateUser', 'CreateSecret'] });
    const iam = new IAMClient({ ...localAwsClientConfig(aws), maxAttempts: 1 });
    const err: unknown = await iam.send(new CreateUserCommand({ UserName: 'u' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'Throttling', $metadata: { httpStatusCode: 400 } });
    await iam.send(new ListUsersCommand({}));
    const sm = new SecretsManagerClient({ ...localAwsClientConfig(aws), maxAttempts: 1 });
    const smErr: unknown = await sm.send(new CreateSecretCommand({ Name: 's', SecretString: 'v' })).catch((e: unknown) => e);
    expect(smErr).toMatchObject({ name: 'ThrottlingException' });
    expect(aws.iam.user('u')).toBeUndefined();

    aws.faults.clear();
    await iam.send(new CreateUserCommand({ UserName: 'u' }));
    expect(aws.iam.user('u')).toBeDefined();
  });

  it('injects 5xx at a rate, the same way for the same seed', async () => {
    const statuses = async (seed: number): Promise<number[]> => {
      const aws = await start(seed);
      aws.faults.set({ serverErrorRate: 0.5 });
      const sts = new STSClient({ ...localAwsClientConfig(aws), maxAttempts: 1 });
      for (let i = 0; i < 20; i++) await sts.send(new GetCallerIdentityCommand({})).catch(() => undefined);
      return aws.calls.map((c) => c.status);
    };
    const a = await statuses(42);
    expect(await statuses(42)).toEqual(a);
    expect(a.filter((s) => s >= 500).length).toBeGreaterThan(3);
    expect(a.filter((s) => s === 200).length).toBeGreaterThan(3);
    expect(new Set(a.filter((s) => s >= 500))).toEqual(new Set([500, 503]));
  });

  it('retries 5xx transparently within the SDK attempts', async () => {
    const aws = await start();
    aws.faults.failNext('sts:GetCallerIdentity', 'ServiceUnavailable', 1);
    const out = await new STSClient(localAwsClientConfig(aws)).send(new GetCallerIdentityCommand({}));
    expect(out.$metadata.attempts).toBe(2);
    expect(aws.calls[0]).toMatchObject({ status: 503, code: 'ServiceUnavailable' });
  });

  it('adds latency to every matching call', async () => {
    const aws = await start();
    aws.faults.set({ latencyMs: 150 });
    const sts = new STSClient(localAwsClientConfig(aws));
    const t0 = performance.now();
    await sts.send(new GetCallerIdentityCommand({}));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    aws.faults.clear();
    aws.resetCalls();
    expect(aws.calls).toEqual([]);
  });

  it('holds calls of an action unanswered until released', async () => {
    const aws = await start();
    const release = aws.faults.hold('GetCallerIdentity');
    const sts = new STSClient(localAwsClientConfig(aws));
    let answered = false;
    const call = sts.send(new GetCallerIdentityCommand({})).then((out) => ((answered = true), out));
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(false);
    release();
    expect((await call).Arn).toContain(':user/');
    expect(answered).toBe(true);
  });

  it('keeps a new access key unknown for a while, as IAM eventual consistency does', async () => {
    const aws = await start();
    aws.faults.set({ keyPropagationMs: 10_000 });
    const iam = new IAMClient(localAwsClientConfig(aws));
    await iam.send(new CreateUserCommand({ UserName: 'fresh' }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'fresh' }));
    const sts = new STSClient({
      ...localAwsClientConfig(aws, { accessKeyId: AccessKey?.AccessKeyId ?? '', secretAccessKey: AccessKey?.SecretAccessKey ?? '' }),
      maxAttempts: 1,
    });
    await expect(sts.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: 'InvalidClientTokenId' });
    aws.clock.advance(10_000);
    expect((await sts.send(new GetCallerIdentityCommand({}))).Arn).toBe(`arn:aws:iam::${aws.accountId}:user/fresh`);
  });
});
