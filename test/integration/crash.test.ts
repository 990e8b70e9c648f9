/**
 * Story: `credops creds` is killed with SIGKILL right after each AWS call of an
 * iam_user issuance in turn. The next command (`credops lease list`) recovers
 * the journal, and no IAM user or access key is left that the state does not
 * know (DESIGN invariant 1). On both state backends.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS } from '../state/backends.js';
import { TEST_CRASH_AFTER_CALL_ENV } from '../../src/aws/clients.js';
import { LIVE_ISSUANCE_MS, ROLLBACK_MIN_AGE_MS } from '../../src/engine/journal.js';
import {
  eachTestWorld,
  applyRoles,
  credopsUsers,
  engineFor,
  role,
  runCli,
  S3_READ,
  type LocalAws,
  type TempState,
} from './helpers.js';

describe.each(BACKENDS.map((make) => [make().name, make] as const))('%s state', (_name, make) => {
  let aws: LocalAws;
  let t: TempState;

  /** CreateUser, PutUserPolicy, AttachUserPolicy, AddUserToGroup, CreateAccessKey. */
  const ISSUANCE_CALLS = 5;

  /** A journal entry of an iam_user issuance of role deploy, written now: what a run records before CreateUser. */
  const deployUserEntry = (id: string, lease: string, userName: string) => ({
    id,
    leaseId: `aws/creds/deploy/${lease}`,
    mount: 'aws',
    role: 'deploy',
    kind: 'iam_user',
    data: { userName },
    createdAt: aws.clock.now(),
  });

  const backend = make();
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());
  // A killed run's DynamoDB lock is taken over once it expired: a short TTL keeps the test short.
  eachTestWorld((w) => ({ aws, t } = w), { stateUrl: async () => (backend.name === 'sqlite' ? undefined : `${await backend.newUrl()}&lock_ttl=1s`) });

  beforeEach(async () => {
    aws.iam.createGroup('developers');
    const readOnly = aws.iam.createManagedPolicy('ReadOnly').arn;
    await applyRoles(t.state, [role('deploy', { credential_types: ['iam_user'], policy_document: S3_READ, policy_arns: [readOnly], iam_groups: ['developers'] })]);
  });

  /** Every credops-made user and key in AWS must belong to a lease in the state. */
  async function assertNoOrphans(): Promise<void> {
    const leases = await t.state.listLeases();
    const knownUsers = new Set(leases.map((l) => l.resources.userName));
    const knownKeys = new Set(leases.map((l) => l.resources.accessKeyId));
    expect(credopsUsers(aws).map((u) => u.userName).filter((name) => !knownUsers.has(name))).toEqual([]);
    const keys = aws.iam.accessKeys().filter((k) => k.userName !== aws.root.userName);
    expect(keys.map((k) => k.accessKeyId).filter((id) => !knownKeys.has(id))).toEqual([]);
  }

  describe('a kill -9 during issuance leaves no orphan', () => {
    it(
      'rolls back after a crash following each AWS call in turn',
      async () => {
        for (let n = 1; n <= ISSUANCE_CALLS; n++) {
          aws.resetCalls();
          const crashed = await runCli(aws, t, ['creds', 'deploy'], { [TEST_CRASH_AFTER_CALL_ENV]: String(n) });

          expect(crashed.signal, `crash after call ${n}`).toBe('SIGKILL');
          expect(crashed.stdout).toBe('');
          expect(aws.calls.filter((c) => c.status === 200)).toHaveLength(n);
          // The crash really left something behind for recovery to find.
          expect(credopsUsers(aws)).toHaveLength(1);
          expect(await t.state.listJournal()).toHaveLength(1);
          expect(await t.state.listLeases()).toEqual([]);

          const list = await runCli(aws, t, ['lease', 'list']);

          expect(list.code).toBe(0);
          expect(list.stderr).toContain('1 interrupted issuance rolled back');
          expect(list.stdout).toBe('No leases found.\n');
          expect(await t.state.listJournal()).toEqual([]);
          expect(credopsUsers(aws)).toEqual([]);
          await assertNoOrphans();
        }

        // With no crash, the issuance completes and the state knows everything.
        const done = await runCli(aws, t, ['creds', 'deploy'], { [TEST_CRASH_AFTER_CALL_ENV]: String(ISSUANCE_CALLS + 1) });
        expect(done.code).toBe(0);
        expect(await t.state.listLeases()).toHaveLength(1);
        expect(await t.state.listJournal()).toEqual([]);
        await assertNoOrphans();
      },
      120_000,
    );

    it('keeps a young entry whose user IAM does not show yet, and forgets it once old enough', async () => {
      // A crash between the journal write and CreateUser, or an IAM that has not
      // caught up: the entry names a user AWS says does not exist.
      await t.state.putJournal(deployUserEntry('crashed-before-create', 'AAAAAAAAAAAAAAAAAAAAAAAA', 'credops-deploy-1700000000-abcdefgh'));
      const { engine } = engineFor(aws, t);

      expect(await engine.recover()).toEqual({ rolledBack: 0, completed: 0, pending: 1, failed: [], rootKeysDeleted: [] });
      expect(await t.state.listJournal()).toHaveLength(1);

      // Meanwhile IAM shows the user after all: the next run deletes it.
      aws.iam.createUser('credops-deploy-1700000000-abcdefgh');
      aws.iam.createAccessKey('credops-deploy-1700000000-abcdefgh');
      expect(await engine.recover()).toEqual({ rolledBack: 1, completed: 0, pending: 0, failed: [], rootKeysDeleted: [] });
      expect(credopsUsers(aws)).toEqual([]);

      await t.state.putJournal(deployUserEntry('never-created', 'BBBBBBBBBBBBBBBBBBBBBBBB', 'credops-deploy-1700000001-abcdefgh'));
      aws.clock.advance(ROLLBACK_MIN_AGE_MS + 1000);
      expect(await engine.recover()).toEqual({ rolledBack: 1, completed: 0, pending: 0, failed: [], rootKeysDeleted: [] });
      expect(await t.state.listJournal()).toEqual([]);
    });

    it("leaves a server issuance's entry alone while it may still be running, and rolls it back after", async () => {
      // credops server issues without the lock: its entry says how long it may take (LIVE_ISSUANCE_MS).
      await t.state.putJournal({ ...deployUserEntry('in-flight', 'DDDDDDDDDDDDDDDDDDDDDDDD', 'credops-deploy-1700000003-abcdefgh'), liveUntil: aws.clock.now() + LIVE_ISSUANCE_MS });
      aws.iam.createUser('credops-deploy-1700000003-abcdefgh');
      const { engine } = engineFor(aws, t);
      expect(await engine.needsRecovery()).toBe(false);
      expect(await engine.recover()).toEqual({ rolledBack: 0, completed: 0, pending: 0, failed: [], rootKeysDeleted: [] });
      expect(credopsUsers(aws)).toHaveLength(1);

      // The issuance did not finish in time (the server died): the next recovery deletes what it made.
      aws.clock.advance(LIVE_ISSUANCE_MS + 1000);
      expect(await engine.needsRecovery()).toBe(true);
      expect(await engine.recover()).toEqual({ rolledBack: 1, completed: 0, pending: 0, failed: [], rootKeysDeleted: [] });
      expect(credopsUsers(aws)).toEqual([]);
    });

    it('keeps an entry whose rollback fails, and reports it, so the next run retries', async () => {
      await t.state.putJournal(deployUserEntry('half-done', 'CCCCCCCCCCCCCCCCCCCCCCCC', 'credops-deploy-1700000002-abcdefgh'));
      aws.iam.createUser('credops-deploy-1700000002-abcdefgh');
      aws.faults.failNext('ListAccessKeys', 'AccessDenied', 1);
      const { engine } = engineFor(aws, t);

      const first = await engine.recover();
      expect(first.failed).toHaveLength(1);
      expect(first.failed[0]!.error).toContain('AWS AccessDenied');
      expect(await t.state.listJournal()).toHaveLength(1);

      expect((await engine.recover()).rolledBack).toBe(1);
      expect(credopsUsers(aws)).toEqual([]);
    });
  });
});
