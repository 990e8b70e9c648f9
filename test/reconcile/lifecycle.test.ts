/**
 * The lifecycle's own rules, against the local endpoint: verification before
 * publishing, STS sinks, one sink failing alone, and the repair of a run that
 * stopped between issuing and recording.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nextDeadline, reconcileSinks, type SinkEvent } from '../../src/reconcile/lifecycle.js';
import type { SinkFactory } from '../../src/sinks/index.js';
import { sinkTypes } from '../../src/sinks/index.js';
import { callerIdentity, credopsUsers, role } from '../integration/helpers.js';
import { asCred, HOUR_MOUNT, MINUTE_MS, model, secretCredential, sink, sinkWorld, type SinkWorld } from './harness.js';

let w: SinkWorld;
let events: SinkEvent[];
beforeEach(async () => {
  w = await sinkWorld();
  events = [];
});
afterEach(async () => {
  await w.close();
});

async function run(desired: ReturnType<typeof model>, types: Record<string, SinkFactory> = sinkTypes) {
  await w.t.state.apply({ commit: desired.commit, roles: desired.roles, sinks: desired.sinks, mounts: Object.values(desired.config.mounts) });
  return reconcileSinks({ state: w.t.state, engine: w.engine, sinks: { clients: w.clients, cwd: w.dir }, clock: w.aws.clock, log: (e) => events.push(e), sinkTypes: types }, desired);
}

describe('the sink lifecycle', () => {
  it('publishes a new iam_user key only after AWS accepted it, unless verify is off', async () => {
    await run(model('c1', [sink('ci', 'secretsmanager', { name: 'ci/a' })]));
    const key = secretCredential(w.aws, 'ci/a').AccessKeyId;
    const calls = w.aws.calls.map((c) => `${c.action}:${c.accessKeyId}`);
    const verified = calls.indexOf(`GetCallerIdentity:${key}`);
    expect(verified).toBeGreaterThan(calls.findIndex((c) => c.startsWith('CreateAccessKey:')));
    expect(verified).toBeLessThan(calls.findIndex((c) => c.startsWith('CreateSecret:')));

    w.aws.resetCalls();
    await run(model('c2', [sink('ci', 'secretsmanager', { name: 'ci/a' }), sink('fast', 'secretsmanager', { name: 'ci/b' }, { verify: false })]));
    expect(w.aws.calls.filter((c) => c.action === 'GetCallerIdentity')).toEqual([]);
  });

  it('an STS sink gets AWS\'s expiration and session token, issued at sts/', async () => {
    const federated = role('fed', { credential_types: ['federation_token'], policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] } });
    const reports = await run(model('c1', [sink('sts', 'secretsmanager', { name: 'ci/sts' }, { role: 'fed', ttl: 900 })], { roles: [federated] }));
    expect(reports[0]!.leaseId).toMatch(/^aws\/sts\/fed\//);
    const cred = secretCredential(w.aws, 'ci/sts');
    expect(cred.SessionToken).toBeTruthy();
    expect(Date.parse(cred.Expiration)).toBeCloseTo(w.aws.clock.now() + 900_000, -4);
    await callerIdentity(w.aws, asCred(cred));
  });

  it('a sink that fails is reported alone; the others are published', async () => {
    const broken: SinkFactory = () => {
      throw new Error('cannot build this sink');
    };
    const reports = await run(
      model('c1', [sink('a', 'secretsmanager', { name: 'ci/a' }), sink('b', 'broken', {}), sink('c', 'file', { path: 'c.json', format: 'json' })]),
      { ...sinkTypes, broken },
    );
    expect(reports.map((r) => [r.sink, r.outcome, r.error])).toEqual([
      ['a', 'issued', undefined],
      ['b', 'failed', 'cannot build this sink'],
      ['c', 'issued', undefined],
    ]);
    expect(credopsUsers(w.aws)).toHaveLength(2);
    expect((await w.t.state.getSinkStatus('b'))?.lastError).toBe('cannot build this sink');
    expect(events.filter((e) => e.phase === 'done').map((e) => `${e.done}/${e.total} ${e.sink}`)).toEqual(['1/2 a', '2/2 c']);
  });

  it('a credential issued but never recorded (a run that died) is replaced, and kept for the grace', async () => {
    const desired = model('c1', [sink('ci', 'secretsmanager', { name: 'ci/a' })]);
    await run(desired);
    const held = secretCredential(w.aws, 'ci/a');
    const stray = await w.engine.issue({ mount: 'aws', role: 'deploy', path: 'creds', sink: 'ci' });
    const reports = await run(desired);
    expect(reports[0]).toMatchObject({ outcome: 'rotated', reason: 'an unrecorded credential of it is live' });
    expect(reports[0]!.retired.sort()).toEqual([held.lease_id, stray.lease.leaseId].sort());
    for (const id of reports[0]!.retired) expect((await w.t.state.getLease(id))?.revokeAt).toEqual(expect.any(Number));
    await callerIdentity(w.aws, asCred(held));
  });

  it('nextDeadline is the earliest renewal, grace end or expiry', async () => {
    const desired = model('c1', [sink('ci', 'secretsmanager', { name: 'ci/a' }, { renew_before: 600 })], { mounts: [HOUR_MOUNT] });
    expect(await nextDeadline(w.t.state, desired.sinks)).toBe(0);
    const [first] = await run(desired);
    expect(await nextDeadline(w.t.state, desired.sinks)).toBe(first!.expiresAt! - 600_000);
    w.aws.clock.advance(51 * MINUTE_MS);
    await run(desired);
    const retired = (await w.t.state.getLease(first!.leaseId!))!;
    expect(await nextDeadline(w.t.state, desired.sinks)).toBe(retired.revokeAt);
  });
});
