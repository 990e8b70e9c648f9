/**
 * Story: an operator reads iam_user credentials for a role (`credops creds
 * deploy`), uses them, and revokes them; what exists in AWS is checked at
 * every step against the local endpoint.
 */
import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { AwsUserError, UserError } from '../../src/errors.js';
import type { PolicyDocument } from '../../src/model/types.js';
import {
  eachTestWorld,
  applyRoles,
  callerIdentity,
  credopsUsers,
  engineFor,
  failure,
  mount,
  rejectionCode,
  role,
  runCli,
  S3_READ,
  type LocalAws,
  type TempState,
} from './helpers.js';

let aws: LocalAws;
let t: TempState;
let readOnlyArn: string;

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(async () => {
  aws.iam.createGroup('developers');
  readOnlyArn = aws.iam.createManagedPolicy('ReadOnly').arn;
  await applyRoles(t.state, [
    role('deploy', {
      credential_types: ['iam_user'],
      policy_document: S3_READ,
      policy_arns: [readOnlyArn],
      iam_groups: ['developers'],
      iam_tags: { team: 'platform' },
      user_path: '/credops/',
    }),
  ]);
  aws.resetCalls();
});

const actions = () => aws.calls.map((c) => c.action);

describe('iam_user credentials', () => {
  it('issues a working key, then revokes it so that AWS refuses it', async () => {
    const { engine } = engineFor(aws, t);

    const cred = await engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' });

    // Exactly the calls the issue lists: tags ride on CreateUser, nothing is listed.
    expect(actions()).toEqual(['CreateUser', 'PutUserPolicy', 'AttachUserPolicy', 'AddUserToGroup', 'CreateAccessKey']);
    const userName = cred.lease.resources.userName!;
    expect(userName).toMatch(/^credops-deploy-\d{10}-[A-Za-z0-9]{8}$/);
    const user = aws.iam.user(userName)!;
    expect(user.path).toBe('/credops/');
    expect(user.tags).toEqual(
      expect.arrayContaining([
        { Key: 'team', Value: 'platform' },
        { Key: 'credops:mount', Value: 'aws' },
        { Key: 'credops:role', Value: 'deploy' },
        { Key: 'credops:lease', Value: cred.lease.leaseId },
      ]),
    );
    expect(JSON.parse(Object.values(user.inlinePolicies)[0]!)).toEqual(S3_READ);
    expect(user.attachedPolicies).toEqual([readOnlyArn]);
    expect(user.groups).toEqual(['developers']);
    expect(user.accessKeys.map((k) => k.accessKeyId)).toEqual([cred.accessKeyId]);

    // The lease: Vault's id shape, the mount's 768h, renewable, and nothing secret in the state.
    expect(cred.lease.leaseId).toMatch(/^aws\/creds\/deploy\/[A-Za-z0-9]{24}$/);
    expect(cred.lease.renewable).toBe(true);
    expect(cred.lease.expiresAt - cred.lease.issuedAt).toBe(768 * 3600 * 1000);
    expect(cred.sessionToken).toBeUndefined();
    const stored = await t.state.getLease(cred.lease.leaseId);
    expect(stored).toEqual(cred.lease);
    expect(JSON.stringify(stored)).not.toContain(cred.secretAccessKey);
    expect(await t.state.listJournal()).toEqual([]);

    expect((await callerIdentity(aws, cred)).Arn).toBe(user.arn);

    aws.resetCalls();
    await engine.revoke(cred.lease.leaseId);

    expect(actions()).toEqual(['DeleteAccessKey', 'DeleteUserPolicy', 'DetachUserPolicy', 'RemoveUserFromGroup', 'DeleteUser']);
    expect(aws.iam.user(userName)).toBeUndefined();
    expect(await rejectionCode(callerIdentity(aws, cred))).toBe('InvalidClientTokenId');
    expect(await t.state.getLease(cred.lease.leaseId)).toBeUndefined();

    const audit = readFileSync(t.auditPath, 'utf8');
    expect(audit).not.toContain(cred.secretAccessKey);
    const lines = audit.trim().split('\n').map((l) => JSON.parse(l) as { operation: string; outcome: string; lease_id: string });
    expect(lines.map((l) => [l.operation, l.outcome, l.lease_id])).toEqual([
      ['issue', 'ok', cred.lease.leaseId],
      ['revoke', 'ok', cred.lease.leaseId],
    ]);
  });

  it('revokes a user someone changed out of band, listing only after DeleteConflict', async () => {
    const { engine } = engineFor(aws, t);
    const cred = await engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' });
    const userName = cred.lease.resources.userName!;
    const extraKey = aws.iam.createAccessKey(userName);
    aws.iam.createLoginProfile(userName);
    const mfaSerial = aws.iam.enableMfaDevice(userName);
    aws.iam.uploadSshPublicKey(userName);
    aws.iam.uploadSigningCertificate(userName);
    aws.iam.putUserPolicy(userName, 'added-by-hand', JSON.stringify(S3_READ));
    aws.resetCalls();

    await engine.revoke(cred.lease.leaseId);

    expect(aws.iam.user(userName)).toBeUndefined();
    expect(aws.iam.accessKey(extraKey.accessKeyId)).toBeUndefined();
    expect(await rejectionCode(callerIdentity(aws, extraKey))).toBe('InvalidClientTokenId');
    const deleteUsers = aws.calls.filter((c) => c.action === 'DeleteUser');
    expect(deleteUsers.map((c) => c.code ?? 'ok')).toEqual(['DeleteConflict', 'ok']);
    expect(actions().indexOf('ListAccessKeys')).toBeGreaterThan(actions().indexOf('DeleteUser'));
    // The virtual MFA device does not outlive the user (the endpoint refuses to delete one still assigned, or unknown).
    expect(aws.calls.filter((c) => c.action === 'DeleteVirtualMFADevice').map((c) => c.status)).toEqual([200]);
    expect(mfaSerial).toMatch(/^arn:aws:iam::\d{12}:mfa\//);
  });

  it('treats a user already deleted by hand as revoked', async () => {
    const { engine } = engineFor(aws, t);
    const cred = await engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' });
    aws.iam.deleteUser(cred.lease.resources.userName!);

    await engine.revoke(cred.lease.leaseId);

    expect(await t.state.getLease(cred.lease.leaseId)).toBeUndefined();
  });

  it('retries throttling and 5xx, and still makes each write once', async () => {
    await applyRoles(t.state, [role('deploy', { credential_types: ['iam_user'], policy_document: S3_READ })], [mount({ max_retries: 6 })]);
    aws.faults.failNext('CreateUser', 'Throttling', 1);
    aws.faults.failNext('CreateAccessKey', 'ServiceUnavailable', 1);
    const { engine } = engineFor(aws, t);

    const cred = await engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' });

    expect(aws.calls.filter((c) => c.action === 'CreateUser').map((c) => c.status)).toEqual([400, 200]);
    expect(aws.calls.filter((c) => c.action === 'CreateAccessKey').map((c) => c.status)).toEqual([503, 200]);
    expect((await callerIdentity(aws, cred)).Arn).toContain(cred.lease.resources.userName);
  });

  it("fails fast on the caller's mistakes, naming the role, and leaves nothing behind", async () => {
    const missing = 'arn:aws:iam::123456789012:policy/DoesNotExist';
    await applyRoles(t.state, [role('deploy', { credential_types: ['iam_user'], policy_arns: [missing] })]);
    const { engine } = engineFor(aws, t);

    const err = await failure(engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' }));

    expect(err).toBeInstanceOf(AwsUserError);
    expect((err as AwsUserError).code).toBe('NoSuchEntity');
    expect((err as Error).message).toContain('aws/roles/deploy');
    expect((err as Error).message).toContain(`Policy ${missing} does not exist`);
    expect(aws.calls.filter((c) => c.action === 'AttachUserPolicy')).toHaveLength(1);
    expect(credopsUsers(aws)).toEqual([]);
    expect(await t.state.listJournal()).toEqual([]);
    expect(await t.state.listLeases()).toEqual([]);
  });

  it('does not retry an IAM quota error (LimitExceeded), which the SDK would take for throttling', async () => {
    aws.faults.failNext('CreateAccessKey', 'LimitExceeded', 1);
    const { engine } = engineFor(aws, t);

    const err = await failure(engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' }));

    expect((err as AwsUserError).code).toBe('LimitExceeded');
    expect(aws.calls.filter((c) => c.action === 'CreateAccessKey')).toHaveLength(1);
    expect(credopsUsers(aws)).toEqual([]);
  });

  it('reports a malformed policy document with AWS message and the role', async () => {
    const bad = { Statement: [{ Effect: 'Maybe', Action: 's3:*', Resource: '*' }] } as unknown as PolicyDocument;
    await applyRoles(t.state, [role('deploy', { credential_types: ['iam_user'], policy_document: bad })]);
    const { engine } = engineFor(aws, t);

    const err = await failure(engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' }));

    expect((err as Error).message).toMatch(/^aws\/roles\/deploy PutUserPolicy: AWS MalformedPolicyDocument: /);
    expect(credopsUsers(aws)).toEqual([]);
  });

  it("checks AWS's limits before calling AWS", async () => {
    const arns = Array.from({ length: 21 }, (_, i) => `arn:aws:iam::aws:policy/P${i}`);
    const big: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: Array.from({ length: 100 }, (_, i) => `arn:aws:s3:::bucket-${i}/*`) }] };
    await applyRoles(t.state, [
      role('many-policies', { credential_types: ['iam_user'], policy_arns: arns }),
      role('big-policy', { credential_types: ['iam_user'], policy_document: big }),
      role('reserved-tag', { credential_types: ['iam_user'], iam_tags: { 'credops:lease': 'mine' } }),
    ]);
    const { engine } = engineFor(aws, t);
    aws.resetCalls();

    const issue = (r: string) => failure(engine.issue({ mount: 'aws', role: r, path: 'creds' }));
    const manyPolicies = await issue('many-policies');
    const bigPolicy = await issue('big-policy');
    const reserved = await issue('reserved-tag');

    expect(manyPolicies).toBeInstanceOf(UserError);
    expect(manyPolicies.message).toBe('aws/roles/many-policies: policy_arns has 21 entries; AWS allows at most 20 managed policies per IAM user');
    expect(bigPolicy.message).toMatch(/^aws\/roles\/big-policy: policy_document is \d+ characters \(whitespace not counted\); AWS allows at most 2048/);
    expect(reserved.message).toContain('iam_tags must not set "credops:lease"');
    expect(aws.calls).toEqual([]);
    expect(await t.state.listJournal()).toEqual([]);
  });

  it('fits a long role name into 64 characters with truncate, and refuses a template whose name AWS would refuse, as Vault does', async () => {
    const longName = 'a-very-long-role-name-that-on-its-own-nearly-fills-the-iam-limit';
    const fitting = '{{ printf "credops-%s-%s-%s-%s" .MountName (.RoleName | truncate 30) (unix_time) (random 8) }}';
    await applyRoles(t.state, [role(longName, { credential_types: ['iam_user'] })], [mount({ username_template: fitting })]);
    const { engine } = engineFor(aws, t);
    const cred = await engine.issue({ mount: 'aws', role: longName, path: 'creds' });
    const userName = cred.lease.resources.userName!;
    expect(userName).toMatch(/^credops-aws-a-very-long-role-name-that-on--\d{10}-[A-Za-z0-9]{8}$/);
    expect(aws.iam.user(userName)).toBeDefined();

    await applyRoles(t.state, [role(longName, { credential_types: ['iam_user'] })], [mount({ username_template: 'credops-{{mount}}-{{role}}-{{unix_time}}-{{random 8}}' })]);
    aws.resetCalls();
    const err = await failure(engine.issue({ mount: 'aws', role: longName, path: 'creds' }));
    expect(err.message).toMatch(/^the username generated by the template exceeds the IAM username length limits of 64 chars: "credops-aws-a-very-long/);
    expect(aws.calls).toEqual([]);
    expect(await t.state.listJournal()).toEqual([]);
  });

  it('refuses an unknown role the way Vault does, as a user error', async () => {
    const { engine } = engineFor(aws, t);
    await expect(engine.issue({ mount: 'aws', role: 'nope', path: 'creds' })).rejects.toThrow('role "nope" not found in mount "aws"');
    await expect(engine.issue({ mount: 'gcp', role: 'deploy', path: 'creds' })).rejects.toThrow('no mount "gcp" in the applied state; mounts: aws');
  });
});

describe('credops creds (CLI)', () => {
  it("prints Vault's table, and JSON shaped like vault read -format=json", async () => {
    const table = await runCli(aws, t, ['creds', 'deploy']);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    const rows = Object.fromEntries(
      table.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(/\s{4,}/) as [string, string]),
    );
    expect(Object.keys(rows)).toEqual(['Key', '---', 'lease_id', 'lease_duration', 'lease_renewable', 'access_key', 'secret_key', 'security_token', 'session_token']);
    expect(rows.lease_duration).toBe('768h');
    expect(rows.lease_renewable).toBe('true');
    expect(rows.security_token).toBe('<nil>');
    expect((await callerIdentity(aws, { accessKeyId: rows.access_key!, secretAccessKey: rows.secret_key! })).Arn).toContain('credops-deploy-');

    const json = await runCli(aws, t, ['creds', 'deploy', '--format', 'json']);
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout) as Record<string, unknown> & { data: Record<string, unknown> };
    // The envelope of `vault read -format=json`: renewable, as Vault prints it (its table says lease_renewable).
    expect(Object.keys(out)).toEqual(['request_id', 'lease_id', 'lease_duration', 'renewable', 'data', 'warnings']);
    expect(out.lease_duration).toBe(768 * 3600);
    expect(out.renewable).toBe(true);
    expect(out.warnings).toBeNull();
    expect(Object.keys(out.data)).toEqual(['access_key', 'secret_key', 'security_token', 'session_token']);
    expect(out.data.session_token).toBeNull();
    expect(await t.state.getLease(out.lease_id as string)).toBeDefined();
    expect(credopsUsers(aws)).toHaveLength(2);
  });

  it('exits 1 with one clear line for an unknown role', async () => {
    const r = await runCli(aws, t, ['creds', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: role "nope" not found in mount "aws" (roles are applied from git by credops reconcile)\n');
  });
});
