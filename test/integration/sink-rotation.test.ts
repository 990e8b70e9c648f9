/**
 * Story: a team publishes the `deploy` role's key to Secrets Manager. credops
 * keeps it fresh: before the lease ends it issues a new key, publishes it, and
 * revokes the old one only when the grace is over, so a consumer that read the
 * old key a moment before the switch keeps working.
 */
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/runtime.js';
import { asCred, deployRole, HOUR_MOUNT, MINUTE_MS, model, secretCredential, sink, eachSinkWorld, type SinkWorld } from '../reconcile/harness.js';
import { localAwsEnv } from '../support/aws/index.js';
import { callerIdentity, credopsUsers, mount, rejectionCode } from './helpers.js';

let w: SinkWorld;
eachSinkWorld((world) => (w = world));

const ciSink = (overrides = {}) => sink('ci-deploy', 'secretsmanager', { name: 'ci/deploy' }, { ttl: 3600, renew_before: 1200, grace: 300, ...overrides });

describe('a Secrets Manager sink is rotated with overlap', () => {
  it('publishes, stays idle while nothing is due, rotates before expiry, and revokes the old key when the grace ends', async () => {
    const desired = model('c1', [ciSink()]);
    const first = await w.reconcile(desired);
    expect(first.sinks).toMatchObject([{ sink: 'ci-deploy', outcome: 'issued', target: 'secretsmanager ci/deploy' }]);
    const key1 = secretCredential(w.aws, 'ci/deploy');
    expect(key1.lease_id).toBe(first.sinks[0]!.leaseId);
    expect((await callerIdentity(w.aws, asCred(key1))).Arn).toMatch(/:user\/.*deploy/);
    const secret = w.aws.secrets.get('ci/deploy')!;
    expect(Object.fromEntries(secret.tags.map((t) => [t.Key, t.Value]))).toMatchObject({
      'credops:managed': 'true',
      'credops:sink': 'ci-deploy',
      'credops:role': 'deploy',
      'credops:lease': key1.lease_id,
    });

    // Idempotent: nothing is due, so the second run writes nothing to AWS.
    w.aws.resetCalls();
    const second = await w.reconcile(desired);
    expect(second.sinks).toMatchObject([{ outcome: 'unchanged' }]);
    expect(w.writes()).toEqual([]);

    // 41 minutes in, the lease is inside its 20-minute renew_before; lease_max
    // is the lease, so it cannot be renewed: a new key is issued and published.
    w.aws.clock.advance(41 * MINUTE_MS);
    const third = await w.reconcile(desired);
    expect(third.sinks).toMatchObject([{ outcome: 'rotated', retired: [key1.lease_id] }]);
    const key2 = secretCredential(w.aws, 'ci/deploy');
    expect(key2.AccessKeyId).not.toBe(key1.AccessKeyId);
    expect(Object.fromEntries(w.aws.secrets.get('ci/deploy')!.tags.map((t) => [t.Key, t.Value]))['credops:lease']).toBe(key2.lease_id);

    // Both keys work during the grace.
    await callerIdentity(w.aws, asCred(key1));
    await callerIdentity(w.aws, asCred(key2));
    w.aws.clock.advance(4 * MINUTE_MS);
    const during = await w.reconcile(desired);
    expect(during.revoked).toEqual([]);
    await callerIdentity(w.aws, asCred(key1));

    // Grace over: the old key is revoked and refused; the new one works.
    w.aws.clock.advance(2 * MINUTE_MS);
    const after = await w.reconcile(desired);
    expect(after.revoked).toEqual([key1.lease_id]);
    expect(await rejectionCode(callerIdentity(w.aws, asCred(key1)))).toBe('InvalidClientTokenId');
    await callerIdentity(w.aws, asCred(key2));
    expect(credopsUsers(w.aws)).toHaveLength(1);
  });

  it('renews a renewable lease while lease_max allows it, writing only the new expiry to the secret', async () => {
    const desired = model('c1', [ciSink()], { mounts: [mount({ lease: 3600, lease_max: 3 * 3600 })] });
    const first = await w.reconcile(desired);
    const key1 = secretCredential(w.aws, 'ci/deploy');
    const leaseId = first.sinks[0]!.leaseId!;
    expect(key1.Expiration).toBe(new Date(first.sinks[0]!.expiresAt!).toISOString());

    // What a consumer reads after a renewal: the same key, and the renewed lease's expiry,
    // so an SDK honouring Expiration keeps using it. Only the secret's value is written.
    const expectRenewed = async (renewed: Awaited<ReturnType<SinkWorld['reconcile']>>) => {
      expect(renewed.sinks).toMatchObject([{ outcome: 'renewed', leaseId }]);
      const lease = (await w.t.state.getLease(leaseId))!;
      expect(renewed.sinks[0]!.expiresAt).toBe(lease.expiresAt);
      const now = secretCredential(w.aws, 'ci/deploy');
      expect(now).toEqual({ ...key1, Expiration: new Date(lease.expiresAt).toISOString() });
      expect(w.writes().map((c) => c.action)).toEqual(['PutSecretValue']);
      return lease;
    };

    w.aws.clock.advance(45 * MINUTE_MS);
    w.aws.resetCalls();
    const before = w.aws.clock.now();
    const renewed = await w.reconcile(desired);
    await expectRenewed(renewed);
    expect(renewed.sinks[0]!.expiresAt).toBeGreaterThanOrEqual(before + 3600_000);
    expect(renewed.sinks[0]!.expiresAt).toBeLessThanOrEqual(w.aws.clock.now() + 3600_000);
    expect(secretCredential(w.aws, 'ci/deploy').Expiration).not.toBe(key1.Expiration);

    // Idempotent: right after a renewal nothing is due and nothing is written.
    w.aws.resetCalls();
    expect((await w.reconcile(desired)).sinks).toMatchObject([{ outcome: 'unchanged' }]);
    expect(w.writes()).toEqual([]);

    // At 90 minutes: renewed again; at 130: renewed, but only up to lease_max (3h).
    w.aws.clock.advance(45 * MINUTE_MS);
    w.aws.resetCalls();
    await expectRenewed(await w.reconcile(desired));
    w.aws.clock.advance(40 * MINUTE_MS);
    w.aws.resetCalls();
    const lease = await expectRenewed(await w.reconcile(desired));
    expect(lease.expiresAt).toBe(lease.maxExpiresAt);

    // At 165, 15 minutes before lease_max, a renewal cannot leave the renewal window: rotate.
    w.aws.clock.advance(35 * MINUTE_MS);
    const rotated = await w.reconcile(desired);
    expect(rotated.sinks).toMatchObject([{ outcome: 'rotated' }]);
    expect(secretCredential(w.aws, 'ci/deploy').AccessKeyId).not.toBe(key1.AccessKeyId);
  });

  it('a renewal the secret cannot show (someone replaced its value) gives the sink a new key instead, with the grace', async () => {
    const desired = model('c1', [ciSink()], { mounts: [mount({ lease: 3600, lease_max: 3 * 3600 })] });
    const first = await w.reconcile(desired);
    const key1 = secretCredential(w.aws, 'ci/deploy');
    await w.clients.secretsManager({}).send(new PutSecretValueCommand({ SecretId: 'ci/deploy', SecretString: JSON.stringify({ ...key1, lease_id: 'aws/creds/deploy/someone-else' }) }));
    w.aws.clock.advance(45 * MINUTE_MS);
    const result = await w.reconcile(desired);
    expect(result.sinks).toMatchObject([{ outcome: 'rotated', retired: [first.sinks[0]!.leaseId] }]);
    expect(result.sinks[0]!.reason).toMatch(/renewed, but the sink still shows the old expiry .*does not hold lease aws\/creds\/deploy\/\S+ as credops published it/);
    expect(result.sinks[0]!.reason).not.toContain(key1.SecretAccessKey);
    const key2 = secretCredential(w.aws, 'ci/deploy');
    expect(key2.AccessKeyId).not.toBe(key1.AccessKeyId);
    expect(key2.lease_id).toBe(result.sinks[0]!.leaseId);
    await callerIdentity(w.aws, asCred(key1));
    await callerIdentity(w.aws, asCred(key2));
  });

  it('moving the sink to another secret publishes there, deletes the old secret and keeps the old key for the grace', async () => {
    await w.reconcile(model('c1', [ciSink()]));
    const key1 = secretCredential(w.aws, 'ci/deploy');
    const moved = await w.reconcile(model('c2', [sink('ci-deploy', 'secretsmanager', { name: 'ci/deploy-v2', recovery_window_days: 7 }, { grace: 300 })]));
    expect(moved.sinks).toMatchObject([{ outcome: 'rotated', reason: 'config changed', target: 'secretsmanager ci/deploy-v2' }]);
    const key2 = secretCredential(w.aws, 'ci/deploy-v2');
    expect(key2.AccessKeyId).not.toBe(key1.AccessKeyId);
    expect(w.aws.secrets.get('ci/deploy')?.deletedDate).toBeDefined();
    await callerIdentity(w.aws, asCred(key1));
    w.aws.clock.advance(6 * MINUTE_MS);
    await w.reconcile(model('c2', [sink('ci-deploy', 'secretsmanager', { name: 'ci/deploy-v2', recovery_window_days: 7 }, { grace: 300 })]));
    expect(await rejectionCode(callerIdentity(w.aws, asCred(key1)))).toBe('InvalidClientTokenId');
  });

  it('a change to the role policy gives the sink a new key carrying it', async () => {
    await w.reconcile(model('c1', [ciSink()]));
    const key1 = secretCredential(w.aws, 'ci/deploy');
    const wider = deployRole({ policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] } });
    const result = await w.reconcile(model('c2', [ciSink()], { roles: [wider] }));
    expect(result.sinks).toMatchObject([{ outcome: 'rotated', reason: 'role policy changed' }]);
    expect(secretCredential(w.aws, 'ci/deploy').AccessKeyId).not.toBe(key1.AccessKeyId);
  });

  it('credops status shows the lease, the next action and when, from the state alone', async () => {
    await w.reconcile(model('c1', [ciSink()], { mounts: [HOUR_MOUNT] }));
    w.aws.clock.advance(41 * MINUTE_MS);
    const rotated = await w.reconcile(model('c1', [ciSink()]));
    const out: string[] = [];
    const io: Io = {
      stdout: (s) => out.push(s),
      stderr: (s) => out.push(s),
      readStdin: async () => '',
      isTTY: false,
      env: { ...localAwsEnv(w.aws), CREDOPS_STATE: w.t.url },
      cwd: w.dir,
    };
    w.aws.resetCalls();
    const code = await main(['node', 'credops', 'status', '--format', 'json'], io);
    expect(code).toBe(0);
    expect(w.aws.calls).toEqual([]);
    const { sinks } = JSON.parse(out.join('')) as { sinks: Record<string, unknown>[] };
    expect(sinks).toHaveLength(1);
    // status reads real time; the lease was issued on the endpoint's (moved) clock.
    expect(sinks[0]).toMatchObject({
      name: 'ci-deploy',
      mount: 'aws',
      role: 'deploy',
      lease_id: rotated.sinks[0]!.leaseId,
      next_action: 'revoke-old',
      retiring: [{ lease_id: rotated.sinks[0]!.retired[0] }],
      last_error: null,
    });
    const table: string[] = [];
    await main(['node', 'credops', 'status'], { ...io, stdout: (s) => table.push(s) });
    expect(table.join('')).toMatch(/^SINK\s+ROLE\s+LEASE ID\s+ISSUED\s+EXPIRES\s+NEXT\s+WHEN\s+LAST ERROR\nci-deploy\s+aws\/deploy\s+aws\/creds\/deploy\/\S+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+\S+ \S+\s+revoke-old\s+in \d+m/);
  });
});
