/**
 * Story: an operator revokes one STS credential of each type while others of
 * the same role are in use. AWS refuses the revoked one (an explicit Deny on
 * the role or the root user, for that session only), the others keep working,
 * the deny list cleans itself up as sessions expire, and when credops may not
 * edit the role, the revoke still removes the lease and says what it could not do.
 */
import { readFileSync } from 'node:fs';
import { GetRolePolicyCommand, GetUserPolicyCommand, IAMClient, ListUsersCommand } from '@aws-sdk/client-iam';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { beforeEach, describe, expect, it } from 'vitest';
import { DENY_SLOT_MS, nextDenyList, REVOKED_SESSIONS_POLICY, statementExpiry, type PolicyDocument } from '../../src/engine/sts-revoke.js';
import { localAwsClientConfig } from '../support/aws/index.js';
import { eachTestWorld, applyRoles, callerIdentity, engineFor, rejectionCode, role, S3_READ, type LocalAws, type TempState } from './helpers.js';

type Cred = { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined };

let aws: LocalAws;
let t: TempState;

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(async () => {
  const deployer = aws.iam.createRole('deployer', { maxSessionDuration: 4 * 3600 }).arn;
  const crossAccount = aws.iam.createRole('ci', { accountId: '210987654321' }).arn;
  await applyRoles(t.state, [
    role('deploy', { credential_types: ['assumed_role'], role_arns: [deployer] }),
    role('cross', { credential_types: ['assumed_role'], role_arns: [crossAccount] }),
    role('fed', { credential_types: ['federation_token'], policy_document: S3_READ }),
    role('session', { credential_types: ['session_token'] }),
  ]);
});

function config(cred: Cred) {
  return { ...localAwsClientConfig(aws, { accessKeyId: cred.accessKeyId, secretAccessKey: cred.secretAccessKey, ...(cred.sessionToken ? { sessionToken: cred.sessionToken } : {}) }), maxAttempts: 1 };
}

async function listUsers(cred: Cred): Promise<unknown> {
  const iam = new IAMClient(config(cred));
  try {
    return await iam.send(new ListUsersCommand({}));
  } finally {
    iam.destroy();
  }
}

async function listSecrets(cred: Cred): Promise<unknown> {
  const sm = new SecretsManagerClient(config(cred));
  try {
    return await sm.send(new ListSecretsCommand({}));
  } finally {
    sm.destroy();
  }
}

/** Every aws:userid the deny list refuses. */
const deniedIds = (doc: PolicyDocument | undefined) =>
  (doc?.Statement ?? []).flatMap((s) => {
    const v = s.Condition?.['StringEquals']?.['aws:userid'];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  });

/** The deny list as AWS holds it, read as the root identity; undefined when the policy does not exist. */
async function denyList(kind: 'role' | 'user', name: string): Promise<PolicyDocument | undefined> {
  const iam = new IAMClient(config(aws.root));
  try {
    const out =
      kind === 'role'
        ? await iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: REVOKED_SESSIONS_POLICY }))
        : await iam.send(new GetUserPolicyCommand({ UserName: name, PolicyName: REVOKED_SESSIONS_POLICY }));
    return JSON.parse(decodeURIComponent(out.PolicyDocument!)) as PolicyDocument;
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchEntityException') return undefined;
    throw err;
  }
}

describe.each([
  { type: 'assumed_role', roleName: 'deploy', principal: ['role', 'deployer'] as const, calls: ['GetRole', 'GetRolePolicy', 'PutRolePolicy'] },
  { type: 'federation_token', roleName: 'fed', principal: ['user', 'credops-root'] as const, calls: ['GetUser', 'GetUserPolicy', 'PutUserPolicy'] },
  { type: 'session_token', roleName: 'session', principal: ['user', 'credops-root'] as const, calls: ['GetUser', 'GetUserPolicy', 'PutUserPolicy'] },
])('$type', ({ roleName, principal, calls }) => {
  it('refuses the revoked credential and nothing else', async () => {
    const { engine } = engineFor(aws, t);
    const revoked = await engine.issue({ mount: 'aws', role: roleName, path: 'sts', ttl: 900 });
    // Session tokens of one user differ only by issue time, which the Deny matches within a second.
    aws.clock.advance(3_000);
    const kept = await engine.issue({ mount: 'aws', role: roleName, path: 'sts', ttl: 900 });
    await listUsers(revoked);

    aws.resetCalls();
    const outcome = await engine.revoke(revoked.lease.leaseId);

    expect(aws.calls.map((c) => c.action)).toEqual(calls);
    expect(outcome).toEqual({ leaseId: revoked.lease.leaseId, invalidated: true, deniedBy: `${principal[0]} ${principal[1]}'s inline policy ${REVOKED_SESSIONS_POLICY}` });
    expect(await rejectionCode(listUsers(revoked))).toBe('AccessDenied');
    expect(await rejectionCode(listSecrets(revoked))).toBe('AccessDeniedException');
    // AWS documents that no Deny reaches GetCallerIdentity.
    await callerIdentity(aws, revoked);
    // The other session, and the root identity's long-term key, are untouched.
    await listUsers(kept);
    await listSecrets(kept);
    await listUsers(aws.root);
    expect((await denyList(principal[0], principal[1]))!.Statement).toHaveLength(1);
    expect(await t.state.getLease(revoked.lease.leaseId)).toBeUndefined();
  });
});

describe('the deny list', () => {
  it('drops the statements of expired sessions on the next revoke, and disappears when none is left', async () => {
    const { engine } = engineFor(aws, t);
    const first = await engine.issue({ mount: 'aws', role: 'deploy', path: 'sts', ttl: 900 });
    const second = await engine.issue({ mount: 'aws', role: 'deploy', path: 'sts', ttl: 3600 });
    const last = await engine.issue({ mount: 'aws', role: 'deploy', path: 'sts', ttl: 3600 });

    await engine.revoke(first.lease.leaseId);
    const [slot] = (await denyList('role', 'deployer'))!.Statement.map(statementExpiry);
    // A statement lives until the end of its 15-minute slot: never before its session expires.
    expect(slot).toBeGreaterThanOrEqual(first.lease.expiresAt);
    expect(slot).toBeLessThan(first.lease.expiresAt + DENY_SLOT_MS);

    aws.clock.advance(slot! - aws.clock.now() + 1_000);
    await engine.revoke(second.lease.leaseId);
    expect(deniedIds(await denyList('role', 'deployer'))).toEqual([second.lease.resources.sessionUserId]);
    expect(await rejectionCode(listUsers(second))).toBe('AccessDenied');

    // The last lease expires unrevoked; tidying it finds only expired statements and deletes the policy.
    aws.clock.advance(2 * 3600_000);
    expect(await engine.tidy()).toEqual({ revoked: [last.lease.leaseId], failed: [], stillValid: [] });
    expect(await denyList('role', 'deployer')).toBeUndefined();
  });

  it('keeps every one of 20 concurrent revocations on one role', async () => {
    const { engine } = engineFor(aws, t);
    const creds = [];
    for (let i = 0; i < 20; i++) creds.push(await engine.issue({ mount: 'aws', role: 'deploy', path: 'sts', ttl: 900 }));

    const result = await engine.revokePrefix('aws/sts/deploy', { concurrency: 20 });

    expect(result.failed).toEqual([]);
    expect(result.revoked).toHaveLength(20);
    expect(result.stillValid).toEqual([]);
    expect(new Set(deniedIds(await denyList('role', 'deployer')))).toEqual(new Set(creds.map((c) => c.lease.resources.sessionUserId)));
    for (const cred of creds) expect(await rejectionCode(listUsers(cred))).toBe('AccessDenied');
  });

  it("never grows past IAM's 2,048 characters for a user's inline policies: past that, revoke removes the lease and says the credential stays valid", async () => {
    const { engine } = engineFor(aws, t);
    const creds = [];
    for (let i = 0; i < 60; i++) creds.push(await engine.issue({ mount: 'aws', role: 'fed', path: 'sts', ttl: 900 }));

    const result = await engine.revokePrefix('aws/sts/fed/');

    expect(result.failed).toEqual([]);
    expect(result.revoked).toHaveLength(60);
    expect(await t.state.listLeases({ prefix: 'aws/sts/fed/' })).toEqual([]);
    // The first ones fit and are refused by AWS; the rest are reported as still valid, with the reason.
    expect(result.stillValid.length).toBeGreaterThan(0);
    expect(result.stillValid.length).toBeLessThan(60);
    const denied = creds.filter((c) => !result.stillValid.includes(c.lease.leaseId));
    expect(await rejectionCode(listUsers(denied[0]!))).toBe('AccessDenied');
    const valid = creds.find((c) => c.lease.leaseId === result.stillValid[0])!;
    expect(await rejectionCode(listUsers(valid))).toBe('');
    const size = JSON.stringify(await denyList('user', 'credops-root')).length;
    expect(size).toBeLessThanOrEqual(2048);
  });
});

describe('when credops may not edit the role', () => {
  it('removes the lease, says the credential stays valid until it expires and why', async () => {
    const { engine } = engineFor(aws, t);
    const cred = await engine.issue({ mount: 'aws', role: 'deploy', path: 'sts', ttl: 900 });
    aws.faults.failNext('PutRolePolicy', 'AccessDenied');

    const outcome = await engine.revoke(cred.lease.leaseId);

    expect(outcome).toMatchObject({ leaseId: cred.lease.leaseId, invalidated: false, validUntil: cred.lease.expiresAt });
    expect(outcome.reason).toContain("credops could not update role deployer's inline policy credops-revoked-sessions");
    expect(outcome.reason).toContain('AccessDenied');
    expect(await t.state.getLease(cred.lease.leaseId)).toBeUndefined();
    await listUsers(cred);
    const audit = readFileSync(t.auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { operation: string; details?: Record<string, unknown> });
    expect(audit.at(-1)).toMatchObject({ operation: 'revoke', details: { aws_credential_invalidated: false, aws_credential_valid_until: new Date(cred.lease.expiresAt).toISOString() } });
    expect(String(audit.at(-1)!.details!['note'])).toContain('stays valid until it expires: credops could not update');
  });
});

describe('a role in another account', () => {
  it('cannot carry a Deny credops places: the lease goes, and the outcome says why the credential stays valid', async () => {
    const { engine } = engineFor(aws, t);
    const cred = await engine.issue({ mount: 'aws', role: 'cross', path: 'sts', ttl: 900 });
    aws.resetCalls();

    const outcome = await engine.revoke(cred.lease.leaseId);

    expect(aws.calls.map((c) => c.action)).toEqual(['GetRole']);
    expect(outcome).toMatchObject({ invalidated: false, validUntil: cred.lease.expiresAt });
    expect(outcome.reason).toContain("not in the account of the mount's root identity");
    await listUsers(cred);
  });
});

describe('nextDenyList (pure)', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('adds once, keeps foreign statements, drops expired ones of ours, and empties to undefined', () => {
    const foreign = { Sid: 'Manual', Effect: 'Deny', Action: 's3:*', Resource: '*' };
    const one = nextDenyList({ Version: '2012-10-17', Statement: [foreign] }, { userId: 'AROAX:s1', expiresAt: now + 60_000 }, now)!;
    expect(nextDenyList(one, { userId: 'AROAX:s1', expiresAt: now + 60_000 }, now)).toEqual(one);
    expect(nextDenyList(one, undefined, now + DENY_SLOT_MS + 1)!.Statement).toEqual([foreign]);
    expect(nextDenyList({ Version: '2012-10-17', Statement: one.Statement.slice(1) }, undefined, now + DENY_SLOT_MS + 1)).toBeUndefined();
  });
  it('lists sessions of one expiry slot in one statement, without touching the document it was given', () => {
    const one = nextDenyList(undefined, { userId: 'AROAX:s1', expiresAt: now + 60_000 }, now)!;
    const before = JSON.stringify(one);
    const two = nextDenyList(one, { userId: 'AROAX:s2', expiresAt: now + 120_000 }, now)!;
    expect(JSON.stringify(one)).toBe(before);
    expect(two.Statement).toHaveLength(1);
    expect(deniedIds(two)).toEqual(['AROAX:s1', 'AROAX:s2']);
    expect(nextDenyList(two, { userId: 'AROAX:s3', expiresAt: now + DENY_SLOT_MS + 1 }, now)!.Statement).toHaveLength(2);
  });
  it('narrows a session token by its issue time, a second either side', () => {
    const doc = nextDenyList(undefined, { userId: 'AIDAX', expiresAt: now + 900_000, issuedAt: now }, now)!;
    expect(doc.Statement[0]!.Condition).toEqual({
      StringEquals: { 'aws:userid': 'AIDAX' },
      DateGreaterThanEquals: { 'aws:TokenIssueTime': '2025-12-31T23:59:59Z' },
      DateLessThanEquals: { 'aws:TokenIssueTime': '2026-01-01T00:00:01Z' },
    });
  });
});
