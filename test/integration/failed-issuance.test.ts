/**
 * Story: issuances fail half-way, as they do in real accounts (a group that
 * does not exist, a least-privilege root that may not list what was added out
 * of band, an answer lost after AWS applied the call), and every failure and
 * every retry leaves nothing behind in AWS that the state does not know
 * (DESIGN invariant 1).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { AwsUserError } from '../../src/errors.js';
import { ROLLBACK_MIN_AGE_MS } from '../../src/engine/journal.js';
import { deleteOrphans, findOrphans } from '../../src/engine/orphans.js';
import { applyRoles, credopsUsers, eachTestWorld, engineFor, failure, manualClock, role, S3_READ, type LocalAws, type TempState } from './helpers.js';

let aws: LocalAws;
let t: TempState;

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(async () => {
  aws.iam.createGroup('developers');
  const readOnly = aws.iam.createManagedPolicy('ReadOnly').arn;
  await applyRoles(t.state, [
    role('deploy', { credential_types: ['iam_user'], policy_document: S3_READ, policy_arns: [readOnly], iam_groups: ['developers'] }),
    role('missing-group', { credential_types: ['iam_user'], policy_document: S3_READ, iam_groups: ['deployers'] }),
  ]);
});

/** Keys in AWS that no lease of the state holds (root's aside). */
async function unknownKeys(): Promise<string[]> {
  const known = new Set((await t.state.listLeases()).map((l) => l.resources.accessKeyId));
  return aws.iam
    .accessKeys()
    .filter((k) => k.userName !== aws.root.userName && !known.has(k.accessKeyId))
    .map((k) => k.accessKeyId);
}

/** The optional cleanup calls Vault's least-privilege root may not make. */
const OPTIONAL = ['DeleteLoginProfile', 'ListMFADevices', 'ListSSHPublicKeys', 'ListSigningCertificates', 'ListServiceSpecificCredentials'];

describe('a failed issuance undoes exactly what it did', () => {
  it('a role whose group does not exist, issued five times, leaves no user and no journal entry', async () => {
    const { engine } = engineFor(aws, t);
    for (let i = 0; i < 5; i++) {
      const err = await failure(engine.issue({ mount: 'aws', role: 'missing-group', path: 'creds' }));
      expect(err).toBeInstanceOf(AwsUserError);
      expect(err.message).toContain('AddUserToGroup');
      expect(err.message).toContain('NoSuchEntity');
    }
    expect(credopsUsers(aws)).toEqual([]);
    expect(await t.state.listJournal()).toEqual([]);
    // The undo used only calls issuance itself needs: no listing at all.
    expect(aws.calls.filter((c) => c.action.startsWith('List'))).toEqual([]);
  });

  it('an issuance AWS refused at CreateUser leaves no journal entry', async () => {
    const { engine } = engineFor(aws, t);
    aws.faults.failNext('CreateUser', 'AccessDenied');
    await failure(engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' }));
    expect(await t.state.listJournal()).toEqual([]);
    expect((await engine.recover()).pending).toBe(0);
  });

  it('an issuance that cannot sign a request (no credentials) leaves no journal entry', async () => {
    const { engine } = engineFor(aws, t, { env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'credops-test-none' } });
    await failure(engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' }));
    expect(await t.state.listJournal()).toEqual([]);
    expect(credopsUsers(aws)).toEqual([]);
  });
});

describe('out-of-band cleanup is best effort', () => {
  for (const operation of OPTIONAL) {
    for (const code of ['AccessDenied', 'InternalFailure']) {
      it(`${operation} answering ${code}: revoke, recovery and tidy still delete every user`, async () => {
        const { engine, clients } = engineFor(aws, t);
        // Revoke: an extra key added out of band makes DeleteUser conflict, so the full cleanup runs.
        const cred = await engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' });
        aws.iam.createAccessKey(cred.lease.resources.userName!);
        // Recovery: a crashed issuance's user, known only to the journal.
        const crashed = aws.iam.createUser('credops-deploy-crashed').userName;
        aws.iam.createAccessKey(crashed);
        await t.state.putJournal({ id: 'j1', leaseId: 'aws/creds/deploy/crashed', mount: 'aws', role: 'deploy', kind: 'iam_user', data: { userName: crashed }, createdAt: Date.now() - ROLLBACK_MIN_AGE_MS });
        // Tidy: a user with credops's tags that the state does not know.
        const orphan = aws.iam.createUser('credops-deploy-orphan').userName;
        aws.iam.tagUser(orphan, [{ Key: 'credops:mount', Value: 'aws' }]);
        aws.iam.createLoginProfile(orphan);

        aws.faults.failNext(operation, code, 1000);
        await engine.revoke(cred.lease.leaseId);
        expect((await engine.recover()).rolledBack).toBe(1);
        const orphans = await findOrphans({ state: t.state, clients });
        expect(orphans.map((o) => o.userName)).toEqual([orphan]);
        if (operation === 'DeleteLoginProfile') {
          // The login profile really is there, and may not be removed: DeleteUser says so, naming the permission.
          const result = await deleteOrphans({ state: t.state, clients, clock: aws.clock }, orphans);
          expect(result.failed[0]?.error).toMatch(/cannot be deleted.*DeleteLoginProfile \((AccessDenied: grant iam:DeleteLoginProfile|InternalFailure)\)/);
          aws.faults.clear();
        }
        const result = await deleteOrphans({ state: t.state, clients, clock: aws.clock }, await findOrphans({ state: t.state, clients }));
        expect(result.failed).toEqual([]);
        expect(credopsUsers(aws)).toEqual([]);
      });
    }
  }
});

describe('a create whose answer is lost is resolved by reading what exists', () => {
  for (const action of ['CreateUser', 'PutUserPolicy', 'AttachUserPolicy', 'AddUserToGroup', 'CreateAccessKey']) {
    for (const how of ['ServiceUnavailable', 'reset']) {
      it(`${action} applied, answer lost (${how}): exactly the keys the state knows`, async () => {
        const { engine } = engineFor(aws, t);
        aws.faults.loseResponse(action, how);
        const cred = await engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' });
        expect(credopsUsers(aws).map((u) => u.userName)).toEqual([cred.lease.resources.userName]);
        expect(aws.iam.accessKeys().filter((k) => k.userName === cred.lease.resources.userName).map((k) => k.accessKeyId)).toEqual([cred.accessKeyId]);
        expect(await unknownKeys()).toEqual([]);
        expect(await t.state.listJournal()).toEqual([]);
      });
    }
  }

  it('CreateAccessKey applied and then failing for good: the undo finds and deletes the key nobody holds', async () => {
    const { engine } = engineFor(aws, t);
    aws.faults.loseResponse('CreateAccessKey', 'ServiceUnavailable', 10);
    await failure(engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' }));
    expect(credopsUsers(aws)).toEqual([]);
    expect(await unknownKeys()).toEqual([]);
    expect(await t.state.listJournal()).toEqual([]);
  });
});

describe('eventual consistency', () => {
  it('keeps a journal entry whose user IAM does not show yet, then rolls it back', async () => {
    const clock = manualClock(aws.clock.now());
    const { engine } = engineFor(aws, t, { clock });
    // The user exists, but for four minutes IAM answers NoSuchEntity about it.
    const hidden = aws.iam.createUser('credops-deploy-hidden').userName;
    aws.faults.set({ userPropagationMs: 4 * 60_000 });
    await t.state.putJournal({ id: 'j2', leaseId: 'aws/creds/deploy/hidden', mount: 'aws', role: 'deploy', kind: 'iam_user', data: { userName: hidden }, createdAt: clock.now() });

    expect(await engine.recover()).toMatchObject({ pending: 1, rolledBack: 0 });
    expect(await t.state.listJournal()).toHaveLength(1);

    aws.clock.advance(4 * 60_000);
    clock.advance(4 * 60_000);
    expect(await engine.recover()).toMatchObject({ pending: 0, rolledBack: 1 });
    expect(credopsUsers(aws)).toEqual([]);
    expect(await t.state.listJournal()).toEqual([]);
  });
});
