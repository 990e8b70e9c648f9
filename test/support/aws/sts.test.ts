/** STS on the local endpoint: temporary credentials that work, are checked like AWS, and expire with the endpoint's clock. */
import { CreateAccessKeyCommand, CreateUserCommand, GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  GetFederationTokenCommand,
  GetSessionTokenCommand,
  STSClient,
  type Credentials,
} from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localAwsClientConfig, startLocalAws, type LocalAws } from './index.js';

let aws: LocalAws;
let sts: STSClient;
let roleArn: string;
beforeEach(async () => {
  aws = await startLocalAws({ seed: 11 });
  sts = new STSClient(localAwsClientConfig(aws));
  roleArn = aws.iam.createRole('deployer', { maxSessionDuration: 7200 }).arn;
});
afterEach(async () => {
  sts.destroy();
  await aws.close();
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; Code?: string };
    return e.Code ?? e.name;
  }
  throw new Error('expected the call to fail');
}

function clientWith(creds: Credentials | undefined): STSClient {
  return new STSClient(
    localAwsClientConfig(aws, { accessKeyId: creds?.AccessKeyId ?? '', secretAccessKey: creds?.SecretAccessKey ?? '', sessionToken: creds?.SessionToken ?? '' }),
  );
}

const HOUR = 3_600_000;

describe('AssumeRole', () => {
  it('issues credentials for the role session that work until they expire', async () => {
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: 'credops-deployer-1',
        DurationSeconds: 7200,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }),
        PolicyArns: [{ arn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }],
        Tags: [{ Key: 'team', Value: 'ops' }],
      }),
    );
    const creds = out.Credentials;
    expect(creds?.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(creds?.Expiration?.getTime()).toBeCloseTo(aws.clock.now() + 2 * HOUR, -4);
    expect(out.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${aws.accountId}:assumed-role/deployer/credops-deployer-1`);
    expect(out.PackedPolicySize).toBeGreaterThan(0);

    const asRole = clientWith(creds);
    const me = await asRole.send(new GetCallerIdentityCommand({}));
    expect(me.Arn).toBe(out.AssumedRoleUser?.Arn);
    expect(me.UserId).toBe(out.AssumedRoleUser?.AssumedRoleId);

    const [session] = aws.iam.sessions();
    expect(session).toMatchObject({ kind: 'assumed-role', roleArn, policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'], tags: [{ Key: 'team', Value: 'ops' }], durationSeconds: 7200 });
    expect(JSON.stringify(aws.iam.sessions())).not.toContain(creds?.SecretAccessKey);

    // The token is part of the credential: without it the key is unknown.
    const noToken = new STSClient(localAwsClientConfig(aws, { accessKeyId: creds?.AccessKeyId ?? '', secretAccessKey: creds?.SecretAccessKey ?? '' }));
    expect(await code(noToken.send(new GetCallerIdentityCommand({})))).toBe('InvalidClientTokenId');

    aws.clock.advance(2 * HOUR - 60_000);
    await asRole.send(new GetCallerIdentityCommand({}));
    aws.clock.advance(60_000);
    expect(await code(asRole.send(new GetCallerIdentityCommand({})))).toBe('ExpiredToken');
  });

  it('checks the role, the session name, the duration and the session policy as AWS does', async () => {
    const missing = `arn:aws:iam::${aws.accountId}:role/nope`;
    expect(await code(sts.send(new AssumeRoleCommand({ RoleArn: missing, RoleSessionName: 'ok' })))).toBe('AccessDenied');
    expect(await code(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'x' })))).toBe('ValidationError');
    expect(await code(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 's'.repeat(65) })))).toBe('ValidationError');
    expect(await code(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'has space' })))).toBe('ValidationError');
    expect(await code(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'ok', DurationSeconds: 899 })))).toBe('ValidationError');
    expect(await code(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'ok', DurationSeconds: 7201 })))).toBe('ValidationError');
    const big = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::' + 'b'.repeat(2100) }] });
    expect(await code(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'ok', Policy: big })))).toBe('PackedPolicyTooLarge');
    expect(await code(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'ok', Policy: '{not json' })))).toBe('MalformedPolicyDocument');
    const arns = Array.from({ length: 11 }, (_, i) => ({ arn: `arn:aws:iam::aws:policy/P${i}` }));
    expect(await code(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'ok', PolicyArns: arns })))).toBe('ValidationError');
    await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'ok', PolicyArns: arns.slice(0, 10) }));
  });

  it('honours a required ExternalId, MFA, cross-account roles and the role-chaining limit', async () => {
    const partner = aws.iam.createRole('partner', { accountId: '210987654321', externalId: 'shared-secret-id' });
    expect(await code(sts.send(new AssumeRoleCommand({ RoleArn: partner.arn, RoleSessionName: 'x1' })))).toBe('AccessDenied');
    const cross = await sts.send(new AssumeRoleCommand({ RoleArn: partner.arn, RoleSessionName: 'x1', ExternalId: 'shared-secret-id', SerialNumber: `arn:aws:iam::${aws.accountId}:mfa/ops`, TokenCode: '123456' }));
    const me = await clientWith(cross.Credentials).send(new GetCallerIdentityCommand({}));
    expect(me).toMatchObject({ Account: '210987654321', Arn: 'arn:aws:sts::210987654321:assumed-role/partner/x1' });
    expect(aws.iam.sessions()[0]).toMatchObject({ externalId: 'shared-secret-id', serialNumber: `arn:aws:iam::${aws.accountId}:mfa/ops` });
    expect(await code(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'm1', SerialNumber: `arn:aws:iam::${aws.accountId}:mfa/ops`, TokenCode: '12ab56' })))).toBe('ValidationError');

    const first = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'hop1' }));
    const chained = clientWith(first.Credentials);
    expect(await code(chained.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'hop2', DurationSeconds: 3601 })))).toBe('ValidationError');
    const hop2 = await chained.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'hop2', DurationSeconds: 3600 }));
    expect(hop2.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${aws.accountId}:assumed-role/deployer/hop2`);
  });

  it('serves the SDK credential providers (fromTemporaryCredentials)', async () => {
    const iam = new IAMClient({
      ...localAwsClientConfig(aws),
      credentials: fromTemporaryCredentials({
        params: { RoleArn: roleArn, RoleSessionName: 'provider' },
        clientConfig: localAwsClientConfig(aws),
      }),
    });
    // GetUser from a role session names no user: IAM answers as it does for any non-user caller.
    expect(await code(iam.send(new GetUserCommand({})))).toBe('ValidationError');
    expect(aws.calls.map((c) => `${c.service}:${c.action}:${c.status}`)).toEqual(['sts:AssumeRole:200', 'iam:GetUser:400']);
  });
});

describe('GetFederationToken and GetSessionToken', () => {
  async function iamUserClient(name: string): Promise<STSClient> {
    const iam = new IAMClient(localAwsClientConfig(aws));
    await iam.send(new CreateUserCommand({ UserName: name }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
    return new STSClient(localAwsClientConfig(aws, { accessKeyId: AccessKey?.AccessKeyId ?? '', secretAccessKey: AccessKey?.SecretAccessKey ?? '' }));
  }

  it('issues a federated user that works until it expires, only to IAM users', async () => {
    const out = await sts.send(new GetFederationTokenCommand({ Name: 'credops-fed-1', DurationSeconds: 129_600 }));
    expect(out.FederatedUser?.Arn).toBe(`arn:aws:sts::${aws.accountId}:federated-user/credops-fed-1`);
    const fed = clientWith(out.Credentials);
    expect((await fed.send(new GetCallerIdentityCommand({}))).Arn).toBe(out.FederatedUser?.Arn);
    expect(await code(fed.send(new GetFederationTokenCommand({ Name: 'again' })))).toBe('AccessDenied');
    expect(await code(fed.send(new GetSessionTokenCommand({})))).toBe('AccessDenied');

    expect(await code(sts.send(new GetFederationTokenCommand({ Name: 'n'.repeat(33) })))).toBe('ValidationError');
    expect(await code(sts.send(new GetFederationTokenCommand({ Name: 'n' })))).toBe('ValidationError');
    expect(await code(sts.send(new GetFederationTokenCommand({ Name: 'ok', DurationSeconds: 129_601 })))).toBe('ValidationError');
    expect(await code(sts.send(new GetFederationTokenCommand({ Name: 'ok', DurationSeconds: 899 })))).toBe('ValidationError');

    aws.clock.advance(36 * HOUR);
    expect(await code(fed.send(new GetCallerIdentityCommand({})))).toBe('ExpiredToken');
  });

  it('issues session tokens for the calling user, not for session credentials', async () => {
    const alice = await iamUserClient('alice');
    const out = await alice.send(new GetSessionTokenCommand({ DurationSeconds: 900 }));
    expect(out.Credentials?.Expiration?.getTime()).toBeCloseTo(aws.clock.now() + 900_000, -4);
    const session = clientWith(out.Credentials);
    expect((await session.send(new GetCallerIdentityCommand({}))).Arn).toBe(`arn:aws:iam::${aws.accountId}:user/alice`);
    expect(await code(session.send(new GetSessionTokenCommand({})))).toBe('AccessDenied');
    expect(await code(alice.send(new GetSessionTokenCommand({ DurationSeconds: 129_601 })))).toBe('ValidationError');
    expect(aws.iam.sessions().map((s) => [s.kind, s.sourceUserName])).toEqual([['session-token', 'alice']]);

    aws.clock.advance(15 * 60_000);
    expect(await code(session.send(new GetCallerIdentityCommand({})))).toBe('ExpiredToken');
  });
});
