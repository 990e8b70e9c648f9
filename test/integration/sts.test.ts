/**
 * Story: an operator asks for temporary credentials (`credops sts ROLE --ttl
 * 15m`) of each STS type, uses them, and revokes the lease. STS cannot cancel
 * a token, so revocation places an explicit Deny for that session on the role
 * it came from, and AWS refuses the credential from then on (the other
 * revocation stories are in sts-revoke.test.ts).
 */
import { readFileSync } from 'node:fs';
import { IAMClient, ListUsersCommand } from '@aws-sdk/client-iam';
import { beforeEach, describe, expect, it } from 'vitest';
import { AwsUserError, UserError } from '../../src/errors.js';
import {
  eachTestWorld,
  applyRoles,
  callerIdentity,
  credopsUsers,
  engineFor,
  failure,
  rejectionCode,
  role,
  runCli,
  S3_READ,
  type LocalAws,
  type TempState,
} from './helpers.js';
import { localAwsClientConfig } from '../support/aws/index.js';

let aws: LocalAws;
let t: TempState;
let deployerArn: string;
let auditorArn: string;
let crossAccountArn: string;

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(async () => {
  deployerArn = aws.iam.createRole('deployer', { maxSessionDuration: 4 * 3600 }).arn;
  auditorArn = aws.iam.createRole('auditor').arn;
  crossAccountArn = aws.iam.createRole('ci', { accountId: '210987654321', externalId: 'credops-ci' }).arn;
  const readOnly = aws.iam.createManagedPolicy('ReadOnly').arn;
  await applyRoles(t.state, [
    role('deploy', {
      credential_types: ['assumed_role'],
      role_arns: [deployerArn],
      policy_document: S3_READ,
      policy_arns: [readOnly],
      session_tags: { team: 'platform' },
      default_sts_ttl: 1800,
      max_sts_ttl: 7200,
    }),
    role('two-arns', { credential_types: ['assumed_role'], role_arns: [deployerArn, auditorArn] }),
    role('cross', { credential_types: ['assumed_role'], role_arns: [crossAccountArn], external_id: 'credops-ci' }),
    role('gone', { credential_types: ['assumed_role'], role_arns: ['arn:aws:iam::123456789012:role/deleted-long-ago'] }),
    role('fed', { credential_types: ['federation_token'], policy_document: S3_READ }),
    role('session', { credential_types: ['session_token'] }),
    role('session-mfa', { credential_types: ['session_token'], mfa_serial_number: 'arn:aws:iam::123456789012:mfa/ops' }),
    role('legacy', { credential_types: ['iam_user', 'federation_token'], policy_document: S3_READ }),
  ]);
  aws.resetCalls();
});

/** iam:ListUsers signed with an issued credential: any call but GetCallerIdentity shows whether a Deny applies. */
async function listUsers(aws: LocalAws, cred: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined }): Promise<unknown> {
  const iam = new IAMClient({ ...localAwsClientConfig(aws, { accessKeyId: cred.accessKeyId, secretAccessKey: cred.secretAccessKey, ...(cred.sessionToken ? { sessionToken: cred.sessionToken } : {}) }), maxAttempts: 1 });
  try {
    return await iam.send(new ListUsersCommand({}));
  } finally {
    iam.destroy();
  }
}

describe('assumed_role', () => {
  it('assumes the role with the session policy and tags, works, and revocation makes AWS refuse it', async () => {
    const { engine } = engineFor(aws, t);

    const cred = await engine.issue({ mount: 'aws', role: 'deploy', path: 'sts', ttl: 900 });

    expect(aws.calls.map((c) => c.action)).toEqual(['AssumeRole']);
    const [session] = aws.iam.sessions();
    expect(session).toMatchObject({ kind: 'assumed-role', roleArn: deployerArn, durationSeconds: 900, tags: [{ Key: 'team', Value: 'platform' }] });
    expect(JSON.parse(session!.policy!)).toEqual(S3_READ);
    expect(session!.policyArns).toHaveLength(1);
    expect(session!.roleSessionName).toMatch(/^credops-deploy-\d{10}-[A-Za-z0-9]{8}$/);

    expect(cred.lease.leaseId).toMatch(/^aws\/sts\/deploy\/[A-Za-z0-9]{24}$/);
    expect(cred.lease.renewable).toBe(false);
    expect(cred.lease.expiresAt).toBe(cred.expiration!.getTime());
    // Expiration travels as an ISO time to the second.
    expect(cred.lease.expiresAt).toBe(Math.floor(session!.expiration / 1000) * 1000);
    expect(cred.sessionToken).toBeTruthy();
    expect(JSON.stringify(await t.state.getLease(cred.lease.leaseId))).not.toContain(cred.sessionToken);

    const me = await callerIdentity(aws, cred);
    expect(me.Arn).toBe(`arn:aws:sts::${aws.accountId}:assumed-role/deployer/${session!.roleSessionName}`);

    aws.resetCalls();
    const outcome = await engine.revoke(cred.lease.leaseId);

    expect(aws.calls.map((c) => c.action)).toEqual(['GetRole', 'GetRolePolicy', 'PutRolePolicy']);
    expect(outcome).toEqual({ leaseId: cred.lease.leaseId, invalidated: true, deniedBy: "role deployer's inline policy credops-revoked-sessions" });
    expect(await t.state.getLease(cred.lease.leaseId)).toBeUndefined();
    // What AWS really does: every call with the credential is refused...
    expect(await rejectionCode(listUsers(aws, cred))).toBe('AccessDenied');
    // ...except GetCallerIdentity, which no Deny reaches; and at its expiry it stops altogether.
    expect((await callerIdentity(aws, cred)).Arn).toBe(me.Arn);
    aws.clock.advance(901 * 1000);
    expect(await rejectionCode(callerIdentity(aws, cred))).toBe('ExpiredToken');

    const revoke = readFileSync(t.auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)[1]!;
    expect(revoke).toMatchObject({
      operation: 'revoke',
      outcome: 'ok',
      details: { aws_credential_invalidated: true, denied_by: "role deployer's inline policy credops-revoked-sessions" },
    });
  });

  it("uses the role's default_sts_ttl, and caps --ttl at max_sts_ttl", async () => {
    const { engine } = engineFor(aws, t);

    await engine.issue({ mount: 'aws', role: 'deploy', path: 'sts' });
    await engine.issue({ mount: 'aws', role: 'deploy', path: 'sts', ttl: 10 * 3600 });

    expect(aws.iam.sessions().map((s) => s.durationSeconds)).toEqual([1800, 7200]);
  });

  it('refuses a TTL below what AssumeRole accepts before calling AWS', async () => {
    const { engine } = engineFor(aws, t);
    await expect(engine.issue({ mount: 'aws', role: 'deploy', path: 'sts', ttl: 300 })).rejects.toThrow(
      'aws/roles/deploy: ttl 5m (300s) is outside what AssumeRole accepts: 15m to 12h',
    );
    expect(aws.calls).toEqual([]);
  });

  it('asks which ARN when the role has several, and refuses one it does not list', async () => {
    const { engine } = engineFor(aws, t);

    const several = await failure(engine.issue({ mount: 'aws', role: 'two-arns', path: 'sts' }));
    expect(several).toBeInstanceOf(UserError);
    expect(several.message).toBe(`aws/roles/two-arns has 2 role_arns; choose one with --role-arn:\n  ${deployerArn}\n  ${auditorArn}`);
    await expect(engine.issue({ mount: 'aws', role: 'two-arns', path: 'sts', roleArn: crossAccountArn })).rejects.toThrow('is not one of the role_arns');
    expect(aws.calls).toEqual([]);

    const cred = await engine.issue({ mount: 'aws', role: 'two-arns', path: 'sts', roleArn: auditorArn });
    expect((await callerIdentity(aws, cred)).Arn).toContain(':assumed-role/auditor/');
  });

  it('assumes a cross-account role with its external_id', async () => {
    const { engine } = engineFor(aws, t);
    const cred = await engine.issue({ mount: 'aws', role: 'cross', path: 'sts' });
    expect((await callerIdentity(aws, cred)).Arn).toMatch(/^arn:aws:sts::210987654321:assumed-role\/ci\//);
    expect(aws.iam.sessions()[0]!.externalId).toBe('credops-ci');
  });

  it("fails fast with AWS's message and the role when the role ARN cannot be assumed", async () => {
    const { engine } = engineFor(aws, t);
    const err = await failure(engine.issue({ mount: 'aws', role: 'gone', path: 'sts' }));
    expect(err).toBeInstanceOf(AwsUserError);
    expect((err as Error).message).toMatch(/^aws\/roles\/gone AssumeRole arn:aws:iam::123456789012:role\/deleted-long-ago: AWS AccessDenied: User: .* is not authorized/);
    expect(aws.calls).toHaveLength(1);
    expect(await t.state.listLeases()).toEqual([]);
  });
});

describe('federation_token', () => {
  it('issues a federated user named within 32 characters, with the policy, that works', async () => {
    const { engine } = engineFor(aws, t);

    const cred = await engine.issue({ mount: 'aws', role: 'fed', path: 'sts', ttl: 3600 });

    const [session] = aws.iam.sessions();
    expect(session!.kind).toBe('federated-user');
    expect(session!.federatedName!.length).toBeLessThanOrEqual(32);
    // credops's default template: the role and 8 random characters (32 at most, AWS's limit).
    expect(session!.federatedName).toMatch(/^credops-fed-[A-Za-z0-9]{8}$/);
    expect(JSON.parse(session!.policy!)).toEqual(S3_READ);
    expect(session!.durationSeconds).toBe(3600);
    expect(cred.lease.credentialType).toBe('federation_token');
    expect((await callerIdentity(aws, cred)).Arn).toBe(`arn:aws:sts::${aws.accountId}:federated-user/${session!.federatedName}`);
    await listUsers(aws, cred);

    expect(await engine.revoke(cred.lease.leaseId)).toMatchObject({ invalidated: true });
    expect(await t.state.listLeases()).toEqual([]);
    expect(await rejectionCode(listUsers(aws, cred))).toBe('AccessDenied');
  });

  it('refuses a TTL above 36h before calling AWS', async () => {
    const { engine } = engineFor(aws, t);
    await expect(engine.issue({ mount: 'aws', role: 'fed', path: 'sts', ttl: 200_000 })).rejects.toThrow('outside what GetFederationToken accepts: 15m to 36h');
    expect(aws.calls).toEqual([]);
  });
});

describe('session_token', () => {
  it('issues a session token for the root identity that works', async () => {
    const { engine } = engineFor(aws, t);
    const cred = await engine.issue({ mount: 'aws', role: 'session', path: 'sts' });
    expect(aws.iam.sessions()[0]).toMatchObject({ kind: 'session-token', durationSeconds: 3600 });
    expect((await callerIdentity(aws, cred)).Arn).toBe(`arn:aws:iam::${aws.accountId}:user/${aws.root.userName}`);
    await listUsers(aws, cred);
    expect(await engine.revoke(cred.lease.leaseId)).toMatchObject({ invalidated: true });
    expect(await t.state.listLeases()).toEqual([]);
    expect(await rejectionCode(listUsers(aws, cred))).toBe('AccessDenied');
    // The root identity's own long-term key is not matched by the session's Deny.
    await listUsers(aws, aws.root);
  });

  it('requires the MFA code when the role has mfa_serial_number, and passes it', async () => {
    const { engine } = engineFor(aws, t);
    await expect(engine.issue({ mount: 'aws', role: 'session-mfa', path: 'sts' })).rejects.toThrow('requires an MFA code');
    expect(aws.calls).toEqual([]);

    await engine.issue({ mount: 'aws', role: 'session-mfa', path: 'sts', mfaCode: '123456' });
    expect(aws.iam.sessions()[0]!.serialNumber).toBe('arn:aws:iam::123456789012:mfa/ops');
  });
});

describe('legacy role with iam_user and federation_token (Vault rule)', () => {
  it('uses iam_user for creds and federation_token for sts', async () => {
    const { engine } = engineFor(aws, t);

    const creds = await engine.issue({ mount: 'aws', role: 'legacy', path: 'creds' });
    const sts = await engine.issue({ mount: 'aws', role: 'legacy', path: 'sts' });

    expect(creds.lease.credentialType).toBe('iam_user');
    expect(creds.lease.leaseId).toMatch(/^aws\/creds\/legacy\//);
    expect(credopsUsers(aws)).toHaveLength(1);
    expect(sts.lease.credentialType).toBe('federation_token');
    expect(sts.lease.leaseId).toMatch(/^aws\/sts\/legacy\//);
  });
});

describe('credops sts (CLI)', () => {
  it('prints the token under security_token and session_token, lease_duration the real lifetime, and says revocation makes AWS refuse it', async () => {
    const r = await runCli(aws, t, ['sts', 'deploy', '--ttl', '15m', '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { lease_id: string; lease_duration: number; renewable: boolean; data: Record<string, string> };
    expect(out.renewable).toBe(false);
    // Vault gives an assumed role's session ARN as data.arn.
    expect(out.data.arn).toMatch(/^arn:aws:sts::\d{12}:assumed-role\/deployer\//);
    expect(out.lease_duration).toBeGreaterThan(890);
    expect(out.lease_duration).toBeLessThanOrEqual(900);
    expect(out.data.security_token).toBe(out.data.session_token);
    expect((await callerIdentity(aws, { accessKeyId: out.data.access_key!, secretAccessKey: out.data.secret_key!, sessionToken: out.data.session_token! })).Arn).toContain(
      ':assumed-role/deployer/',
    );

    const renew = await runCli(aws, t, ['lease', 'renew', out.lease_id]);
    expect(renew.code).toBe(1);
    expect(renew.stderr).toContain('lease is not renewable');

    const revoke = await runCli(aws, t, ['lease', 'revoke', out.lease_id]);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toContain(`Success! Revoked lease: ${out.lease_id}`);
    expect(revoke.stdout).toContain("Note: AWS now refuses this STS credential through an explicit Deny in the role deployer's inline policy");
    expect(revoke.stdout).toContain('IAM may take a few seconds to apply it everywhere');

    const table = await runCli(aws, t, ['sts', 'two-arns', '--role-arn', auditorArn]);
    expect(table.code).toBe(0);
    // The real remaining lifetime: AWS's Expiration is to the second, so just under the hour.
    expect(table.stdout).toMatch(/^lease_duration {5}(1h|59m5\ds)$/m);
    expect(table.stdout).toMatch(/^lease_renewable {4}false$/m);
  });
});
